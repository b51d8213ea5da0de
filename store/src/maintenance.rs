//! Store maintenance: remove leftovers of crashed ingests, compact files, vacuum old files.

use std::collections::HashSet;

use crate::read::strings;
use crate::tables;
use crate::{Result, Store, StoreError};

/// What maintenance did, per table.
#[derive(Debug, Default, Clone)]
pub struct MaintenanceReport {
    /// (table, number) pairs: rows deleted (repair), files rewritten (optimize), files removed (vacuum).
    pub per_table: Vec<(String, u64)>,
}

impl Store {
    /// Delete rows whose ingest never committed (a process that crashed or was killed). Do not run
    /// while ingests are in progress: their rows are not committed yet either.
    pub async fn repair(&self) -> Result<MaintenanceReport> {
        let ctx = self.session().await?;
        let mut committed: HashSet<String> = HashSet::new();
        for b in ctx
            .sql("SELECT ingest_id FROM ingests")
            .await?
            .collect()
            .await?
        {
            let c = strings(&b, 0);
            committed.extend((0..b.num_rows()).map(|i| c.value(i).to_owned()));
        }
        let mut report = MaintenanceReport::default();
        for def in tables::ALL.iter().filter(|t| t.name != "ingests") {
            let table = self.open_table(def.name).await?;
            if table.version().is_none() {
                continue;
            }
            let mut stray = 0u64;
            for b in ctx
                .sql(&format!(
                    "SELECT ingest_id, count(*) FROM {} GROUP BY ingest_id",
                    def.name
                ))
                .await?
                .collect()
                .await?
            {
                let c = strings(&b, 0);
                let n = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .expect("count is int64");
                for i in 0..b.num_rows() {
                    if !committed.contains(c.value(i)) {
                        stray += n.value(i) as u64;
                    }
                }
            }
            if stray == 0 {
                continue;
            }
            let predicate = if committed.is_empty() {
                "true".to_owned()
            } else {
                let list: Vec<String> = committed.iter().map(|i| format!("'{i}'")).collect();
                format!("ingest_id NOT IN ({})", list.join(", "))
            };
            table
                .delete()
                .with_predicate(predicate)
                .await
                .map_err(|source| StoreError::Delta {
                    table: def.name.into(),
                    source,
                })?;
            report.per_table.push((def.name.to_owned(), stray));
        }
        // A store written before `superseded` existed (or a race on an object store) gets the
        // rows history implies, so its views read the current state without ranking.
        let marked = self.backfill_superseded("mxpipe store repair").await?;
        if marked > 0 {
            report
                .per_table
                .push(("superseded (added)".to_owned(), marked as u64));
        }
        Ok(report)
    }

    /// Compact small files of every table into larger ones (a new table version; readers and
    /// writers unaffected: an append that races it is retried) and write each table's checkpoint.
    pub async fn optimize(&self) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        for def in tables::ALL {
            let table = self.open_table(def.name).await?;
            if table.version().is_none() {
                continue;
            }
            let (_, files) = compact(def, table).await?;
            report.per_table.push((def.name.to_owned(), files));
        }
        Ok(report)
    }

    /// Compact one table (small files rewritten into large ones, then its checkpoint): what
    /// [`Store::optimize`] does to each table. Safe beside appends (they are retried); returns
    /// the number of files rewritten.
    pub async fn compact_table(&self, name: &str) -> Result<u64> {
        let def = tables::by_name(name)
            .ok_or_else(|| StoreError::Data(format!("no store table named {name}")))?;
        let table = self.open_table(def.name).await?;
        if table.version().is_none() {
            return Ok(0);
        }
        Ok(compact(def, table).await?.1)
    }

    /// Delete data files no table version newer than `retention_hours` refers to.
    pub async fn vacuum(&self, retention_hours: u64) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        for def in tables::ALL {
            let table = self.open_table(def.name).await?;
            if table.version().is_none() {
                continue;
            }
            let (_, metrics) = table
                .vacuum()
                .with_retention_period(chrono::Duration::hours(retention_hours as i64))
                .with_enforce_retention_duration(false)
                .await
                .map_err(|source| StoreError::Delta {
                    table: def.name.into(),
                    source,
                })?;
            report
                .per_table
                .push((def.name.to_owned(), metrics.files_deleted.len() as u64));
        }
        Ok(report)
    }
}

/// Size a compacted file grows to (bytes). Files this large are left alone by later
/// compactions, so a compaction rewrites the files added since the last one and the last
/// partly filled file — what is recent, not the whole table (Delta's default of 100 MB rewrote
/// every table of a store below that size each time).
pub const COMPACTED_FILE_BYTES: std::num::NonZeroU64 =
    std::num::NonZeroU64::new(32 << 20).expect("not zero");

/// Compact one table (small files rewritten into large ones with the store's Parquet settings:
/// bloom filters, statistics, rows by key) and write its checkpoint, so opening it reads the
/// checkpoint and not every commit before. Returns the table and the files it rewrote.
pub(crate) async fn compact(
    def: &crate::tables::TableDef,
    table: deltalake::DeltaTable,
) -> Result<(deltalake::DeltaTable, u64)> {
    let delta = |source| StoreError::Delta {
        table: def.name.into(),
        source,
    };
    let (table, metrics) = table
        .optimize()
        .with_target_size(COMPACTED_FILE_BYTES)
        // One task: beside a service's commits, compaction takes one core at most.
        .with_max_concurrent_tasks(1)
        .with_writer_properties(crate::current::writer_properties(
            def,
            crate::current::ROW_GROUP_ROWS,
        ))
        .await
        .map_err(delta)?;
    deltalake::checkpoints::create_checkpoint(&table, None)
        .await
        .map_err(delta)?;
    Ok((table, metrics.num_files_removed))
}
