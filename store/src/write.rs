//! The ingest protocol: data tables first (one Delta commit per table per run), the `ingests`
//! record last. Appends retry on commit conflicts, so concurrent ingests lose nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, ListBuilder, StringArray, StringBuilder};
use arrow::record_batch::RecordBatch;
use deltalake::protocol::SaveMode;
use serde_json::{Value, json};

use crate::prepare::PreparedMessage;
use rayon::prelude::*;

use crate::rows::{ObjectVersion, Rows, object_rows, object_versions};
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
    /// Per message id: (new, changed, unchanged) object counts.
    pub per_message: HashMap<String, (usize, usize, usize)>,
    /// Rows written per table.
    pub rows_written: HashMap<String, usize>,
}

impl IngestOutcome {
    /// Totals (new, changed, unchanged).
    pub fn totals(&self) -> (usize, usize, usize) {
        self.per_message
            .values()
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    }
}

/// How many times a commit is retried after a conflict.
const MAX_ATTEMPTS: usize = 25;

impl Store {
    /// Store a batch of prepared messages as one ingest run. Nothing is written when every object
    /// and message is already stored.
    pub async fn ingest(
        &self,
        messages: &[PreparedMessage],
        command: Option<&str>,
    ) -> Result<IngestOutcome> {
        let started = chrono::Utc::now();
        let ingest_id = uuid::Uuid::new_v4().to_string();
        let mut outcome = IngestOutcome {
            ingest_id: ingest_id.clone(),
            ..Default::default()
        };

        // Object JSON and content hashes, once per object, on every core.
        let versions: Vec<Vec<ObjectVersion<'_>>> =
            messages.par_iter().map(object_versions).collect();
        let all_uuids: Vec<String> = versions.iter().flatten().map(|v| v.uuid.clone()).collect();
        let ctx = self.session().await?;
        let stored = Store::stored_versions(&ctx, &all_uuids).await?;
        let stored_messages = Store::stored_message_ids(&ctx).await?;

        let mut rows: Rows = Rows::new();
        let mut seen_in_run: HashSet<(&str, &str)> = HashSet::new();
        let mut n_sources = 0usize;
        let mut messages_in_run: HashSet<String> = HashSet::new();
        let mut bulk: Vec<(String, crate::prepare::BulkRows)> = Vec::new();
        // Per message, the versions to write (decided in order: the first of duplicates wins).
        let mut to_write: Vec<Vec<&ObjectVersion<'_>>> = Vec::with_capacity(messages.len());
        for (p, vs) in messages.iter().zip(&versions) {
            let mut counts = (0, 0, 0);
            let mut chosen = Vec::new();
            for v in vs {
                let key = (v.uuid.as_str(), v.content_sha256.as_str());
                let known = stored.get(&v.uuid);
                if known.is_some_and(|h| h.contains(&v.content_sha256))
                    || seen_in_run.contains(&key)
                {
                    counts.2 += 1;
                    continue;
                }
                if known.is_some() {
                    counts.1 += 1
                } else {
                    counts.0 += 1
                }
                seen_in_run.insert(key);
                for b in &p.bulk {
                    if b.owner.0 == v.entry.dict && b.owner.1 == v.entry.key {
                        bulk.push((v.uuid.clone(), b.clone()));
                    }
                }
                chosen.push(v);
            }
            to_write.push(chosen);
            outcome.per_message.insert(p.message_id.clone(), counts);
            if !stored_messages.contains(&p.message_id)
                && messages_in_run.insert(p.message_id.clone())
            {
                rows.entry("messages")
                    .or_default()
                    .push(json!({"message_id": p.message_id}));
                for s in &p.sources {
                    n_sources += 1;
                    rows.entry("sources").or_default().push(json!({"path": s.path, "sha256": s.sha256, "bytes": s.bytes, "format": s.format, "message_id": p.message_id}));
                }
            }
        }
        // Rows of the chosen objects, per message on every core, merged in message order.
        let object_tables: Vec<Rows> = messages
            .par_iter()
            .zip(to_write.par_iter())
            .map(|(p, chosen)| {
                let mut r = Rows::new();
                for v in chosen {
                    object_rows(p, v, &mut r);
                }
                r
            })
            .collect();
        for r in object_tables {
            for (table, table_rows) in r {
                rows.entry(table).or_default().extend(table_rows);
            }
        }
        if rows.is_empty() {
            return Ok(outcome);
        }
        let (new, changed, unchanged) = outcome.totals();
        let batches: Vec<(&TableDef, usize, RecordBatch)> = tables::ALL
            .par_iter()
            .copied()
            .filter(|t| t.name != "ingests")
            .filter_map(|def| rows.get(def.name).map(|r| (def, r)))
            .map(|(def, table_rows)| {
                let batch = if def.name == "messages" {
                    self.message_batch(def, &ingest_id, messages, table_rows)?
                } else {
                    self.json_batch(def, &ingest_id, table_rows)?
                };
                Ok((def, table_rows.len(), batch))
            })
            .collect::<Result<_>>()?;
        // Tables are independent until the `ingests` record: append to them concurrently.
        futures::future::try_join_all(batches.into_iter().map(|(def, n, batch)| {
            outcome.rows_written.insert(def.name.to_owned(), n);
            self.append(def, batch)
        }))
        .await?;
        for (owner_uuid, b) in bulk {
            for item in (b.open)() {
                let (table, mut batch_rows) = item.map_err(StoreError::Data)?;
                let def = tables::by_name(table)
                    .ok_or_else(|| StoreError::Data(format!("no store table named {table}")))?;
                for r in &mut batch_rows {
                    if let Some(m) = r.as_object_mut() {
                        m.insert(b.owner_column.into(), Value::from(owner_uuid.as_str()));
                    }
                }
                let batch = self.json_batch(def, &ingest_id, &batch_rows)?;
                self.append(def, batch).await?;
                *outcome.rows_written.entry(table.to_owned()).or_default() += batch_rows.len();
            }
        }
        pause_for_crash_test();
        self.commit_record(
            &ingest_id,
            started,
            command,
            n_sources,
            (new, changed, unchanged),
        )
        .await?;
        outcome.rows_written.insert("ingests".into(), 1);
        outcome.committed = true;
        Ok(outcome)
    }

    /// Write the `ingests` record of a run: the visibility switch for every row it wrote.
    pub(crate) async fn commit_record(
        &self,
        ingest_id: &str,
        started: chrono::DateTime<chrono::Utc>,
        command: Option<&str>,
        n_sources: usize,
        (new, changed, unchanged): (usize, usize, usize),
    ) -> Result<()> {
        let record = json!({
            "started_at": started.to_rfc3339(), "committed_at": chrono::Utc::now().to_rfc3339(),
            "user_name": std::env::var("USER").ok(), "host": hostname(), "tool_version": env!("CARGO_PKG_VERSION"),
            "command": command, "n_sources": n_sources, "n_objects_new": new, "n_objects_changed": changed, "n_objects_unchanged": unchanged,
        });
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

    fn message_batch(
        &self,
        def: &TableDef,
        ingest_id: &str,
        messages: &[PreparedMessage],
        rows: &[Value],
    ) -> Result<RecordBatch> {
        let by_id: HashMap<&str, &PreparedMessage> = messages
            .iter()
            .map(|p| (p.message_id.as_str(), p))
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
        // the message instead of clearing level-9 tables of megabytes per message (which was
        // most of the time of committing a thousand small messages).
        let mut compressor = zstd::bulk::Compressor::new(9)
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
        let mut last_error = None;
        for attempt in 0..MAX_ATTEMPTS {
            let table = self.open_table(def.name).await?;
            match table
                .write(vec![batch.clone()])
                .with_save_mode(SaveMode::Append)
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

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Test hook: with `MXPIPE_PAUSE_BEFORE_COMMIT=<file>` the run writes every data table, creates
/// `<file>`, and sleeps before its commit record, so a test can kill it at the worst moment.
fn pause_for_crash_test() {
    if let Ok(marker) = std::env::var("MXPIPE_PAUSE_BEFORE_COMMIT") {
        let _ = std::fs::write(&marker, b"data tables written; commit record not yet");
        std::thread::sleep(Duration::from_secs(120));
    }
}
