//! Fetch: whole stored chunks served as Kafka record batches (encoded once, kept in the
//! chunk cache), compacted ranges read from Parquet, long-polls in the coordinator.

use silt_core::security::{Operation, ResourceType};
use std::time::Duration;

use bytes::Bytes;
use futures::future::{join_all, select_all};
use kafka_protocol::messages::{
    BrokerId, FetchRequest, FetchResponse, ProducerId, TopicName, fetch_response,
};
use silt_core::coordinator::{CoordinatorError, EntryFormat, IndexEntry, PartitionOffsets};
use silt_core::segment::{KAFKA_CHUNK_VERSION, serve_kafka_chunk};
use silt_core::transactions::{Isolation, TxnOutcome};
use silt_reader::FetchRequest as ReadRequest;
use silt_reader::ViewCost;

use crate::metrics::Metrics;

use super::batch;
use super::codes::error_code;
use super::context::Scope;
use super::context::partition_number;

/// One partition of a fetch, as read: record batches, each ready to send, the
/// partition's offsets, and (for `read_committed`) the aborted transactions among the
/// batches.
pub(super) struct PartitionRead {
    index: i32,
    result: Result<(Vec<Bytes>, PartitionOffsets), CoordinatorError>,
    aborted: AbortedTransactions,
}

/// The name under which a chunk's Kafka record batch is kept in the chunk cache.
/// (v3: batches written by Silt, keeping null values and header values.)
pub(super) const KAFKA_BATCH_VIEW: &str = "kafka-v3";

/// Index lookups one partition's fetch may make.
pub(super) const MAX_FETCH_LOOKUPS: usize = 8;

pub(super) fn read_error(error: silt_reader::ReadError) -> CoordinatorError {
    match error {
        silt_reader::ReadError::Coordinator(error) => error,
        other => CoordinatorError::Unavailable(other.to_string()),
    }
}

/// Reads whole stored chunks from the one holding `offset` on, each as one Kafka record
/// batch, as a broker returns the batches that hold the offset (clients skip the
/// records before it). A chunk is encoded once and kept in the chunk cache, so every
/// fetch inside it is served the same bytes without decoding or encoding. Compacted
/// (Parquet) ranges are read from `offset` on and encoded for the fetch.
///
/// Batches are added while they fit in `max_bytes`; the first may exceed it only when
/// `first_may_exceed` (KIP-74: the first batch of a response, so a consumer always
/// progresses). With `max_bytes` 0 only the partition's offsets are read.
pub(super) async fn read_partition(
    context: &Scope<'_>,
    topic: &str,
    index: i32,
    offset: i64,
    max_bytes: usize,
    first_may_exceed: bool,
    isolation: Isolation,
) -> PartitionRead {
    let mut aborted = AbortedTransactions::default();
    let result = async {
        context.require(Operation::Read, ResourceType::Topic, topic)?;
        let partition = partition_number(index)?;
        let offset = u64::try_from(offset)
            .map_err(|_| CoordinatorError::InvalidArgument(format!("offset {offset}")))?;
        let coordinator = &context.state.coordinator;
        let mut batches = Vec::new();
        let mut bytes = 0;
        let mut next = offset;
        let mut offsets = None;
        // The chunk after the ones this fetch fills up with, in another segment: the
        // next fetch will want it, so a catch-up reads it ahead.
        let mut ahead = None;
        'lookups: for _ in 0..MAX_FETCH_LOOKUPS {
            let lookup = coordinator
                .lookup(topic, partition, next, LOOKUP_ENTRIES)
                .await?;
            offsets.get_or_insert(lookup.offsets);
            let end = lookup.offsets.readable_end(isolation);
            for (position, entry) in lookup.entries.iter().enumerate() {
                let next_segment = || {
                    lookup.entries[position + 1..]
                        .iter()
                        .find(|later| {
                            later.object_key != entry.object_key && later.base_offset < end
                        })
                        .cloned()
                };
                if entry.base_offset >= end {
                    break 'lookups;
                }
                if entry.base_offset > next {
                    return Err(CoordinatorError::Internal(format!(
                        "index gap: expected offset {next}, next entry starts at {}",
                        entry.base_offset
                    )));
                }
                if max_bytes == 0 && !first_may_exceed {
                    break 'lookups;
                }
                let fits = |batches: &Vec<Bytes>, bytes: usize, batch: &Bytes| {
                    bytes + batch.len() <= max_bytes || (batches.is_empty() && first_may_exceed)
                };
                if entry.format == EntryFormat::Parquet {
                    if batches.is_empty() {
                        let (batch, _) =
                            read_compacted(context, topic, partition, next, max_bytes, isolation)
                                .await?;
                        batches.extend(batch.filter(|batch| fits(&batches, bytes, batch)));
                    }
                    break 'lookups;
                }
                let batch = match entry.format {
                    EntryFormat::Marker => marker_batch(entry),
                    _ => chunk_batch(context, entry, topic, partition, next).await?,
                };
                if !fits(&batches, bytes, &batch) {
                    ahead = next_segment();
                    break 'lookups;
                }
                if isolation == Isolation::ReadCommitted {
                    aborted.note(entry);
                }
                bytes += batch.len();
                batches.push(batch);
                next = entry.end_offset();
                if bytes >= max_bytes {
                    ahead = next_segment();
                    break 'lookups;
                }
            }
            if lookup.entries.is_empty() || next >= end {
                break;
            }
        }
        let offsets = offsets.ok_or_else(|| CoordinatorError::Internal("no lookup".into()))?;
        if let Some(ahead) = ahead {
            context.state.reader.read_ahead(&ahead, topic);
        }
        Ok((batches, offsets))
    }
    .await;
    PartitionRead {
        index,
        result,
        aborted,
    }
}

/// The aborted transactions among a partition's batches, as a `read_committed` fetch
/// lists them: each once, at its first offset read, however many batches it has (a
/// client drops one from its list per abort marker it reads).
#[derive(Default)]
pub(super) struct AbortedTransactions {
    /// (producer id, first offset)
    listed: Vec<(i64, i64)>,
    /// Producers whose listed transaction's marker has not been read yet.
    open: Vec<i64>,
}

impl AbortedTransactions {
    fn note(&mut self, entry: &IndexEntry) {
        let Some(txn) = entry.txn.filter(|txn| txn.outcome == TxnOutcome::Aborted) else {
            return;
        };
        let open = self.open.contains(&txn.producer_id);
        if entry.format == EntryFormat::Marker {
            self.open
                .retain(|producer_id| *producer_id != txn.producer_id);
        } else if !open {
            self.open.push(txn.producer_id);
            self.listed
                .push((txn.producer_id, entry.base_offset as i64));
        }
    }

    fn response(&self) -> Vec<fetch_response::AbortedTransaction> {
        self.listed
            .iter()
            .map(|(producer_id, first_offset)| {
                let mut transaction = fetch_response::AbortedTransaction::default();
                transaction.producer_id = ProducerId(*producer_id);
                transaction.first_offset = *first_offset;
                transaction
            })
            .collect()
    }
}

/// A transaction's commit or abort marker as a Kafka control batch.
fn marker_batch(entry: &IndexEntry) -> Bytes {
    let (producer_id, epoch, commit) = entry.txn.map_or((-1, -1, false), |txn| {
        (
            txn.producer_id,
            i16::try_from(txn.epoch).unwrap_or(i16::MAX),
            txn.outcome == TxnOutcome::Committed,
        )
    });
    batch::encode::BatchWriter::marker(
        entry.base_offset as i64,
        producer_id,
        epoch,
        commit,
        entry.max_timestamp,
    )
}

/// Partitions of a fetch read at once.
pub(super) const FETCH_WAVE: usize = 8;

/// Index entries asked for per lookup of a fetch.
pub(super) const LOOKUP_ENTRIES: u32 = 16;

/// A segment chunk as Kafka record batches from the one holding `from` on. A chunk of
/// batches kept as producers sent them is served as stored, its base offsets set; a
/// chunk of records encoded by Silt becomes one batch (base offset = the chunk's first
/// offset), from the chunk cache or encoded now and kept there.
pub(super) async fn chunk_batch(
    context: &Scope<'_>,
    entry: &IndexEntry,
    topic: &str,
    partition: u32,
    from: u64,
) -> Result<Bytes, CoordinatorError> {
    let reader = &context.state.reader;
    let metrics = &context.state.metrics;
    let (key, at, len) = (&entry.object_key, entry.byte_offset, entry.byte_len);
    let encoded = || async {
        let batch = reader
            .cache()
            .get_view(key, at, len, KAFKA_BATCH_VIEW)
            .await;
        if batch.is_some() {
            Metrics::add(&metrics.kafka_batch_cache_hits, 1);
        }
        batch
    };
    let frame = match reader.cache().get(key, at, len).await {
        Some(frame) => frame,
        None => {
            // An encoded batch may outlive its chunk in the cache.
            if let Some(batch) = encoded().await {
                return Ok(batch);
            }
            reader
                .read_missed_frame_with_retries(entry, topic, partition)
                .await
                .map_err(read_error)?
        }
    };
    let kept_as_sent = frame.first() == Some(&KAFKA_CHUNK_VERSION);
    if !kept_as_sent && let Some(batch) = encoded().await {
        return Ok(batch);
    }
    let chunk = silt_reader::Reader::checked_chunk(entry, &frame).map_err(read_error)?;
    if chunk.version == KAFKA_CHUNK_VERSION {
        Metrics::add(&metrics.kafka_chunks_served_as_sent, 1);
        return serve_kafka_chunk(&chunk.payload, entry.base_offset, from)
            .map_err(|error| CoordinatorError::Internal(format!("{key}#{at}: {error}")));
    }
    let records = chunk
        .records()
        .enumerate()
        .map(|(position, record)| {
            record.map(|record| (entry.base_offset + position as u64, record))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| CoordinatorError::Internal(format!("{key}#{at}: {error}")))?;
    let producer = entry.txn.map(|txn| {
        (
            txn.producer_id,
            i16::try_from(txn.epoch).unwrap_or(i16::MAX),
        )
    });
    let batch = encode_batches(records.into_iter(), None, producer);
    Metrics::add(&metrics.kafka_batches_encoded, 1);
    reader.cache().insert_view(
        key,
        at,
        len,
        KAFKA_BATCH_VIEW,
        ViewCost::Rebuilt,
        batch.clone(),
    );
    Ok(batch)
}

/// Records of a compacted range from `offset` on, as batches that end where the read
/// ended, so that a consumer steps over offsets a key compaction removed (none at the
/// end).
pub(super) async fn read_compacted(
    context: &Scope<'_>,
    topic: &str,
    partition: u32,
    offset: u64,
    max_bytes: usize,
    isolation: Isolation,
) -> Result<(Option<Bytes>, PartitionOffsets), CoordinatorError> {
    let fetched = context
        .state
        .reader
        .fetch(&ReadRequest {
            topic: topic.to_owned(),
            partition,
            offset,
            max_records: 10_000,
            max_bytes,
            isolation,
        })
        .await
        .map_err(read_error)?;
    if fetched.next_offset <= offset {
        return Ok((None, fetched.offsets));
    }
    let batch = encode_batches(
        fetched
            .records
            .into_iter()
            .map(|fetched| (fetched.offset, fetched.record)),
        Some((offset, fetched.next_offset)),
        None,
    );
    Ok((Some(batch), fetched.offsets))
}

/// Stored records as uncompressed v2 record batches, one after the other: a new batch
/// starts where the timestamp type changes, and for each log-append time (a batch of
/// a LogAppendTime topic has one, its max timestamp). With `covered` (`first..end`),
/// the last batch ends at `end - 1` whatever its last record, and an empty read is one
/// empty batch over the range. With `producer` (id, epoch), the batches are a
/// transaction's.
pub(super) fn encode_batches(
    records: impl Iterator<Item = (u64, silt_core::record::StoredRecord)>,
    covered: Option<(u64, u64)>,
    producer: Option<(i64, i16)>,
) -> Bytes {
    use batch::encode::BatchWriter;
    let stamped = |writer: BatchWriter| match producer {
        Some((producer_id, epoch)) => writer.transactional(producer_id, epoch),
        None => writer,
    };
    let mut out = bytes::BytesMut::new();
    let mut writer = stamped(BatchWriter::new());
    for (offset, record) in records {
        let log_append_time = record.log_append_time();
        let same = writer.is_log_append_time() == log_append_time
            && (!log_append_time || writer.max_timestamp() == record.timestamp);
        if !same {
            let previous = std::mem::replace(
                &mut writer,
                stamped(if log_append_time {
                    BatchWriter::log_append_time()
                } else {
                    BatchWriter::new()
                }),
            );
            if !previous.is_empty() {
                out.extend_from_slice(&previous.finish());
            }
        }
        writer.push(
            offset as i64,
            record.timestamp,
            record.key.as_deref(),
            record.kafka_value().map(|value| &value[..]),
            record
                .headers
                .iter()
                .map(|(name, value)| (&name[..], value.as_deref())),
        );
    }
    if let Some((first, end)) = covered
        && end > first
    {
        writer.cover(first as i64, end as i64 - 1);
    }
    if !writer.is_empty() || covered.is_some_and(|(first, end)| end > first) {
        out.extend_from_slice(&writer.finish());
    }
    out.freeze()
}

/// A topic of a fetch request: its name, as text and as sent, and the (partition,
/// offset, max bytes) asked for.
pub(super) type WantedTopic = (String, TopicName, Vec<(i32, i64, usize)>);

/// Reads every requested partition; when nothing is there yet and the client is willing
/// to wait, waits (up to `max_wait_ms`) for any of them to grow, then reads again.
pub(super) async fn fetch(
    context: &Scope<'_>,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let wanted: Vec<WantedTopic> = request
        .topics
        .iter()
        .map(|topic| {
            (
                topic.topic.0.as_str().to_owned(),
                topic.topic.clone(),
                topic
                    .partitions
                    .iter()
                    .map(|partition| {
                        (
                            partition.partition,
                            partition.fetch_offset,
                            usize::try_from(partition.partition_max_bytes).unwrap_or(1 << 20),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    // KIP-74: the response holds at most `max_bytes` (v3+), but its first batch may
    // exceed it. Partitions are read in request order, a few at a time, each within
    // what is left, so a request for many partitions never holds more than a few
    // partitions' worth beyond its limit.
    let isolation = if version >= 4 {
        Isolation::from_kafka(request.isolation_level)
    } else {
        Isolation::ReadUncommitted
    };
    let max_bytes = if version >= 3 {
        usize::try_from(request.max_bytes).unwrap_or(0)
    } else {
        usize::MAX
    };
    let read_all = || async {
        let mut reads: Vec<Vec<PartitionRead>> = Vec::new();
        let mut left = max_bytes;
        let mut any = false;
        for (name, _, partitions) in &wanted {
            let mut topic_reads = Vec::new();
            for wave in partitions.chunks(FETCH_WAVE) {
                let read = join_all(wave.iter().map(|(index, offset, partition_max)| {
                    read_partition(
                        context,
                        name,
                        *index,
                        *offset,
                        (*partition_max).min(left),
                        !any,
                        isolation,
                    )
                }))
                .await;
                // Read at once, a wave's partitions may together pass what is left:
                // keep, in order, what fits.
                for mut partition in read {
                    if let Ok((batches, _)) = &mut partition.result {
                        let mut kept = 0;
                        for batch in batches.iter() {
                            if batch.len() > left && any {
                                break;
                            }
                            left = left.saturating_sub(batch.len());
                            any = true;
                            kept += 1;
                        }
                        batches.truncate(kept);
                    }
                    topic_reads.push(partition);
                }
            }
            reads.push(topic_reads);
        }
        reads
    };
    let mut reads = read_all().await;
    let found: usize = reads
        .iter()
        .flatten()
        .map(|read| read.result.as_ref().map_or(0, |(batches, _)| batches.len()))
        .sum();
    let max_wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms)
            .unwrap_or(0)
            .min(context.state.config.max_wait_ms),
    );
    if found == 0 && !max_wait.is_zero() {
        let waits: Vec<_> = wanted
            .iter()
            .flat_map(|(name, _, partitions)| {
                partitions.iter().filter_map(move |(index, offset, _)| {
                    let partition = u32::try_from(*index).ok()?;
                    let offset = u64::try_from(*offset).ok()?;
                    Some(Box::pin(async move {
                        context
                            .state
                            .coordinator
                            .wait_for_records(name, partition, offset, isolation, max_wait)
                            .await
                    }))
                })
            })
            .collect();
        if !waits.is_empty() {
            tokio::select! {
                _ = tokio::time::timeout(max_wait, select_all(waits)) => reads = read_all().await,
                // Shutting down: answer now with what there is (nothing).
                () = context.state.stopping() => {}
            }
        }
    }
    let mut response = FetchResponse::default();
    for ((_, name, _), partitions) in wanted.iter().zip(reads) {
        let mut topic = fetch_response::FetchableTopicResponse::default();
        topic.topic = name.clone();
        for read in partitions {
            let mut partition = fetch_response::PartitionData::default();
            partition.partition_index = read.index;
            partition.preferred_read_replica = BrokerId(-1);
            match read.result {
                Ok((batches, offsets)) => {
                    partition.high_watermark = offsets.high_watermark as i64;
                    partition.last_stable_offset = offsets.last_stable_offset() as i64;
                    if isolation == Isolation::ReadCommitted {
                        partition.aborted_transactions = Some(read.aborted.response());
                    }
                    if version >= 5 {
                        partition.log_start_offset = offsets.log_start_offset as i64;
                    }
                    // No data is an empty record set, never null: clients reject a
                    // null one.
                    partition.records = Some(match batches.len() {
                        0 => Bytes::new(),
                        1 => batches.into_iter().next().unwrap_or_default(),
                        _ => batches.concat().into(),
                    });
                }
                Err(error) => {
                    partition.records = Some(Bytes::new());
                    partition.error_code = error_code(&error);
                    partition.high_watermark = -1;
                }
            }
            topic.partitions.push(partition);
        }
        response.responses.push(topic);
    }
    response
}
