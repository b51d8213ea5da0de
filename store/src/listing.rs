//! A table's current snapshot as what it is underneath: a Parquet listing table over the files
//! the snapshot holds. DataFusion's plan serialisation (`datafusion-proto`) knows listing tables,
//! so a plan over them runs on Apache Ballista executors that hold no mxpipe or Delta code
//! (`mxpipe query --cluster`, `docs/cluster.md`). The snapshot is fixed when the table is opened:
//! files a later commit adds or removes do not change a plan already made.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::ViewTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::lit;
use datafusion::scalar::ScalarValue;

use crate::tables::TableDef;
use crate::{Result, Store, StoreError};

impl Store {
    /// The table `def` as a Parquet listing table over its current snapshot's files (statistics
    /// read from the files' footers where the plan is made physical, as the session's
    /// `datafusion.execution.collect_statistics` asks, by default); columns the files predate
    /// read as nulls, as in [`Store::provider`]. A table never written is an empty relation.
    pub async fn listing_provider(
        &self,
        def: &TableDef,
        state: &SessionState,
    ) -> Result<Arc<dyn TableProvider>> {
        let table = self.current_table(def.name).await?;
        let want = def.schema();
        if table.version().is_none() {
            return empty_relation(&want);
        }
        let delta = |source| StoreError::Delta {
            table: def.name.into(),
            source,
        };
        // The schema the local engine reads: Delta's, or mxpipe's table in its own order when the
        // files predate some of its columns (read as nulls), as [`Store::provider`] does.
        let have = table
            .table_provider()
            .await
            .map_err(StoreError::Query)?
            .schema();
        let schema: SchemaRef = if want
            .fields()
            .iter()
            .all(|f| have.field_with_name(f.name()).is_ok())
        {
            have
        } else {
            let fields: Vec<_> = want
                .fields()
                .iter()
                .map(|f| {
                    have.field_with_name(f.name())
                        .map(|h| Arc::new(h.clone()))
                        .unwrap_or_else(|_| f.clone())
                })
                .collect();
            Arc::new(Schema::new(fields))
        };
        // Each file as a full URL (scheme kept, path percent-encoded), read as exactly that
        // object: no glob, whatever characters the store's folder has.
        let root = table.table_url().as_str().trim_end_matches('/').to_owned();
        let urls = table
            .snapshot()
            .map_err(delta)?
            .log_data()
            .into_iter()
            .map(|add| {
                let url = format!("{root}/{}", add.object_store_path());
                let url = url::Url::parse(&url).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!(
                        "{}: file {url}: {e}",
                        def.name
                    ))
                })?;
                ListingTableUrl::try_new(url, None)
            })
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        if urls.is_empty() {
            return empty_relation(&schema);
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let options = ListingOptions::new(Arc::new(format)).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        Ok(Arc::new(ListingTable::try_new(config)?))
    }
}

/// No rows, with `schema`'s columns: a view over an empty relation (serialisable, unlike an
/// in-memory table).
fn empty_relation(schema: &SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| Ok(lit(ScalarValue::try_from(f.data_type())?).alias(f.name())))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let plan = LogicalPlanBuilder::empty(false).project(columns)?.build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}
