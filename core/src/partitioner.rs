//! Partition choice for keyed records, identical to Kafka's Java client
//! (`Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions`), so a Silt producer
//! and a Kafka producer put the same key in the same partition.

/// Kafka's murmur2 hash of `key` (seed `0x9747b28c`), as a signed 32-bit value.
pub fn kafka_murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, murmur2::KAFKA_SEED) as i32
}

/// The partition Kafka's default partitioner picks for `key` among `partitions`.
///
/// `partitions` must be at least 1.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    debug_assert!(partitions > 0);
    let positive = (kafka_murmur2(key) & 0x7fff_ffff) as u32;
    positive % partitions.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from Kafka's own `UtilsTest.testMurmur2`.
    #[test]
    fn matches_kafka_reference_values() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (key, expected) in cases {
            assert_eq!(
                kafka_murmur2(key),
                expected,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn partition_is_positive_hash_modulo_count() {
        // -973932308 & 0x7fffffff = 1173551340; 1173551340 % 16 = 12.
        assert_eq!(partition_for_key(b"21", 16), 12);
        for partitions in 1..50 {
            assert!(partition_for_key(b"foobar", partitions) < partitions);
        }
    }
}
