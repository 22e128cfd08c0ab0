//! The Iceberg pieces on their own: manifests round-trip through Avro, field ids stay
//! stable across schema changes and reach the Parquet files, and snapshot expiry keeps
//! what the retention asks for. PyIceberg reads all of it end to end in
//! tests/e2e/iceberg.rs.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::json;
use silt_core::schema::ValueSchema;
use silt_reader::table::{TableRow, rows_to_typed_batch, table_schema_for};

use super::avro::{self, DataFile, Entry, ManifestFile, ManifestHeader, Status};
use super::model::{
    DAY_SPEC_ID, Snapshot, SnapshotLogEntry, TableMetadata, UNPARTITIONED_SPEC_ID, day_of,
    partition_specs,
};
use super::schema::{Ids, annotate, evolve, name_mapping, retype};

fn data_file(path: &str, spec_id: i32, day: Option<i32>) -> DataFile {
    DataFile {
        path: path.to_owned(),
        size: 1234,
        record_count: 42,
        spec_id,
        day,
        lower_bounds: vec![
            (1, 0i32.to_le_bytes().to_vec()),
            (2, 5i64.to_le_bytes().to_vec()),
        ],
        upper_bounds: vec![
            (1, 3i32.to_le_bytes().to_vec()),
            (2, 99i64.to_le_bytes().to_vec()),
        ],
    }
}

#[test]
fn manifests_and_manifest_lists_round_trip() {
    for (spec_id, day) in [(DAY_SPEC_ID, Some(20_000)), (UNPARTITIONED_SPEC_ID, None)] {
        let entries: Vec<Entry> = [Status::Added, Status::Existing, Status::Deleted]
            .into_iter()
            .enumerate()
            .map(|(i, status)| Entry {
                status,
                snapshot_id: 7 + i as i64,
                sequence_number: 3,
                file_sequence_number: 2,
                file: data_file(&format!("s3://b/tables/t/{i}.parquet"), spec_id, day),
            })
            .collect();
        let header = ManifestHeader {
            schema_json: r#"{"type":"struct","schema-id":0,"fields":[]}"#,
            schema_id: 0,
            spec_id,
            spec_json: "[]",
        };
        let bytes = avro::write_manifest(&header, &entries).expect("write");
        assert_eq!(avro::read_manifest(&bytes, spec_id).expect("read"), entries);
        // Iceberg's readers need the field ids and the header keys.
        let text = String::from_utf8_lossy(&bytes);
        for needle in [
            "\"field-id\":102",
            "\"logicalType\":\"map\"",
            "partition-spec-id",
            "format-version",
        ] {
            assert!(text.contains(needle), "{needle} missing");
        }
    }
    let manifests = vec![
        ManifestFile {
            path: "s3://b/m0.avro".into(),
            length: 10,
            spec_id: DAY_SPEC_ID,
            sequence_number: 4,
            min_sequence_number: 1,
            added_snapshot_id: 9,
            added_files: 1,
            existing_files: 2,
            deleted_files: 0,
            added_rows: 5,
            existing_rows: 6,
            deleted_rows: 0,
            days: Some((19_000, 19_002)),
        },
        ManifestFile {
            path: "s3://b/m1.avro".into(),
            length: 3,
            spec_id: UNPARTITIONED_SPEC_ID,
            sequence_number: 4,
            min_sequence_number: 4,
            added_snapshot_id: 9,
            added_files: 0,
            existing_files: 0,
            deleted_files: 1,
            added_rows: 0,
            existing_rows: 0,
            deleted_rows: 8,
            days: None,
        },
    ];
    let bytes = avro::write_manifest_list(9, Some(8), 4, &manifests).expect("write");
    assert_eq!(avro::read_manifest_list(&bytes).expect("read"), manifests);
    assert!(String::from_utf8_lossy(&bytes).contains("parent-snapshot-id"));
}

#[test]
fn a_damaged_manifest_is_an_error_not_a_panic() {
    let header = ManifestHeader {
        schema_json: "{}",
        schema_id: 0,
        spec_id: DAY_SPEC_ID,
        spec_json: "[]",
    };
    let entry = Entry {
        status: Status::Added,
        snapshot_id: 1,
        sequence_number: 1,
        file_sequence_number: 1,
        file: data_file("s3://b/x.parquet", DAY_SPEC_ID, Some(1)),
    };
    let bytes = avro::write_manifest(&header, &[entry]).expect("write");
    for cut in [0, 4, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            avro::read_manifest(&bytes[..cut], DAY_SPEC_ID).is_err(),
            "{cut}"
        );
        assert!(avro::read_manifest_list(&bytes[..cut]).is_err(), "{cut}");
    }
}

fn schema_of(json: serde_json::Value) -> ValueSchema {
    ValueSchema::parse(&json).expect("schema")
}

fn metadata_with(schema: super::model::Schema, last_column_id: i32) -> TableMetadata {
    TableMetadata {
        format_version: 2,
        table_uuid: "u".into(),
        location: "s3://b/tables/t".into(),
        last_sequence_number: 0,
        last_updated_ms: 0,
        last_column_id,
        current_schema_id: schema.schema_id,
        schemas: vec![schema],
        default_spec_id: DAY_SPEC_ID,
        partition_specs: partition_specs(),
        last_partition_id: 1000,
        default_sort_order_id: 0,
        sort_orders: Vec::new(),
        properties: BTreeMap::new(),
        current_snapshot_id: None,
        snapshots: Vec::new(),
        snapshot_log: Vec::new(),
        metadata_log: Vec::new(),
        refs: BTreeMap::new(),
    }
}

#[test]
fn field_ids_are_stable_and_a_retyped_column_gets_a_new_one() {
    let first = schema_of(json!({"type": "object", "properties": {
        "amount": {"type": "integer"}, "city": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}}}}));
    let mut ids = Ids::new(None);
    let fields = ids.fields(&table_schema_for(Some(&first))).expect("fields");
    let id = |fields: &[super::model::NestedField], name: &str| {
        fields
            .iter()
            .find(|field| field.name == name)
            .map(|field| field.id)
    };
    assert_eq!(id(&fields, "partition"), Some(1));
    assert_eq!(id(&fields, "timestamp"), Some(3));
    assert_eq!(id(&fields, "_rejected"), Some(11));
    let (schema, changed) = evolve(None, fields.clone());
    assert!(changed);
    let metadata = metadata_with(schema, ids.last_column_id());
    // The same columns: the same schema, unchanged.
    let again = Ids::new(Some(&metadata))
        .fields(&table_schema_for(Some(&first)))
        .expect("fields");
    assert_eq!(again, fields);
    assert!(!evolve(Some(&metadata), again).1);

    // amount retyped, city kept, country added.
    let second = schema_of(json!({"type": "object", "properties": {
        "amount": {"type": "string"}, "city": {"type": "string"},
        "country": {"type": "string"}}}));
    let mut next_ids = Ids::new(Some(&metadata));
    let evolved = next_ids
        .fields(&table_schema_for(Some(&second)))
        .expect("fields");
    assert_eq!(id(&evolved, "city"), id(&fields, "city"));
    assert!(id(&evolved, "amount") > Some(metadata.last_column_id));
    assert!(id(&evolved, "country") > Some(metadata.last_column_id));
    assert_ne!(id(&evolved, "amount"), id(&evolved, "country"));
    let (schema, changed) = evolve(Some(&metadata), evolved);
    assert!(changed);
    assert_eq!(schema.schema_id, 1);

    // Old files without ids find their columns by name, a list's element as `item` too.
    let mapping = name_mapping(&fields).to_string();
    assert!(
        mapping.contains(r#""names":["element","item"]"#),
        "{mapping}"
    );
}

#[test]
fn written_files_carry_the_field_ids() {
    let value_schema = schema_of(json!({"type": "object", "properties": {
        "address": {"type": "object", "properties": {"city": {"type": "string"}}}}}));
    let plain = table_schema_for(Some(&value_schema));
    let mut ids = Ids::new(None);
    let fields = ids.fields(&plain).expect("fields");
    let annotated = annotate(&plain, &fields).expect("annotate");
    let rows = vec![TableRow {
        partition: 0,
        offset: 7,
        record: silt_core::record::StoredRecord {
            attributes: silt_core::record::ATTR_VALUE_JSON,
            timestamp: 1,
            key: None,
            value: bytes::Bytes::from_static(br#"{"address": {"city": "Oslo"}}"#),
            headers: vec![(
                bytes::Bytes::from_static(b"h"),
                Some(bytes::Bytes::from_static(b"v")),
            )],
            encoded_len: 0,
        },
    }];
    let batch = rows_to_typed_batch(&rows, Some(&value_schema)).expect("batch");
    let typed = retype(&batch, &annotated).expect("retype");
    let mut writer = ArrowWriter::try_new(Vec::new(), Arc::clone(&annotated), None).expect("w");
    writer.write(&typed).expect("write");
    let bytes = bytes::Bytes::from(writer.into_inner().expect("close"));
    let reader = SerializedFileReader::new(bytes).expect("read");
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut seen: Vec<(String, i32)> = schema
        .columns()
        .iter()
        .map(|column| {
            (
                column.path().string(),
                column.self_type().get_basic_info().id(),
            )
        })
        .collect();
    seen.sort();
    let city = seen
        .iter()
        .find(|(path, _)| path == "address.city")
        .map(|(_, id)| *id);
    assert!(city.is_some_and(|id| id > 11), "{seen:?}");
    assert!(seen.contains(&("partition".to_owned(), 1)), "{seen:?}");
    assert!(
        seen.contains(&("headers.list.item.name".to_owned(), 8)),
        "{seen:?}"
    );
    // A schema mismatch is an error, not a panic.
    let wrong = Arc::new(arrow_schema::Schema::new(vec![Field::new(
        "partition",
        DataType::Int32,
        false,
    )]));
    assert!(annotate(&wrong, &fields[1..2]).is_err());
}

fn snapshot(id: i64, parent: Option<i64>) -> Snapshot {
    Snapshot {
        snapshot_id: id,
        parent_snapshot_id: parent,
        sequence_number: id,
        timestamp_ms: id * 1000,
        manifest_list: format!("s3://b/snap-{id}.avro"),
        summary: BTreeMap::from([("operation".to_owned(), "append".to_owned())]),
        schema_id: 0,
    }
}

#[test]
fn snapshots_expire_after_their_retention_and_the_current_one_never() {
    let (schema, _) = evolve(None, Vec::new());
    let mut metadata = metadata_with(schema, 11);
    metadata.snapshots = vec![
        snapshot(1, None),
        snapshot(2, Some(1)),
        snapshot(3, Some(2)),
    ];
    metadata.snapshot_log = (1..=3)
        .map(|id| SnapshotLogEntry {
            snapshot_id: id,
            timestamp_ms: id * 1000,
        })
        .collect();
    metadata.current_snapshot_id = Some(3);
    // Snapshot 1 was replaced at 2000, snapshot 2 at 3000.
    let mut kept = metadata.clone();
    assert!(!super::maintain::expire(&mut kept, 3500, 1500));
    assert_eq!(kept.snapshots.len(), 3);
    assert!(super::maintain::expire(&mut kept, 3500, 1000));
    let ids: Vec<i64> = kept.snapshots.iter().map(|s| s.snapshot_id).collect();
    assert_eq!(ids, vec![2, 3]);
    assert_eq!(kept.snapshots[0].parent_snapshot_id, None);
    assert_eq!(kept.snapshot_log.len(), 2);
    assert!(super::maintain::expire(&mut kept, 10_000, 0));
    assert_eq!(kept.current_snapshot().map(|s| s.snapshot_id), Some(3));
    assert_eq!(kept.snapshots.len(), 1);
}

#[test]
fn days_are_utc_and_negative_times_round_down() {
    assert_eq!(day_of(0), 0);
    assert_eq!(day_of(86_399_999), 0);
    assert_eq!(day_of(86_400_000), 1);
    assert_eq!(day_of(-1), -1);
    assert_eq!(day_of(i64::MIN), i32::MIN);
}
