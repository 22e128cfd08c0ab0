//! A query's answer in the format a client asks for: NDJSON (one object per row),
//! CSV (with a header row) or an Arrow IPC stream (exact types and bytes). In text
//! formats, binary values (keys, values, header values) are text when they are valid
//! UTF-8 and base64 otherwise; in CSV, nested values are written as text.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::{QueryAnswer, QueryError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    NdJson,
    Csv,
    ArrowStream,
}

impl Format {
    /// The format an `Accept` header asks for (NDJSON when it names none of them).
    pub fn from_accept(accept: Option<&str>) -> Result<Format, String> {
        let Some(accept) = accept else {
            return Ok(Format::NdJson);
        };
        for media in accept.split(',') {
            let media = media.split(';').next().unwrap_or_default().trim();
            match media {
                "application/x-ndjson" | "application/json" | "*/*" | "application/*" => {
                    return Ok(Format::NdJson);
                }
                "text/csv" | "text/*" => return Ok(Format::Csv),
                "application/vnd.apache.arrow.stream" => return Ok(Format::ArrowStream),
                _ => {}
            }
        }
        Err(format!(
            "cannot answer in {accept}: ask for application/x-ndjson, text/csv or application/vnd.apache.arrow.stream"
        ))
    }

    /// From a command line's `--format`.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" | "ndjson" => Some(Format::NdJson),
            "csv" => Some(Format::Csv),
            "arrow" => Some(Format::ArrowStream),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::NdJson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::ArrowStream => "application/vnd.apache.arrow.stream",
        }
    }
}

/// The answer, encoded, in parts of about one batch each.
pub fn encode(answer: &QueryAnswer, format: Format) -> Result<Vec<Vec<u8>>, QueryError> {
    let failed = |error: datafusion::arrow::error::ArrowError| {
        QueryError::Internal(format!("encoding the answer: {error}"))
    };
    let mut parts = Vec::with_capacity(answer.batches.len() + 1);
    match format {
        Format::ArrowStream => {
            let mut writer =
                datafusion::arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &answer.schema)
                    .map_err(failed)?;
            for batch in &answer.batches {
                writer.write(batch).map_err(failed)?;
                parts.push(std::mem::take(writer.get_mut()));
            }
            writer.finish().map_err(failed)?;
            parts.push(writer.into_inner().map_err(failed)?);
        }
        Format::NdJson => {
            for batch in &answer.batches {
                let batch = as_text(batch, false).map_err(failed)?;
                // A NULL is written as null, not left out, so every row has each column.
                let mut writer = datafusion::arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, datafusion::arrow::json::writer::LineDelimited>(Vec::new());
                writer.write(&batch).map_err(failed)?;
                writer.finish().map_err(failed)?;
                parts.push(writer.into_inner());
            }
        }
        Format::Csv => {
            let mut header = true;
            if answer.batches.is_empty() {
                let names: Vec<&str> = answer
                    .schema
                    .fields()
                    .iter()
                    .map(|field| field.name().as_str())
                    .collect();
                parts.push(format!("{}\n", names.join(",")).into_bytes());
            }
            for batch in &answer.batches {
                let batch = as_text(batch, true).map_err(failed)?;
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(header)
                    .build(Vec::new());
                writer.write(&batch).map_err(failed)?;
                parts.push(writer.into_inner());
                header = false;
            }
        }
    }
    Ok(parts)
}

/// `batch` with binary values as text, and (`flat`) nested values as text.
fn as_text(
    batch: &RecordBatch,
    flat: bool,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let nested = matches!(
            field.data_type(),
            DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_) | DataType::Map(..)
        );
        let column = if flat && nested {
            display(column)?
        } else {
            binary_as_text(column)?
        };
        fields.push(Field::new(field.name(), column.data_type().clone(), true));
        columns.push(column);
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, columns)
}

fn display(column: &ArrayRef) -> Result<ArrayRef, datafusion::arrow::error::ArrowError> {
    let text = binary_as_text(column)?;
    let formatter = ArrayFormatter::try_new(text.as_ref(), &FormatOptions::default())?;
    let mut out = StringBuilder::new();
    for row in 0..text.len() {
        if text.is_null(row) {
            out.append_null();
        } else {
            out.append_value(formatter.value(row).to_string());
        }
    }
    Ok(Arc::new(out.finish()))
}

fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => STANDARD.encode(bytes),
    }
}

fn texts<'a>(values: impl Iterator<Item = Option<&'a [u8]>>) -> ArrayRef {
    Arc::new(
        values
            .map(|value| value.map(text_of))
            .collect::<StringArray>(),
    )
}

/// Binary arrays (also inside lists and structs) as UTF-8 text or base64.
fn binary_as_text(column: &ArrayRef) -> Result<ArrayRef, datafusion::arrow::error::ArrowError> {
    Ok(match column.data_type() {
        DataType::Binary => texts(column.as_binary::<i32>().iter()),
        DataType::LargeBinary => texts(column.as_binary::<i64>().iter()),
        DataType::BinaryView => texts(column.as_binary_view().iter()),
        DataType::List(item) => {
            let list = column.as_list::<i32>();
            let values = binary_as_text(list.values())?;
            let field = Arc::new(Field::new(
                item.name(),
                values.data_type().clone(),
                item.is_nullable(),
            ));
            Arc::new(GenericListArray::<i32>::try_new(
                field,
                list.offsets().clone(),
                values,
                list.nulls().cloned(),
            )?)
        }
        DataType::Struct(fields) => {
            let structs = column.as_struct();
            let columns = structs
                .columns()
                .iter()
                .map(binary_as_text)
                .collect::<Result<Vec<_>, _>>()?;
            let fields: Vec<Field> = fields
                .iter()
                .zip(&columns)
                .map(|(field, column)| {
                    Field::new(
                        field.name(),
                        column.data_type().clone(),
                        field.is_nullable(),
                    )
                })
                .collect();
            Arc::new(StructArray::try_new(
                fields.into(),
                columns,
                structs.nulls().cloned(),
            )?)
        }
        _ => Arc::clone(column),
    })
}

/// An Arrow IPC stream as a table of text, for a terminal.
pub fn print_table(stream: &[u8]) -> Result<String, datafusion::arrow::error::ArrowError> {
    let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(stream, None)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    let batches = batches
        .iter()
        .map(|batch| as_text(batch, false))
        .collect::<Result<Vec<_>, _>>()?;
    if batches.is_empty() {
        let empty = RecordBatch::new_empty(schema);
        return Ok(datafusion::arrow::util::pretty::pretty_format_batches(&[empty])?.to_string());
    }
    Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
}
