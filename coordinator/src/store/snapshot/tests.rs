//! The snapshot layout: rows written as arrays of their columns, read back by name or
//! by position, and the restore rules.

use super::*;

fn snapshot() -> Snapshot {
    Snapshot {
        format: SNAPSHOT_FORMAT,
        taken_at_ms: 5,
        topics: vec![TopicRow {
            topic_id: 3,
            name: "orders".into(),
            partitions: 2,
            retention_ms: Some(1000),
            retention_bytes: None,
            created_at_ms: 1,
            value_schema: None,
        }],
        producers: vec![ProducerRow {
            producer_id: 40,
            epoch: 1,
            last_sequence: 2,
            last_topic_id: Some(3),
            last_chunks: "[]".into(),
            updated_at_ms: 4,
        }],
        groups: vec![GroupRow {
            group_name: "g".into(),
            generation: 2,
        }],
        group_offsets: vec![
            GroupOffsetRow {
                group_name: "g".into(),
                topic_id: 3,
                partition: 0,
                committed_offset: 7,
                updated_at_ms: 1,
            },
            GroupOffsetRow {
                group_name: "g".into(),
                topic_id: 99,
                partition: 0,
                committed_offset: 7,
                updated_at_ms: 1,
            },
        ],
        group_offset_metadata: vec![GroupOffsetMetadataRow {
            group_name: "g".into(),
            topic_id: 3,
            partition: 0,
            metadata: "m".into(),
            leader_epoch: Some(4),
        }],
        ..Snapshot::default()
    }
}

#[test]
fn rows_are_written_as_arrays_in_column_order() {
    let json = serde_json::to_value(snapshot()).expect("encode");
    assert_eq!(
        json["topics"][0],
        serde_json::json!([3, "orders", 2, 1000, null, 1, null])
    );
    assert_eq!(
        json["group_offset_metadata"][0],
        serde_json::json!(["g", 3, 0, "m", 4])
    );
    let back: Snapshot = serde_json::from_value(json).expect("decode");
    assert_eq!(back, snapshot());
}

#[test]
fn a_snapshot_of_the_first_layout_still_reads() {
    // Written before Kafka sequences and commit metadata existed.
    let old = serde_json::json!({
        "format": 1, "taken_at_ms": 9,
        "topics": [[1, "t", 1, null, null, 0, null]],
        "partitions": [[1, 0, 0, 5]],
        "segments": [[1, "k", 10, 0, "[]", 0]],
        "index_entries": [[1, 0, 0, 5, 1, 0, 10, 0, 0, 0]],
        "producers": [], "groups": [], "group_offsets": []
    });
    let snapshot: Snapshot = serde_json::from_value(old).expect("decode");
    assert_eq!(snapshot.index_entries[0].segment_id, 1);
    assert_eq!(snapshot.index_entries[0].byte_len, 10);
    assert!(snapshot.kafka_sequences.is_empty());
    assert!(snapshot.restore_plan().is_ok());
}

#[test]
fn a_restore_leaves_out_offsets_of_deleted_topics_and_joins_their_metadata() {
    let plan = snapshot().restore_plan().expect("plan");
    let offsets = plan
        .tables
        .iter()
        .find(|table| table.table == "group_offsets")
        .expect("offsets");
    assert_eq!(
        offsets.columns,
        vec![
            "group_name",
            "topic_id",
            "partition",
            "committed_offset",
            "updated_at_ms",
            "metadata",
            "leader_epoch"
        ]
    );
    assert_eq!(offsets.rows.len(), 1, "topic 99 is gone");
    assert_eq!(offsets.rows[0][5], Cell::Text("m".into()));
    assert_eq!(offsets.rows[0][6], Cell::Int(4));
    assert_eq!(plan.next_producer_id, 40 + RESTORED_PRODUCER_ID_GAP);
    assert_eq!(plan.next_topic_id, 4);
    let topics = &plan.tables[0];
    assert_eq!(
        topics.insert_sql(|position| format!("${position}")),
        "INSERT INTO topics (topic_id, name, partitions, retention_ms, retention_bytes, created_at_ms, value_schema) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    );
}

#[test]
fn an_unknown_format_is_refused() {
    let mut future = snapshot();
    future.format = 99;
    let error = future.restore_plan().expect_err("refused").to_string();
    assert!(error.contains("snapshot format 99"), "{error}");
}

#[test]
fn cells_of_the_wrong_kind_are_refused() {
    let error = TopicRow::from_cells(vec![Cell::Text("x".into())]).expect_err("refused");
    assert!(error.to_string().contains("topic_id"), "{error}");
    let tables = vec![Vec::new(); 8];
    assert!(Snapshot::from_tables(0, tables).is_err(), "nine tables");
}

/// Snapshots are read from the bucket: mutated snapshot files (bytes flipped, inserted,
/// cut) parse or fail, and what parses plans a restore or fails, never panics. The
/// snapshot holds every table, security's included.
#[test]
fn mutated_snapshot_files_fail_cleanly() {
    let mut full = snapshot();
    full.users = vec![UserRow {
        name: "alice".into(),
        mechanism: "SCRAM-SHA-256".into(),
        salt: "c2FsdA==".into(),
        iterations: 4096,
        stored_key: "a2V5".into(),
        server_key: "a2V5".into(),
        created_ms: 1,
    }];
    full.api_keys = vec![ApiKeyRow {
        key_id: "k".into(),
        principal: "User:alice".into(),
        secret_sha256: "00".repeat(32),
        description: String::new(),
        created_ms: 1,
        expires_ms: None,
        revoked_ms: Some(2),
    }];
    full.acls = vec![AclRow {
        principal: "User:alice".into(),
        host: "*".into(),
        resource_type: "TOPIC".into(),
        resource_name: "orders".into(),
        pattern_type: "LITERAL".into(),
        operation: "READ".into(),
        permission: "ALLOW".into(),
    }];
    let text = serde_json::to_vec(&full).expect("json");
    let back: Snapshot = serde_json::from_slice(&text).expect("round trip");
    assert_eq!(back, full);
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for _ in 0..5000 {
        let mut bytes = text.clone();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if at < bytes.len() => bytes[at] = next() as u8,
                1 => bytes.insert(at, b"0123456789-\"[]{},:"[(next() % 18) as usize]),
                _ => bytes.truncate(at.max(1)),
            }
        }
        if let Ok(snapshot) = serde_json::from_slice::<Snapshot>(&bytes) {
            parsed += 1;
            let _ = snapshot.restore_plan();
        }
    }
    assert!(
        parsed > 0,
        "no mutation parsed: the test would not reach restore_plan"
    );
}
