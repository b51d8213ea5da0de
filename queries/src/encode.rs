//! Answers as bytes: CSV, JSON and Parquet encodings of record batches, shared by `mxpipe query`
//! and the server's `/v1/query` so that both write the same files.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::{csv, json};
use datafusion::parquet::arrow::ArrowWriter;

/// An encoding failure (the message says what failed).
#[derive(Debug, thiserror::Error)]
#[error("writing the result: {0}")]
pub struct EncodeError(String);

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError(e.to_string())
}

/// CSV with a header line.
pub fn csv_to(batches: &[RecordBatch], out: impl Write) -> Result<(), EncodeError> {
    let mut w = csv::WriterBuilder::new().with_header(true).build(out);
    for b in batches {
        w.write(b).map_err(err)?;
    }
    Ok(())
}

/// A JSON array of objects, one per row; with `explicit_nulls` every column is in every object
/// (`null` where there is no value), else null values are left out. No rows: `[]`.
pub fn json_array(batches: &[RecordBatch], explicit_nulls: bool) -> Result<Vec<u8>, EncodeError> {
    let mut w = json::WriterBuilder::new()
        .with_explicit_nulls(explicit_nulls)
        .build::<_, json::writer::JsonArray>(Vec::new());
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.finish().map_err(err)?;
    let bytes = w.into_inner();
    Ok(if bytes.is_empty() {
        b"[]".to_vec()
    } else {
        bytes
    })
}

/// One Parquet file of `schema`.
pub fn parquet_to(
    schema: Arc<Schema>,
    batches: &[RecordBatch],
    out: impl Write + Send,
) -> Result<(), EncodeError> {
    let mut w = ArrowWriter::try_new(out, schema, None).map_err(err)?;
    for b in batches {
        w.write(b).map_err(err)?;
    }
    w.close().map_err(err)?;
    Ok(())
}
