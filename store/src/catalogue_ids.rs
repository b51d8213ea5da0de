//! The map from mxpipe objects to the primary keys a catalogue (ISPyB, …) gave them, kept in the
//! store so that a re-export updates instead of inserting. Rows are written like an ingest run (the
//! rows, then an `ingests` record), so a map entry is visible only once its export committed.

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use serde_json::{Value, json};

use crate::read::{COMMITTED, strings};
use crate::tables::{CATALOGUE_IDS, CATALOGUE_PIDS};
use crate::{Result, Store};

/// A mapped row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueId {
    /// Table in the catalogue.
    pub table: String,
    /// Primary key there.
    pub id: i64,
    /// Hash of the values last written.
    pub content_sha256: String,
    /// The catalogue's text identifier, for catalogues keyed by text (SciCat pids).
    pub pid: Option<String>,
}

impl Store {
    /// The latest committed map of one catalogue: object key → id.
    pub async fn catalogue_ids(
        &self,
        target: &str,
        instance: &str,
    ) -> Result<HashMap<String, CatalogueId>> {
        let ctx = self.session().await?;
        let sql = format!(
            "SELECT c.object_key, c.catalogue_table, c.catalogue_id, c.content_sha256 FROM catalogue_ids c \
             JOIN ingests g ON g.ingest_id = c.ingest_id WHERE c.{COMMITTED} AND c.target = $1 AND c.instance = $2 \
             ORDER BY g.committed_at"
        );
        let params = || params_of(&[target, instance]);
        let batches: Vec<RecordBatch> = ctx
            .sql(&sql)
            .await?
            .with_param_values(params())?
            .collect()
            .await?;
        let mut out: HashMap<String, CatalogueId> = HashMap::new();
        for b in &batches {
            let (k, t, h) = (strings(b, 0), strings(b, 1), strings(b, 3));
            let ids = b.column(2).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                out.insert(
                    k.value(i).to_owned(),
                    CatalogueId {
                        table: t.value(i).to_owned(),
                        id: ids.value(i),
                        content_sha256: h.value(i).to_owned(),
                        pid: None,
                    },
                );
            }
        }
        let sql = format!(
            "SELECT c.object_key, c.pid FROM catalogue_pids c \
             JOIN ingests g ON g.ingest_id = c.ingest_id WHERE c.{COMMITTED} AND c.target = $1 AND c.instance = $2 \
             ORDER BY g.committed_at"
        );
        for b in &ctx
            .sql(&sql)
            .await?
            .with_param_values(params())?
            .collect()
            .await?
        {
            let (k, p) = (strings(b, 0), strings(b, 1));
            for i in 0..b.num_rows() {
                if let Some(c) = out.get_mut(k.value(i)) {
                    c.pid = Some(p.value(i).to_owned());
                }
            }
        }
        Ok(out)
    }

    /// Record map entries (key, id) after the catalogue committed them: the rows, then an
    /// `ingests` record naming `command`. Nothing is written for an empty list.
    pub async fn record_catalogue_ids(
        &self,
        target: &str,
        instance: &str,
        entries: &[(String, CatalogueId)],
        command: &str,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let started = chrono::Utc::now();
        let ingest_id = uuid::Uuid::new_v4().to_string();
        let rows: Vec<Value> = entries
            .iter()
            .map(|(k, c)| {
                json!({"target": target, "instance": instance, "object_key": k, "catalogue_table": c.table,
                    "catalogue_id": c.id, "content_sha256": c.content_sha256, "exported_at": started.to_rfc3339()})
            })
            .collect();
        let batch = self.json_batch(&CATALOGUE_IDS, &ingest_id, &rows)?;
        self.append(&CATALOGUE_IDS, batch).await?;
        let pids: Vec<Value> = entries
            .iter()
            .filter_map(|(k, c)| {
                c.pid.as_ref().map(
                    |p| json!({"target": target, "instance": instance, "object_key": k, "pid": p}),
                )
            })
            .collect();
        if !pids.is_empty() {
            let batch = self.json_batch(&CATALOGUE_PIDS, &ingest_id, &pids)?;
            self.append(&CATALOGUE_PIDS, batch).await?;
        }
        self.commit_record(&ingest_id, started, Some(command), 0, (0, 0, 0))
            .await
    }
}

/// Texts as the positional parameters `$1`, `$2`, … of a statement.
pub(crate) fn params_of(texts: &[&str]) -> datafusion::common::ParamValues {
    datafusion::common::ParamValues::List(
        texts
            .iter()
            .map(|t| datafusion::scalar::ScalarValue::Utf8(Some((*t).to_owned())).into())
            .collect(),
    )
}
