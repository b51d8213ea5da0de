//! Reading the store with DataFusion: every table registered under its name, and the queries the
//! store itself needs (what is stored already, committed ingests).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::tables::{self, TableDef};
use crate::{Result, Store};

/// SQL condition that keeps only rows of committed ingests.
pub const COMMITTED: &str = "ingest_id IN (SELECT ingest_id FROM ingests)";

impl Store {
    /// A DataFusion session with every table of the store registered under its name (an empty
    /// table when it has never been written). Rows of uncommitted ingests are included: filter
    /// with [`COMMITTED`] (the query views do).
    pub async fn session(&self) -> Result<SessionContext> {
        let ctx = SessionContext::new();
        self.register_into(&ctx, "").await?;
        Ok(ctx)
    }

    /// Register every table into `ctx` with a name prefix (for several sites in one session).
    pub async fn register_into(&self, ctx: &SessionContext, prefix: &str) -> Result<()> {
        for def in tables::ALL {
            let table = self.open_table(def.name).await?;
            self.register_handle(ctx, &format!("{prefix}{}", def.name), def, table)
                .await?;
        }
        Ok(())
    }

    /// Committed content hashes per uuid, for the given uuids (`ctx` from [`Store::session`]).
    pub async fn stored_versions(
        ctx: &SessionContext,
        uuids: &[String],
    ) -> Result<HashMap<String, HashSet<String>>> {
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        if uuids.is_empty() {
            return Ok(out);
        }
        let wanted: HashSet<&str> = uuids.iter().map(String::as_str).collect();
        let batches = ctx
            .sql(&format!(
                "SELECT uuid, content_sha256 FROM objects WHERE {COMMITTED}"
            ))
            .await?
            .collect()
            .await?;
        for b in &batches {
            let (u, h) = (strings(b, 0), strings(b, 1));
            for i in 0..b.num_rows() {
                if wanted.contains(u.value(i)) {
                    out.entry(u.value(i).to_owned())
                        .or_default()
                        .insert(h.value(i).to_owned());
                }
            }
        }
        Ok(out)
    }

    /// Ids of committed messages (`ctx` from [`Store::session`]).
    pub async fn stored_message_ids(ctx: &SessionContext) -> Result<HashSet<String>> {
        let batches = ctx
            .sql(&format!(
                "SELECT DISTINCT message_id FROM messages WHERE {COMMITTED}"
            ))
            .await?
            .collect()
            .await?;
        Ok(batches
            .iter()
            .flat_map(|b| {
                let c = strings(b, 0);
                (0..b.num_rows()).map(move |i| c.value(i).to_owned())
            })
            .collect())
    }

    /// Run a query and return its batches.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let ctx = self.session().await?;
        Ok(ctx.sql(sql).await?.collect().await?)
    }

    /// Committed row counts per table.
    pub async fn row_counts(&self) -> Result<Vec<(String, usize)>> {
        let ctx = self.session().await?;
        let mut out = Vec::new();
        for def in tables::ALL {
            let sql = if def.name == "ingests" {
                "SELECT count(*) FROM ingests".to_owned()
            } else {
                format!("SELECT count(*) FROM {} WHERE {COMMITTED}", def.name)
            };
            let n = first_count(&ctx.sql(&sql).await?.collect().await?);
            out.push((def.name.to_owned(), n as usize));
        }
        Ok(out)
    }
}

/// The first value of a one-row count answer (0 when empty).
pub(crate) fn first_count(batches: &[RecordBatch]) -> i64 {
    batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            b.column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0)
        })
        .unwrap_or(0)
}

/// Lists up to this long are filters the scan prunes with (bloom filters, statistics); longer
/// ones are joined (an IN list of thousands becomes expressions deep enough to exhaust the stack).
const IN_LIST_MAX: usize = 256;

/// `columns` of the rows of `table` whose `key` is one of `values` (every row when `None`).
pub(crate) async fn rows_with_keys(
    ctx: &SessionContext,
    table: &str,
    key: &str,
    values: Option<&[&str]>,
    columns: &[&str],
) -> Result<Vec<RecordBatch>> {
    use datafusion::prelude::{col, lit};
    let mut frame = ctx.table(table).await?;
    match values {
        None => {}
        Some(values) if values.len() <= IN_LIST_MAX => {
            let list = values.iter().map(|v| lit(*v)).collect();
            frame = frame.filter(col(key).in_list(list, false))?;
        }
        Some(values) => {
            let wanted = "__wanted_key";
            let schema = Arc::new(arrow::datatypes::Schema::new(vec![
                arrow::datatypes::Field::new(wanted, arrow::datatypes::DataType::Utf8, false),
            ]));
            let mut unique: Vec<&str> = values.to_vec();
            unique.sort_unstable();
            unique.dedup();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(arrow::array::StringArray::from(unique))],
            )?;
            let keys = ctx.read_table(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
            frame = frame.join(
                keys,
                datafusion::logical_expr::JoinType::LeftSemi,
                &[key],
                &[wanted],
                None,
            )?;
        }
    }
    Ok(frame.select_columns(columns)?.collect().await?)
}

pub(crate) fn empty_table(def: &TableDef) -> Result<Arc<MemTable>> {
    Ok(Arc::new(MemTable::try_new(def.schema(), vec![vec![]])?))
}

/// Column `i` of a batch as strings (Utf8 or Utf8View).
pub fn strings(batch: &RecordBatch, i: usize) -> StringColumn<'_> {
    StringColumn(batch.column(i).as_ref())
}

/// A string column of either Arrow string layout.
pub struct StringColumn<'a>(&'a dyn Array);

impl StringColumn<'_> {
    /// Value at row `i` ("" when null).
    pub fn value(&self, i: usize) -> &str {
        if self.0.is_null(i) {
            return "";
        }
        if let Some(a) = self.0.as_string_opt::<i32>() {
            a.value(i)
        } else if let Some(a) = self.0.as_string_view_opt() {
            a.value(i)
        } else if let Some(a) = self.0.as_string_opt::<i64>() {
            a.value(i)
        } else {
            ""
        }
    }
    /// Is row `i` null?
    pub fn is_null(&self, i: usize) -> bool {
        self.0.is_null(i)
    }
}
