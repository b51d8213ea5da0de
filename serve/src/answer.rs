//! Rows as the client asks by `Accept`: a JSON array of objects (the default, as `mxpipe query
//! --format json`), CSV with a header (`text/csv`), or a Parquet file
//! (`application/vnd.apache.parquet`, the column types kept).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error;

/// Media type of Parquet answers.
pub(crate) const PARQUET: &str = "application/vnd.apache.parquet";

/// The row formats a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowFormat {
    Json,
    Csv,
    Parquet,
}

impl RowFormat {
    /// `json`, `csv` or `parquet`.
    pub(crate) fn named(name: &str) -> Option<RowFormat> {
        match name {
            "json" => Some(RowFormat::Json),
            "csv" => Some(RowFormat::Csv),
            "parquet" => Some(RowFormat::Parquet),
            _ => None,
        }
    }

    /// The first of Parquet, CSV, JSON named in `Accept` (JSON when none is).
    pub(crate) fn from_headers(headers: &HeaderMap) -> RowFormat {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let at = |needle: &str| accept.find(needle).unwrap_or(usize::MAX);
        let (json, csv, parquet) = (at("application/json"), at("text/csv"), at(PARQUET));
        if parquet < csv && parquet < json {
            RowFormat::Parquet
        } else if csv < json {
            RowFormat::Csv
        } else {
            RowFormat::Json
        }
    }
}

/// An HTTP answer holding `batches` (of `schema`) in `format`.
pub(crate) fn rows(format: RowFormat, schema: Arc<Schema>, batches: &[RecordBatch]) -> Response {
    let body = match format {
        RowFormat::Json => {
            return rows_json(batches).map_or_else(internal, |r| Json(r).into_response());
        }
        RowFormat::Csv => rows_csv(batches).map(|b| ("text/csv", b)),
        RowFormat::Parquet => rows_parquet(schema, batches).map(|b| (PARQUET, b)),
    };
    match body {
        Ok((media_type, bytes)) => ([(header::CONTENT_TYPE, media_type)], bytes).into_response(),
        Err(e) => internal(e),
    }
}

fn internal(e: String) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e)
}

/// Rows as JSON objects (column names as keys, nulls left out as arrow-json does).
pub(crate) fn rows_json(batches: &[RecordBatch]) -> Result<Vec<Value>, String> {
    let bytes = mxpipe_queries::encode::json_array(batches, false).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn rows_csv(batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    mxpipe_queries::encode::csv_to(batches, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn rows_parquet(schema: Arc<Schema>, batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    mxpipe_queries::encode::parquet_to(schema, batches, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn accept_picks_the_first_known_format() {
        assert_eq!(RowFormat::from_headers(&HeaderMap::new()), RowFormat::Json);
        assert_eq!(RowFormat::from_headers(&accept("*/*")), RowFormat::Json);
        assert_eq!(RowFormat::from_headers(&accept("text/csv")), RowFormat::Csv);
        assert_eq!(
            RowFormat::from_headers(&accept("application/vnd.apache.parquet, text/csv")),
            RowFormat::Parquet
        );
        assert_eq!(
            RowFormat::from_headers(&accept("application/json, text/csv")),
            RowFormat::Json
        );
    }
}
