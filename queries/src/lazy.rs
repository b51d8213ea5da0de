//! Lazy registration: a session names every table of every site and every view, but opens a
//! Delta table — and plans a view — only when a query first names it (then keeps it for the
//! session). A page that reads two views opens the tables those two views read, not the 28
//! tables of every site; opening a table reads its last checkpoint and the commits after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;
use mxpipe_store::{Store, tables};

/// The session's state, reached from a schema without keeping the session alive (the session
/// holds the schema: a strong reference back would never be freed).
type StateRef = Box<dyn Fn() -> Option<SessionState> + Send + Sync>;

fn state_ref(ctx: &SessionContext) -> StateRef {
    let weak = ctx.state_weak_ref();
    Box::new(move || weak.upgrade().map(|s| s.read().clone()))
}

fn state_of(state: &StateRef) -> Result<SessionState> {
    state().ok_or_else(|| DataFusionError::Internal("the session is gone".into()))
}

/// One site's Delta tables (`site_<i>`), each opened on first use.
pub(crate) struct SiteTables {
    store: Store,
    /// Parquet listing tables of the snapshots (for a cluster) instead of Delta providers.
    listing: bool,
    state: StateRef,
    opened: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

impl std::fmt::Debug for SiteTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SiteTables({})", self.store.root())
    }
}

impl SiteTables {
    pub(crate) fn new(store: Store, ctx: &SessionContext, listing: bool) -> SiteTables {
        SiteTables {
            store,
            listing,
            state: state_ref(ctx),
            opened: Mutex::default(),
        }
    }
}

#[async_trait]
impl SchemaProvider for SiteTables {
    fn table_names(&self) -> Vec<String> {
        tables::ALL.iter().map(|t| t.name.to_owned()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(def) = tables::by_name(name) else {
            return Ok(None);
        };
        if let Some(t) = self.opened.lock().expect("not poisoned").get(name) {
            return Ok(Some(t.clone()));
        }
        let state = state_of(&self.state)?;
        let external = |e| DataFusionError::External(Box::new(e));
        let provider: Arc<dyn TableProvider> = if self.listing {
            // As it is: a wrapper would not travel to the executors.
            self.store
                .listing_provider(def, &state)
                .await
                .map_err(external)?
        } else {
            let delta = self.store.provider(def, &state).await.map_err(external)?;
            Arc::new(FiltersKept(delta))
        };
        self.opened
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), provider.clone());
        Ok(Some(provider))
    }

    fn table_exist(&self, name: &str) -> bool {
        tables::by_name(name).is_some()
    }
}

/// Views (`store.` building blocks, or the users' views) planned on first use; tables and views
/// registered later (`CREATE VIEW` in a session) are kept beside them.
pub(crate) struct LazyViews {
    definitions: HashMap<String, String>,
    state: StateRef,
    planned: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

impl LazyViews {
    /// Views named by `definitions` (name → SELECT), planned in `ctx` when first named.
    pub(crate) fn new(definitions: Vec<(String, String)>, ctx: &SessionContext) -> LazyViews {
        LazyViews {
            definitions: definitions.into_iter().collect(),
            state: state_ref(ctx),
            planned: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for LazyViews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyViews({} definitions)", self.definitions.len())
    }
}

#[async_trait]
impl SchemaProvider for LazyViews {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.definitions.keys().cloned().collect();
        for name in self.planned.lock().expect("not poisoned").keys() {
            if !self.definitions.contains_key(name) {
                names.push(name.clone());
            }
        }
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.planned.lock().expect("not poisoned").get(name) {
            return Ok(Some(t.clone()));
        }
        let Some(sql) = self.definitions.get(name) else {
            return Ok(None);
        };
        // Planned without holding the lock: a view's plan names other views of this schema.
        let state = state_of(&self.state)?;
        let plan = state
            .create_logical_plan(sql)
            .await
            .map_err(|e| e.context(format!("defining view {name}")))?;
        let view: Arc<dyn TableProvider> = Arc::new(ViewTable::new(plan, Some(sql.clone())));
        self.planned
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), view.clone());
        Ok(Some(view))
    }

    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self
            .planned
            .lock()
            .expect("not poisoned")
            .insert(name, table))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.planned.lock().expect("not poisoned").remove(name))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.definitions.contains_key(name)
            || self
                .planned
                .lock()
                .expect("not poisoned")
                .contains_key(name)
    }
}

/// A table whose scan applies the filters pushed into it (Parquet statistics, bloom filters,
/// row filters) while the plan keeps them too: the engine then estimates a filtered scan at a
/// fraction of the table (`crate::session_config`), not at the whole table, and builds its hash
/// joins on the looked-up rows instead of on the tables they join.
#[derive(Debug)]
struct FiltersKept(Arc<dyn TableProvider>);

#[async_trait]
impl TableProvider for FiltersKept {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.0.table_type()
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::prelude::Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&datafusion::prelude::Expr],
    ) -> Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        use datafusion::logical_expr::TableProviderFilterPushDown as P;
        Ok(self
            .0
            .supports_filters_pushdown(filters)?
            .into_iter()
            .map(|p| if p == P::Exact { P::Inexact } else { p })
            .collect())
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.0.statistics()
    }
}
