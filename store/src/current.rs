//! Current state kept at commit. Tables stay append-only (every version of every object, for
//! time travel); a run that stores a new version of an object also writes, in the same run, a
//! `superseded` row naming the version it replaces. The current state of an object table is then
//! its committed rows minus the committed `superseded` ones: an anti-join against a table that
//! holds one row per *change* (not per object), so no read ranks versions over the whole history,
//! and a filter on any column (uuid, experiment, processing) reaches the Parquet scan.
//!
//! Exactness: a run computes its `superseded` rows from the committed versions of the objects it
//! writes, under the store's commit lock (a local store: a lock file; nobody else commits between
//! that look and the run's `ingests` row), so a version committed by another run before ours is
//! always marked. Stores written by an mxpipe without this table get their rows from the window
//! over history ([`BACKFILL_SQL`], also the test oracle): at the first run that writes one, and by
//! `mxpipe store repair`.
//!
//! Point lookups: every `uuid` / `*_uuid` column is written with a Parquet bloom filter sized to
//! the file, so DataFusion skips the row groups (and the files) that cannot hold a looked-up key.

use std::collections::HashSet;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use serde_json::{Value, json};

use crate::read::strings;
use crate::tables::{self, TableDef};
use crate::{Result, Store, StoreError};

/// The versions that are not the latest of their object, by commit time, and not yet marked:
/// the `superseded` rows a store written without them needs (and the reference the tests
/// compare the current state against). Over the tables `objects`, `ingests`, `superseded`.
pub const BACKFILL_SQL: &str = "SELECT v.uuid, v.ingest_id AS superseded_ingest_id FROM (\
     SELECT o.uuid, o.ingest_id, ROW_NUMBER() OVER (PARTITION BY o.uuid ORDER BY g.committed_at DESC) AS version_rank \
     FROM (SELECT DISTINCT uuid, ingest_id FROM objects) o JOIN ingests g ON g.ingest_id = o.ingest_id) v \
     WHERE v.version_rank > 1 AND NOT EXISTS (SELECT 1 FROM superseded s JOIN ingests h ON h.ingest_id = s.ingest_id \
     WHERE s.uuid = v.uuid AND s.superseded_ingest_id = v.ingest_id)";

/// Columns that hold keys lookups ask for: `uuid`, every `*_uuid`, `message_id` (what an
/// ingest looks up to tell a message it has stored already) and `series_id` (the images a
/// processing job read, matched to the sweeps that took them).
pub fn key_columns(def: &TableDef) -> impl Iterator<Item = &'static str> + '_ {
    def.columns
        .iter()
        .map(|c| c.0)
        .filter(|n| *n == "uuid" || n.ends_with("_uuid") || *n == "message_id" || *n == "series_id")
}

/// Rows per Parquet row group: the unit a lookup skips or reads (and a bloom filter's size).
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Files of fewer rows than this are written with LZ4 rather than zstd (see [`writer_properties`]).
pub const SMALL_FILE_ROWS: usize = 10_000;

/// Parquet writer settings for a file of `rows` rows of `def`: page statistics, and a bloom
/// filter on every key column sized for the file (a filter sized for a million keys would make
/// each small per-run file a megabyte per column). Large files are zstd-compressed; a small
/// file (one run of a service, compacted later into a zstd file) is LZ4-compressed: zstd sets up
/// a context of megabytes per column chunk, which cost more than the whole rest of writing a
/// file of a few rows.
pub fn writer_properties(def: &TableDef, rows: usize) -> WriterProperties {
    use deltalake::parquet::basic::Compression;
    let compression = if rows < SMALL_FILE_ROWS {
        Compression::LZ4_RAW
    } else {
        Compression::ZSTD(Default::default())
    };
    let rows = rows.clamp(16, ROW_GROUP_ROWS);
    let mut builder = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_compression(compression)
        .set_statistics_enabled(deltalake::parquet::file::properties::EnabledStatistics::Page);
    for name in key_columns(def) {
        let path = ColumnPath::from(name);
        builder = builder
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), 0.01)
            .set_column_bloom_filter_max_ndv(path, rows as u64);
    }
    builder.build()
}

/// A batch in the order of its table's first key column (`uuid`, else the first `*_uuid`: a
/// scan's sweep, a statistic's reflection set), so each file's row groups and pages cover narrow
/// key ranges and their statistics skip what a lookup does not ask for.
pub fn sorted_by_key(def: &TableDef, batch: RecordBatch) -> Result<RecordBatch> {
    let Some(key) = key_columns(def).next() else {
        return Ok(batch);
    };
    let Ok(column) = batch.schema().index_of(key) else {
        return Ok(batch);
    };
    if batch.num_rows() < 2 {
        return Ok(batch);
    }
    let order = arrow::compute::sort_to_indices(batch.column(column), None, None)?;
    Ok(arrow::compute::take_record_batch(&batch, &order)?)
}

/// Held while a run decides its `superseded` rows and commits: on a local store an exclusive
/// lock on `.mxpipe-commit.lock` in the store folder (released when dropped, or when the process
/// dies); nothing on an object store (one writer per site there, or `store repair` after).
pub struct CommitLock(#[allow(dead_code)] Option<std::fs::File>);

impl Store {
    /// Take the commit lock (waiting for another process's run to commit).
    pub async fn commit_lock(&self) -> Result<CommitLock> {
        let Some(dir) = self
            .root()
            .to_file_path()
            .ok()
            .filter(|_| self.root().scheme() == "file")
        else {
            return Ok(CommitLock(None));
        };
        let path = dir.join(".mxpipe-commit.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Data(format!("{}: {e}", path.display())))?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(CommitLock(Some(file))),
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StoreError::Data(format!("{}: {e}", path.display())));
                }
            }
        }
    }

    /// The `superseded` rows history implies and the table lacks ([`BACKFILL_SQL`]).
    pub async fn backfill_rows(&self) -> Result<Vec<Value>> {
        let ctx = self.session().await?;
        let mut rows = Vec::new();
        for b in ctx.sql(BACKFILL_SQL).await?.collect().await? {
            let (u, i) = (strings(&b, 0), strings(&b, 1));
            for r in 0..b.num_rows() {
                rows.push(json!({"uuid": u.value(r), "superseded_ingest_id": i.value(r)}));
            }
        }
        Ok(rows)
    }

    /// Write the `superseded` rows history implies and the table lacks, as one committed run
    /// (`store repair`; a no-op when nothing is missing). Returns how many were written.
    pub async fn backfill_superseded(&self, command: &str) -> Result<usize> {
        let _lock = self.commit_lock().await?;
        let rows = self.backfill_rows().await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let started = chrono::Utc::now();
        let ingest_id = uuid::Uuid::new_v4().to_string();
        let batch: RecordBatch = self.json_batch(&tables::SUPERSEDED, &ingest_id, &rows)?;
        self.append(&tables::SUPERSEDED, batch).await?;
        self.commit_record(&ingest_id, started, Some(command), 0, (0, 0, 0))
            .await?;
        Ok(rows.len())
    }
}

/// The `superseded` rows of a run that writes versions of `uuids`: every committed version of
/// those objects (all are older than the run's commit, which follows under the lock). `ctx` holds
/// the store's `objects` and `ingests`, brought to their latest versions.
pub(crate) async fn superseded_in(ctx: &SessionContext, uuids: &[&str]) -> Result<Vec<Value>> {
    if uuids.is_empty() {
        return Ok(Vec::new());
    }
    let committed = committed_in(ctx).await?;
    let batches =
        crate::read::rows_with_keys(ctx, "objects", "uuid", Some(uuids), &["uuid", "ingest_id"])
            .await?;
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for b in &batches {
        let (u, i) = (strings(b, 0), strings(b, 1));
        for r in 0..b.num_rows() {
            let key = (u.value(r).to_owned(), i.value(r).to_owned());
            if committed.contains(&key.1) && seen.insert(key) {
                rows.push(json!({"uuid": u.value(r), "superseded_ingest_id": i.value(r)}));
            }
        }
    }
    Ok(rows)
}

/// Ids of the committed runs: the `ingests` table of `ctx`.
pub(crate) async fn committed_in(ctx: &SessionContext) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for b in ctx
        .table("ingests")
        .await?
        .select_columns(&["ingest_id"])?
        .collect()
        .await?
    {
        let c = strings(&b, 0);
        out.extend((0..b.num_rows()).map(|i| c.value(i).to_owned()));
    }
    Ok(out)
}

/// Does a store need its `superseded` rows computed from history: no committed `superseded` row
/// yet, while some committed run stored a changed object (written by an older mxpipe)? Asked of
/// the tables `{prefix}ingests` and `{prefix}superseded` in `ctx` (a never-written table reads
/// empty), so a query session asks through the tables it has opened anyway. A `superseded` table
/// may hold only the rows of a run that never committed: what counts is a committed row.
pub async fn needs_backfill_in(ctx: &SessionContext, prefix: &str) -> Result<bool> {
    let count = |sql: String| async move {
        Ok::<_, crate::StoreError>(crate::read::first_count(
            &ctx.sql(&sql).await?.collect().await?,
        ))
    };
    if count(format!(
        "SELECT count(*) FROM {prefix}ingests WHERE n_objects_changed > 0"
    ))
    .await?
        == 0
    {
        return Ok(false);
    }
    Ok(count(format!(
        "SELECT count(*) FROM {prefix}superseded WHERE ingest_id IN (SELECT ingest_id FROM {prefix}ingests)"
    ))
    .await?
        == 0)
}
