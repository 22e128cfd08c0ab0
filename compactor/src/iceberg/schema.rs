//! A topic's columns as an Iceberg schema with stable field ids, and the same ids written
//! into the Parquet files (`PARQUET:field_id`), so engines read each column by id and a
//! column whose type changed gets a new id instead of being misread.
//!
//! The fixed columns have fixed ids; a typed column keeps the id it had in any earlier
//! schema of the table with the same path and type, and a new or retyped one gets the
//! next unused id.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, make_array};
use arrow_data::ArrayData;
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema, SchemaRef};
use serde_json::{Value, json};

use super::model::{ListType, NestedField, Schema, StructType, TIMESTAMP_ID, TableMetadata, Type};

/// Ids of the fixed columns, by path (`.element` for a list's element).
const FIXED_IDS: &[(&str, i32)] = &[
    ("partition", 1),
    ("offset", 2),
    ("timestamp", TIMESTAMP_ID),
    ("key", 4),
    ("value", 5),
    ("headers", 6),
    ("headers.element", 7),
    ("headers.element.name", 8),
    ("headers.element.value", 9),
    ("attributes", 10),
    ("_rejected", 11),
];
/// The highest fixed id: typed columns start after it.
const LAST_FIXED_ID: i32 = 11;
pub const PARQUET_FIELD_ID: &str = "PARQUET:field_id";

/// Assigns ids to a table's columns given its earlier schemas.
pub struct Ids {
    known: HashMap<(String, String), i32>,
    last: i32,
}

impl Ids {
    pub fn new(previous: Option<&TableMetadata>) -> Ids {
        let mut known = HashMap::new();
        let mut last = LAST_FIXED_ID;
        if let Some(metadata) = previous {
            last = last.max(metadata.last_column_id);
            for schema in &metadata.schemas {
                remember(&mut known, "", &schema.fields);
            }
        }
        Ids { known, last }
    }

    pub fn last_column_id(&self) -> i32 {
        self.last
    }

    fn id(&mut self, path: &str, kind: &str) -> i32 {
        if let Some((_, id)) = FIXED_IDS.iter().find(|(fixed, _)| *fixed == path) {
            return *id;
        }
        if let Some(id) = self.known.get(&(path.to_owned(), kind.to_owned())) {
            return *id;
        }
        self.last += 1;
        self.known
            .insert((path.to_owned(), kind.to_owned()), self.last);
        self.last
    }

    /// The Iceberg fields of an Arrow table schema.
    pub fn fields(&mut self, schema: &ArrowSchema) -> Result<Vec<NestedField>, ArrowError> {
        schema
            .fields()
            .iter()
            .map(|field| self.field("", field))
            .collect()
    }

    fn field(&mut self, parent: &str, field: &Field) -> Result<NestedField, ArrowError> {
        let path = join(parent, field.name());
        let kind = self.kind(&path, field.data_type())?;
        Ok(NestedField {
            id: self.id(&path, kind_name(&kind)),
            name: field.name().clone(),
            required: !field.is_nullable(),
            kind,
        })
    }

    fn kind(&mut self, path: &str, data_type: &DataType) -> Result<Type, ArrowError> {
        let primitive = |name: &str| Ok(Type::Primitive(name.to_owned()));
        match data_type {
            DataType::Int8 | DataType::Int16 | DataType::Int32 => primitive("int"),
            DataType::Int64 => primitive("long"),
            DataType::Float32 => primitive("float"),
            DataType::Float64 => primitive("double"),
            DataType::Boolean => primitive("boolean"),
            DataType::Utf8 => primitive("string"),
            DataType::Binary => primitive("binary"),
            DataType::Timestamp(_, None) => primitive("timestamp"),
            DataType::Timestamp(_, Some(_)) => primitive("timestamptz"),
            DataType::Struct(children) => Ok(Type::Struct(StructType {
                kind: "struct".to_owned(),
                fields: children
                    .iter()
                    .map(|child| self.field(path, child))
                    .collect::<Result<_, _>>()?,
            })),
            DataType::List(item) => {
                let element_path = join(path, "element");
                let element = self.kind(&element_path, item.data_type())?;
                Ok(Type::List(ListType {
                    kind: "list".to_owned(),
                    element_id: self.id(&element_path, kind_name(&element)),
                    element_required: !item.is_nullable(),
                    element: Box::new(element),
                }))
            }
            other => Err(ArrowError::SchemaError(format!(
                "column {path} has type {other}, which Iceberg tables of Silt do not map"
            ))),
        }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn kind_name(kind: &Type) -> &str {
    match kind {
        Type::Primitive(name) => name,
        Type::Struct(_) => "struct",
        Type::List(_) => "list",
    }
}

fn remember(known: &mut HashMap<(String, String), i32>, parent: &str, fields: &[NestedField]) {
    for field in fields {
        let path = join(parent, &field.name);
        remember_kind(known, &path, field.id, &field.kind);
    }
}

fn remember_kind(known: &mut HashMap<(String, String), i32>, path: &str, id: i32, kind: &Type) {
    known.insert((path.to_owned(), kind_name(kind).to_owned()), id);
    match kind {
        Type::Primitive(_) => {}
        Type::Struct(inner) => remember(known, path, &inner.fields),
        Type::List(list) => remember_kind(
            known,
            &join(path, "element"),
            list.element_id,
            &list.element,
        ),
    }
}

/// The schema to make current: `fields` under the current schema's id when they are the
/// same, else under a new id.
pub fn evolve(previous: Option<&TableMetadata>, fields: Vec<NestedField>) -> (Schema, bool) {
    if let Some(current) = previous.and_then(TableMetadata::current_schema)
        && current.fields == fields
    {
        return (current.clone(), false);
    }
    let schema_id = previous
        .map(|metadata| {
            metadata
                .schemas
                .iter()
                .map(|schema| schema.schema_id)
                .max()
                .unwrap_or(-1)
                + 1
        })
        .unwrap_or(0);
    (
        Schema {
            kind: "struct".to_owned(),
            schema_id,
            fields,
        },
        true,
    )
}

/// `schema` with each field's Iceberg id in its metadata, as the Parquet writer wants it.
pub fn annotate(schema: &ArrowSchema, fields: &[NestedField]) -> Result<SchemaRef, ArrowError> {
    let annotated = annotate_fields(schema.fields(), fields)?;
    Ok(Arc::new(ArrowSchema::new_with_metadata(
        annotated,
        schema.metadata().clone(),
    )))
}

/// The fields of one struct level, which must be the Iceberg fields' in order.
fn annotate_fields(
    arrow: &arrow_schema::Fields,
    fields: &[NestedField],
) -> Result<Vec<Field>, ArrowError> {
    if arrow.len() != fields.len()
        || arrow
            .iter()
            .zip(fields)
            .any(|(field, iceberg)| field.name() != &iceberg.name)
    {
        return Err(ArrowError::SchemaError(format!(
            "the columns {:?} are not the Iceberg fields {:?}",
            arrow.iter().map(|field| field.name()).collect::<Vec<_>>(),
            fields.iter().map(|field| &field.name).collect::<Vec<_>>()
        )));
    }
    arrow
        .iter()
        .zip(fields)
        .map(|(field, iceberg)| annotate_field(field, iceberg.id, &iceberg.kind))
        .collect()
}

fn annotate_field(field: &Field, id: i32, kind: &Type) -> Result<Field, ArrowError> {
    let data_type = match (field.data_type(), kind) {
        (DataType::Struct(children), Type::Struct(inner)) => {
            DataType::Struct(annotate_fields(children, &inner.fields)?.into())
        }
        (DataType::List(item), Type::List(list)) => DataType::List(Arc::new(annotate_field(
            item,
            list.element_id,
            &list.element,
        )?)),
        (data_type, Type::Primitive(_)) => data_type.clone(),
        (data_type, _) => {
            return Err(ArrowError::SchemaError(format!(
                "column {} ({data_type}) does not match its Iceberg type",
                field.name()
            )));
        }
    };
    let mut metadata = field.metadata().clone();
    metadata.insert(PARQUET_FIELD_ID.to_owned(), id.to_string());
    Ok(Field::new(field.name(), data_type, field.is_nullable()).with_metadata(metadata))
}

/// `batch` under `schema`, which differs from the batch's only in field metadata.
pub fn retype(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            Ok(make_array(retype_data(
                column.to_data(),
                field.data_type(),
            )?))
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

fn retype_data(data: ArrayData, target: &DataType) -> Result<ArrayData, ArrowError> {
    let children = match target {
        DataType::List(item) => data
            .child_data()
            .iter()
            .map(|child| retype_data(child.clone(), item.data_type()))
            .collect::<Result<Vec<_>, _>>()?,
        DataType::Struct(fields) => data
            .child_data()
            .iter()
            .zip(fields.iter())
            .map(|(child, field)| retype_data(child.clone(), field.data_type()))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Ok(data),
    };
    data.into_builder()
        .data_type(target.clone())
        .child_data(children)
        .build()
}

/// The table's `schema.name-mapping.default`: every column's names (a list's element
/// is `element` in Iceberg and `item` in Arrow) to its id, for files written before
/// Silt put ids in them.
pub fn name_mapping(fields: &[NestedField]) -> Value {
    Value::Array(fields.iter().map(mapped_field).collect())
}

fn mapped_field(field: &NestedField) -> Value {
    let mut mapped = json!({"field-id": field.id, "names": [field.name]});
    if let Some(children) = mapped_children(&field.kind) {
        mapped["fields"] = children;
    }
    mapped
}

fn mapped_children(kind: &Type) -> Option<Value> {
    match kind {
        Type::Primitive(_) => None,
        Type::Struct(inner) => Some(name_mapping(&inner.fields)),
        Type::List(list) => {
            let mut element = json!({"field-id": list.element_id, "names": ["element", "item"]});
            if let Some(children) = mapped_children(&list.element) {
                element["fields"] = children;
            }
            Some(Value::Array(vec![element]))
        }
    }
}

/// The Iceberg bound (single-value serialization) of a `long` or a `timestamp` in
/// microseconds, and of an `int`.
pub fn long_bound(value: i64) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

pub fn int_bound(value: i32) -> Vec<u8> {
    value.to_le_bytes().to_vec()
}

/// Ids of the fixed columns whose bounds the manifests carry.
pub const PARTITION_ID: i32 = 1;
pub const OFFSET_ID: i32 = 2;
