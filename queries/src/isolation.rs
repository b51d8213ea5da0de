//! Proposal isolation: a session whose every table yields only the rows of some proposals, for a
//! token limited to them (`mxpipe serve`).
//!
//! The rule is *filter inside the scan*. Each `store.` table of the unrestricted session is
//! joined (semi-join) with the set of objects the proposals may see, and registered in a fresh
//! session as a [`ConfinedTable`]: a table provider that accepts no filter, projection expression
//! or statistics request from the user's plan and hands the user's plan a leaf node
//! ([`StreamingTableExec`]) whose streams run the already-filtered plan. The user's predicates,
//! casts, divisions and joins are therefore evaluated only on rows of those proposals — never on
//! another proposal's row, so neither an answer nor an error message can carry one. The views
//! (`samples`, `sweeps`, …) are then defined over the confined tables with the same SQL as
//! everywhere else, so aggregates inside views (a sample's barcodes, a sweep's image range) see
//! the same filtered inputs. The confined `store.` tables are dropped from the catalogue once the
//! views are defined: a limited token reads the views only.
//!
//! What a proposal may see: its jobs (experiments and processing whose visit is `CODE-n`), their
//! sweeps, scans, files, reflection sets and statistics, SSX rows; the samples and logistical
//! samples (crystal, pin, puck, …, up the container chain) its jobs and sweeps name. Nothing of the
//! commit log, source files or catalogue ids.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::JoinType;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::TableType;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::{DataFrame, Expr, SessionConfig, SessionContext};
use futures::StreamExt;

use mxpipe_store::tables;

use crate::views;

/// The objects a set of proposals may see, by kind (uuids).
#[derive(Debug, Default, Clone)]
pub struct Visible {
    /// Jobs (experiments, processing, volume scans) of the proposals' visits.
    pub jobs: HashSet<String>,
    /// Sweeps of those experiments.
    pub sweeps: HashSet<String>,
    /// Reflection sets of those processing jobs.
    pub reflection_sets: HashSet<String>,
    /// Samples named by those jobs or by the logistical samples below.
    pub samples: HashSet<String>,
    /// Crystals, pins, pucks, … named by those jobs and sweeps, and their containers.
    pub logistical_samples: HashSet<String>,
}

impl Visible {
    /// Every visible object's uuid.
    pub fn all(&self) -> HashSet<String> {
        let mut all = self.jobs.clone();
        for set in [
            &self.sweeps,
            &self.reflection_sets,
            &self.samples,
            &self.logistical_samples,
        ] {
            all.extend(set.iter().cloned());
        }
        all
    }
}

/// A session limited to some proposals, and what they may see.
#[derive(Clone)]
pub struct ConfinedSession {
    /// The session: the user views over confined tables.
    pub ctx: SessionContext,
    /// The objects the proposals may see (for answers built outside SQL, e.g. MXLIMS exports).
    pub visible: Arc<HashSet<String>>,
    /// The same, by kind (to confine a cluster session, [`confine_on_cluster`]).
    pub kinds: Arc<Visible>,
}

/// The visits of proposals: `visit = 'P'` or `P-<number>` for each proposal code `P` (so the
/// code `MX` does not match the visit `MX-2345-1` of proposal `MX-2345`); no proposal, no visit.
pub fn visit_predicate(proposals: &[String]) -> String {
    let parts: Vec<String> = proposals
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let quoted = p.replace('\'', "''");
            let pattern: String = quoted
                .chars()
                .flat_map(|c| {
                    let special = "\\.+*?()|[]{}^$#&-~".contains(c);
                    special
                        .then_some('\\')
                        .into_iter()
                        .chain(std::iter::once(c))
                })
                .collect();
            format!("visit = '{quoted}' OR regexp_like(visit, '^{pattern}-[0-9]+$')")
        })
        .collect();
    if parts.is_empty() {
        "false".to_owned()
    } else {
        parts.join(" OR ")
    }
}

/// A fresh session sharing `admin`'s runtime (its object stores), with only the functions a user
/// needs (no engine version).
pub fn user_session(admin: &SessionContext) -> SessionContext {
    let ctx = SessionContext::new_with_config_rt(
        SessionConfig::new().with_information_schema(true),
        admin.runtime_env(),
    );
    // The engine and its version are the server's business.
    ctx.deregister_udf("version");
    ctx
}

/// The uuids of one column of a query's answer (nulls left out).
async fn uuids(ctx: &SessionContext, sql: &str) -> Result<HashSet<String>> {
    let mut out = HashSet::new();
    for batch in ctx.sql(sql).await?.collect().await? {
        let column = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let strings = column
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| DataFusionError::Internal("uuid column is not text".into()))?;
        out.extend(strings.iter().flatten().map(str::to_owned));
    }
    Ok(out)
}

fn in_list(set: &HashSet<String>) -> String {
    if set.is_empty() {
        return "NULL".to_owned();
    }
    set.iter()
        .map(|u| format!("'{}'", u.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `proposals` may see in the unrestricted session `admin` (its `store.` views).
pub async fn visible(admin: &SessionContext, proposals: &[String]) -> Result<Visible> {
    let visit = visit_predicate(proposals);
    let jobs_sql = format!("SELECT uuid FROM store.current_jobs WHERE {visit}");
    let jobs = uuids(admin, &jobs_sql).await?;
    let sweeps = uuids(
        admin,
        &format!("SELECT uuid FROM store.current_sweeps WHERE experiment_uuid IN ({jobs_sql})"),
    )
    .await?;
    let reflection_sets = uuids(
        admin,
        &format!(
            "SELECT uuid FROM store.current_reflection_sets WHERE processing_uuid IN ({jobs_sql})"
        ),
    )
    .await?;
    let mut logistical = uuids(
        admin,
        &format!(
            "SELECT logistical_sample_uuid FROM store.current_jobs WHERE {visit} \
             UNION SELECT logistical_sample_uuid FROM store.current_sweeps WHERE experiment_uuid IN ({jobs_sql})"
        ),
    )
    .await?;
    // Up the container chain (crystal → pin → puck → dewar → shipment), to a fixed point.
    for _ in 0..16 {
        let up = uuids(
            admin,
            &format!(
                "SELECT container_uuid FROM store.current_logistical_samples WHERE uuid IN ({})",
                in_list(&logistical)
            ),
        )
        .await?;
        let before = logistical.len();
        logistical.extend(up);
        if logistical.len() == before {
            break;
        }
    }
    let mut samples = uuids(
        admin,
        &format!(
            "SELECT sample_uuid FROM store.current_jobs WHERE {visit} \
             UNION SELECT sample_uuid FROM store.current_logistical_samples WHERE uuid IN ({})",
            in_list(&logistical)
        ),
    )
    .await?;
    // A sample's parent (derived samples) and medium.
    let related = uuids(
        admin,
        &format!(
            "SELECT parent_uuid FROM store.current_samples WHERE uuid IN ({0}) \
             UNION SELECT medium_uuid FROM store.current_samples WHERE uuid IN ({0})",
            in_list(&samples)
        ),
    )
    .await?;
    samples.extend(related);
    Ok(Visible {
        jobs,
        sweeps,
        reflection_sets,
        samples,
        logistical_samples: logistical,
    })
}

/// Which visible set limits a table, and by which column (`None`: no row is visible).
fn rule<'a>(
    table: &str,
    v: &'a Visible,
    all: &'a HashSet<String>,
) -> Option<(&'static str, &'a HashSet<String>)> {
    Some(match table {
        "jobs" => ("uuid", &v.jobs),
        "sessions" => ("object_uuid", &v.jobs),
        "ssx_runs" => ("experiment_uuid", &v.jobs),
        "sweeps" => ("uuid", &v.sweeps),
        "scans" | "scan_files" | "data_files" | "axis_positions" | "image_series" => {
            ("sweep_uuid", &v.sweeps)
        }
        "processing_inputs" | "result_files" | "reflection_sets" | "ssx_data_reduction"
        | "ssx_frames" | "ssx_lattices" => ("processing_uuid", &v.jobs),
        "reflection_statistics" => ("reflection_set_uuid", &v.reflection_sets),
        "samples" => ("uuid", &v.samples),
        "logistical_samples" => ("uuid", &v.logistical_samples),
        "sample_pids" | "identifiers" | "extensions" => ("object_uuid", all),
        "objects" => ("uuid", all),
        // Which versions are not current: needed for the current state of what is visible.
        "superseded" => ("uuid", all),
        "links" => ("from_uuid", all),
        // The commit log, sources, messages and catalogue ids: nothing.
        _ => return None,
    })
}

/// One `store.` table of `admin` limited to the rows `rule` allows.
async fn confined_table(
    admin: &SessionContext,
    table: &str,
    visible: &Visible,
    all: &HashSet<String>,
) -> Result<DataFrame> {
    let df = admin.table(format!("store.{table}").as_str()).await?;
    let Some((column, set)) = rule(table, visible, all) else {
        return df.limit(0, Some(0));
    };
    let key = "__visible_uuid";
    let schema = Arc::new(Schema::new(vec![Field::new(key, DataType::Utf8, false)]));
    let mut list: Vec<&str> = set.iter().map(String::as_str).collect();
    list.sort_unstable();
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(list))])?;
    let keys = admin.read_table(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    df.join(keys, JoinType::LeftSemi, &[column], &[key], None)
}

/// A session over the views of `admin` in which every row belongs to `proposals` (see the module
/// documentation). `admin` must hold the `store.` views of [`crate::open_sites`].
pub async fn confine(admin: &SessionContext, proposals: &[String]) -> Result<ConfinedSession> {
    let visible = visible(admin, proposals).await?;
    let all = visible.all();
    let ctx = user_session(admin);
    ctx.sql("CREATE SCHEMA store").await?;
    for def in tables::ALL {
        let df = confined_table(admin, def.name, &visible, &all).await?;
        ctx.register_table(
            format!("store.{}", def.name).as_str(),
            Arc::new(ConfinedTable::new(df)),
        )?;
    }
    define_views_over_confined(&ctx).await?;
    Ok(ConfinedSession {
        ctx,
        visible: Arc::new(all),
        kinds: Arc::new(visible),
    })
}

/// The views of `ctx` defined over its confined `store.` tables, which then leave the catalogue
/// (the views hold their plans; a limited token reads the views only).
async fn define_views_over_confined(ctx: &SessionContext) -> Result<()> {
    for v in views::VIEWS {
        ctx.sql(&format!("CREATE VIEW {} AS {}", v.name, v.sql))
            .await
            .map_err(|e| e.context(format!("defining view {}", v.name)))?;
    }
    for name in tables::ALL.iter().map(|d| d.name).chain(
        views::VIEWS
            .iter()
            .filter_map(|v| v.name.strip_prefix("store.")),
    ) {
        ctx.deregister_table(format!("store.{name}").as_str())?;
    }
    Ok(())
}

/// No limit, as a LIMIT the engine keeps: `i64::MAX` rows (a larger count is not a limit once
/// serialised, and the planner would drop it).
const NO_LIMIT: usize = i64::MAX as usize;

/// A session on a Ballista cluster in which every row belongs to the objects `visible` may see:
/// the cluster's counterpart of [`confine`]. `admin` is a cluster session of
/// [`crate::open_sites_on`]; the result is a fresh session of `engine` holding the user views
/// only.
///
/// A [`ConfinedTable`] cannot travel to executors, so the same barrier is built from plan nodes
/// Ballista carries: each `store.` table is semi-joined with the visible uuids (a `VALUES` list)
/// under a `LIMIT` of `i64::MAX` rows. The logical optimiser moves no filter and no expression of
/// the user's query below a limit; the physical planner (here and, again, on the scheduler) pushes
/// the limit's count into the join's output and would pass only dynamic filters down, which this
/// session turns off. The user's predicates, casts and joins meet only visible rows on every
/// executor (`tests/it/cluster.rs` tries casts, joins, aggregates and a top-k on another
/// proposal's values).
pub async fn confine_on_cluster(
    admin: &SessionContext,
    engine: &crate::cluster::Engine,
    visible: &Visible,
) -> Result<SessionContext> {
    let all = visible.all();
    let ctx = engine
        .session()
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    // The engine and its version are the server's business.
    ctx.deregister_udf("version");
    // Dynamic filters (a top-k threshold, a join's build-side bounds) are evaluated in scans, below
    // the barrier: none are made here.
    for setting in [
        "enable_dynamic_filter_pushdown",
        "enable_topk_dynamic_filter_pushdown",
        "enable_join_dynamic_filter_pushdown",
        "enable_aggregate_dynamic_filter_pushdown",
    ] {
        ctx.sql(&format!("SET datafusion.optimizer.{setting} = false"))
            .await?;
    }
    ctx.sql("CREATE SCHEMA store").await?;
    let key = "__visible_uuid";
    for def in tables::ALL {
        let df = admin.table(format!("store.{}", def.name).as_str()).await?;
        let confined = match rule(def.name, visible, &all) {
            Some((column, set)) if !set.is_empty() => {
                let mut list: Vec<&str> = set.iter().map(String::as_str).collect();
                list.sort_unstable();
                let rows: Vec<Vec<Expr>> = list
                    .into_iter()
                    .map(|u| vec![datafusion::prelude::lit(u)])
                    .collect();
                let keys = LogicalPlanBuilder::values(rows)?
                    .project(vec![datafusion::prelude::col("column1").alias(key)])?
                    .build()?;
                let keys = DataFrame::new(admin.state(), keys);
                df.join(keys, JoinType::LeftSemi, &[column], &[key], None)?
                    .limit(0, Some(NO_LIMIT))?
            }
            _ => df.limit(0, Some(0))?,
        };
        ctx.register_table(format!("store.{}", def.name).as_str(), confined.into_view())?;
    }
    define_views_over_confined(&ctx).await?;
    Ok(ctx)
}

/// A table whose rows come from a fixed plan that the user's query cannot reach into: no filter
/// pushed down, no expression evaluated below it, no statistics passed up (a count or max of the
/// underlying files would describe rows it does not yield).
#[derive(Debug)]
pub struct ConfinedTable {
    plan: LogicalPlan,
    schema: SchemaRef,
}

impl ConfinedTable {
    /// The rows of `df`, confined.
    pub fn new(df: DataFrame) -> ConfinedTable {
        let schema = Arc::new(df.schema().as_arrow().clone());
        ConfinedTable {
            plan: df.into_unoptimized_plan(),
            schema,
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for ConfinedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        // Not a view: its plan is never inlined into the user's.
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut builder = LogicalPlanBuilder::from(self.plan.clone());
        let schema = match projection {
            Some(p) => {
                builder = builder.select(p.iter().copied())?;
                Arc::new(self.schema.project(p)?)
            }
            None => self.schema.clone(),
        };
        if limit.is_some() {
            builder = builder.limit(0, limit)?;
        }
        let inner = state.create_physical_plan(&builder.build()?).await?;
        let partitions: Vec<Arc<dyn PartitionStream>> =
            (0..inner.properties().output_partitioning().partition_count())
                .map(|i| {
                    Arc::new(ConfinedPartition {
                        plan: inner.clone(),
                        partition: i,
                        schema: schema.clone(),
                    }) as Arc<dyn PartitionStream>
                })
                .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            None,
            Vec::new(),
            false,
            None,
        )?))
    }
}

/// One output partition of a confined table's plan, run when the user's plan reads it.
#[derive(Debug)]
struct ConfinedPartition {
    plan: Arc<dyn ExecutionPlan>,
    partition: usize,
    schema: SchemaRef,
}

impl PartitionStream for ConfinedPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let stream = match self.plan.execute(self.partition, ctx) {
            Ok(s) => s,
            Err(e) => {
                return Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::once(async move { Err(e) }),
                ));
            }
        };
        // The batches carry the table's schema (the plan's may differ in nullability).
        let relabel = schema.clone();
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.map(move |b| {
                let b = b?;
                let options =
                    arrow::array::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                RecordBatch::try_new_with_options(relabel.clone(), b.columns().to_vec(), &options)
                    .map_err(DataFusionError::from)
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::visit_predicate;

    #[test]
    fn a_proposal_matches_its_visits_only() {
        let p = visit_predicate(&["MX".into(), "a.b'c".into(), "".into()]);
        assert!(p.contains("regexp_like(visit, '^MX-[0-9]+$')"), "{p}");
        assert!(
            p.contains("visit = 'a.b''c' OR regexp_like(visit, '^a\\.b''c-[0-9]+$')"),
            "{p}"
        );
        assert_eq!(visit_predicate(&["".into()]), "false");
    }
}
