//! Appending rows: a run's rows as Arrow batches, one-shot appends (catalogue ids, PIDs), the
//! `ingests` record that makes a run visible, and a run's outcome. The ingest protocol that
//! calls these is [`crate::writer`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, ListBuilder, StringArray, StringBuilder};
use arrow::record_batch::RecordBatch;
use deltalake::protocol::SaveMode;
use serde_json::{Value, json};

use crate::prepare::PreparedMessage;
use crate::tables::{self, TableDef};
use crate::{Result, Store, StoreError};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectStatus {
    /// Stored for the first time.
    New,
    /// A new version of a stored uuid.
    Changed,
    /// Already stored with the same content.
    Unchanged,
}

/// The result of one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    /// The run's id (also when nothing was committed).
    pub ingest_id: String,
    /// True when anything was written.
    pub committed: bool,
    /// Per input message, in input order: (new, changed, unchanged) object counts.
    pub per_input: Vec<(usize, usize, usize)>,
    /// Per input message, in input order: whether its message record was written by this run.
    pub recorded: Vec<bool>,
    /// Rows written per table.
    pub rows_written: HashMap<String, usize>,
}

impl IngestOutcome {
    /// Totals (new, changed, unchanged).
    pub fn totals(&self) -> (usize, usize, usize) {
        self.per_input
            .iter()
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    }
}

/// How many times a commit is retried after a conflict.
const MAX_ATTEMPTS: usize = 25;

impl Store {
    /// Write the `ingests` record of a run: the visibility switch for every row it wrote.
    pub(crate) async fn commit_record(
        &self,
        ingest_id: &str,
        started: chrono::DateTime<chrono::Utc>,
        command: Option<&str>,
        n_sources: usize,
        (new, changed, unchanged): (usize, usize, usize),
    ) -> Result<()> {
        let record = commit_record(started, command, n_sources, (new, changed, unchanged));
        let batch = self.json_batch(&tables::INGESTS, ingest_id, &[record])?;
        self.append(&tables::INGESTS, batch).await
    }

    /// Rows as JSON objects → an Arrow batch of the table's schema (adding site and ingest_id).
    pub(crate) fn json_batch(
        &self,
        def: &TableDef,
        ingest_id: &str,
        rows: &[Value],
    ) -> Result<RecordBatch> {
        let schema = def.schema();
        let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
        let full: Vec<RowOfRun<'_>> = rows
            .iter()
            .map(|row| RowOfRun {
                row,
                site: self.site(),
                ingest_id,
            })
            .collect();
        decoder.serialize(&full)?;
        Ok(decoder
            .flush()?
            .unwrap_or_else(|| RecordBatch::new_empty(schema)))
    }

    pub(crate) fn message_batch(
        &self,
        def: &TableDef,
        ingest_id: &str,
        messages: &[&PreparedMessage],
        rows: &[Value],
    ) -> Result<RecordBatch> {
        let by_id: HashMap<&str, &PreparedMessage> = messages
            .iter()
            .map(|p| (p.message_id.as_str(), *p))
            .collect();
        let chosen: Vec<&PreparedMessage> = rows
            .iter()
            .filter_map(|r| r["message_id"].as_str())
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        let n = chosen.len();
        let mut paths = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(
            arrow::datatypes::Field::new("element", arrow::datatypes::DataType::Utf8, true),
        ));
        for p in &chosen {
            for s in &p.sources {
                paths.values().append_value(&s.path);
            }
            paths.append(true);
        }
        // One compressor for the batch, told each message's size: zstd then sizes its tables to
        // the message instead of clearing tables of megabytes per message. Level 3 (zstd's
        // default): level 9 took 7 % of a large import's CPU for a few per cent of size.
        let mut compressor = zstd::bulk::Compressor::new(3)
            .map_err(|e| StoreError::Data(format!("compressing messages: {e}")))?;
        let compressed: Vec<Vec<u8>> = chosen
            .iter()
            .map(|p| {
                compressor
                    .compress(p.json.as_bytes())
                    .map_err(|e| StoreError::Data(format!("compressing a message: {e}")))
            })
            .collect::<Result<_>>()?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.site(); n])),
            Arc::new(StringArray::from(vec![ingest_id; n])),
            Arc::new(StringArray::from(
                chosen
                    .iter()
                    .map(|p| p.message_id.as_str())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                chosen
                    .iter()
                    .map(|p| p.message.kind().schema_name())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(paths.finish()),
            Arc::new(Int64Array::from(
                chosen
                    .iter()
                    .map(|p| p.json.len() as i64)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(BinaryArray::from(
                compressed.iter().map(|c| c.as_slice()).collect::<Vec<_>>(),
            )),
        ];
        Ok(RecordBatch::try_new(def.schema(), columns)?)
    }

    /// Append a batch to a table (creating it on first use), retrying on commit conflicts.
    pub(crate) async fn append(&self, def: &TableDef, batch: RecordBatch) -> Result<()> {
        let batch = crate::current::sorted_by_key(def, batch)?;
        let mut last_error = None;
        for attempt in 0..MAX_ATTEMPTS {
            let table = self.open_table(def.name).await?;
            match table
                .write(vec![batch.clone()])
                .with_save_mode(SaveMode::Append)
                .with_writer_properties(crate::current::writer_properties(def, batch.num_rows()))
                // Columns added by a newer mxpipe join an older store's tables (nullable; earlier rows read null).
                .with_schema_mode(deltalake::operations::write::SchemaMode::Merge)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::debug!(table = def.name, attempt, error = %e, "append failed, retrying");
                    last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(20 + 37 * attempt as u64)).await;
                }
            }
        }
        Err(StoreError::Delta {
            table: def.name.into(),
            source: last_error.expect("at least one attempt"),
        })
    }
}

/// A row with the run's `site` and `ingest_id` columns added, serialised without copying it.
struct RowOfRun<'a> {
    row: &'a Value,
    site: &'a str,
    ingest_id: &'a str,
}

impl serde::Serialize for RowOfRun<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Value::Object(m) = self.row {
            for (k, v) in m {
                if k != "site" && k != "ingest_id" {
                    map.serialize_entry(k, v)?;
                }
            }
        }
        map.serialize_entry("site", self.site)?;
        map.serialize_entry("ingest_id", self.ingest_id)?;
        map.end()
    }
}

pub(crate) fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Test hook: with `MXPIPE_PAUSE_BEFORE_COMMIT=<file>` the run writes every data table, creates
/// `<file>`, and sleeps before its commit record, so a test can kill it at the worst moment.
pub(crate) fn pause_for_crash_test() {
    if let Ok(marker) = std::env::var("MXPIPE_PAUSE_BEFORE_COMMIT") {
        let _ = std::fs::write(&marker, b"data tables written; commit record not yet");
        std::thread::sleep(Duration::from_secs(120));
    }
}

/// The `ingests` row of a run: the visibility switch for every row it wrote.
pub(crate) fn commit_record(
    started: chrono::DateTime<chrono::Utc>,
    command: Option<&str>,
    n_sources: usize,
    (new, changed, unchanged): (usize, usize, usize),
) -> Value {
    json!({
        "started_at": started.to_rfc3339(), "committed_at": chrono::Utc::now().to_rfc3339(),
        "user_name": std::env::var("USER").ok(), "host": hostname(), "tool_version": env!("CARGO_PKG_VERSION"),
        "command": command, "n_sources": n_sources, "n_objects_new": new, "n_objects_changed": changed, "n_objects_unchanged": unchanged,
    })
}
