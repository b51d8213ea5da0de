//! Pages read by keys: a page about one experiment asks the same views as anyone (the SQL of
//! [`crate::views`], unchanged), but with each store relation those views read narrowed to the
//! rows the page can need — `store.current_sweeps` to the experiment's sweeps,
//! `store.current_logistical_samples` to their crystals, … — so every table is scanned with a
//! static filter on a key column (bloom filters, statistics) instead of whole, whatever the
//! store's size. The keys come from a first round of such lookups. Statements are the views'
//! fixed text with `$n` placeholders; values only ever travel as parameters.

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::lookups::{ExperimentPage, param};
use crate::views::VIEWS;

/// Parameters of one statement: `$1` first, lists appended as `$k, $k+1, …`.
struct Params(Vec<ScalarValue>);

impl Params {
    /// Placeholders for `items` (`NULL` for none: `x IN (NULL)` holds for no row).
    fn list(&mut self, items: &[String]) -> String {
        if items.is_empty() {
            return "NULL".to_owned();
        }
        let first = self.0.len() + 1;
        self.0.extend(items.iter().map(|i| param(i)));
        (first..first + items.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `view`'s SELECT with relations replaced: `(relation, replacement)` — a store relation by
/// `(SELECT * FROM relation WHERE condition)`, or a view by its own narrowed SELECT.
fn narrowed(view: &str, replace: &[(&str, String)]) -> Result<String> {
    let mut sql = VIEWS
        .iter()
        .find(|v| v.name == view)
        .ok_or_else(|| DataFusionError::Internal(format!("no view {view}")))?
        .sql
        .to_owned();
    for (relation, by) in replace {
        let pattern = format!(" {relation} ");
        if !sql.contains(&pattern) {
            return Err(DataFusionError::Internal(format!(
                "view {view} does not read {relation}"
            )));
        }
        sql = sql.replace(&pattern, &format!(" ({by}) "));
    }
    Ok(sql)
}

fn only(relation: &str, condition: String) -> String {
    format!("SELECT * FROM {relation} WHERE {condition}")
}

async fn run(ctx: &SessionContext, sql: String, params: Params) -> Result<Vec<RecordBatch>> {
    ctx.sql(&sql)
        .await?
        .with_param_values(ParamValues::List(
            params.0.into_iter().map(Into::into).collect(),
        ))?
        .collect()
        .await
}

/// One text column of a key lookup, distinct, nulls left out.
async fn keys(ctx: &SessionContext, sql: &str, params: Params) -> Result<Vec<String>> {
    let rows = crate::as_text(&run(ctx, sql.to_owned(), params).await?)?;
    let mut out: Vec<String> = rows.into_iter().flatten().flatten().collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Everything the experiment page shows of `uuid`, each view narrowed to its keys.
pub(crate) async fn experiment_page(ctx: &SessionContext, uuid: &str) -> Result<ExperimentPage> {
    let one = || Params(vec![param(uuid)]);
    // Round 1: the experiment's own keys.
    let (job_keys, sweeps) = tokio::try_join!(
        keys(
            ctx,
            "SELECT sample_uuid FROM store.current_jobs WHERE uuid = $1 \
             UNION ALL SELECT logistical_sample_uuid FROM store.current_jobs WHERE uuid = $1",
            one()
        ),
        keys(
            ctx,
            "SELECT uuid FROM store.current_sweeps WHERE experiment_uuid = $1",
            one()
        ),
    )?;
    if job_keys.len() > 256 || sweeps.len() > 256 {
        return crate::lookups::experiment_page_by_views(ctx, uuid).await;
    }
    let mut p = one();
    let crystals_sql = format!(
        "SELECT logistical_sample_uuid FROM store.current_sweeps WHERE experiment_uuid = $1 \
         UNION ALL SELECT uuid FROM store.current_logistical_samples WHERE uuid IN ({})",
        p.list(&job_keys)
    );
    let mut q = one();
    let series_sql = format!(
        "SELECT path FROM store.image_series WHERE sweep_uuid IN ({})",
        q.list(&sweeps)
    );
    let mut r = one();
    let ids_sql = format!(
        "SELECT value FROM store.identifiers WHERE kind = 'identifier' AND object_uuid IN ({})",
        r.list(&sweeps)
    );
    let (crystals, paths, collection_ids) = tokio::try_join!(
        keys(ctx, &crystals_sql, p),
        keys(ctx, &series_sql, q),
        keys(ctx, &ids_sql, r),
    )?;
    // Round 2: the processing jobs that may have read them (by any of the three links).
    let mut p = one();
    let candidates_sql = format!(
        "SELECT processing_uuid FROM store.processing_inputs WHERE sweep_uuid IN ({}) \
         UNION ALL SELECT processing_uuid FROM store.processing_inputs WHERE path IN ({}) \
         UNION ALL SELECT processing_uuid FROM store.processing_inputs WHERE CAST(data_collection_id AS VARCHAR) IN ({})",
        p.list(&sweeps),
        p.list(&paths),
        p.list(&collection_ids)
    );
    let processing = keys(ctx, &candidates_sql, p).await?;
    // Lists of thousands in one statement exhaust the planner's stack: such an experiment is
    // read from the whole views.
    if [
        &job_keys,
        &sweeps,
        &crystals,
        &paths,
        &collection_ids,
        &processing,
    ]
    .iter()
    .any(|l| l.len() > 256)
    {
        return crate::lookups::experiment_page_by_views(ctx, uuid).await;
    }

    // Round 3: the page's views, each narrowed to these keys.
    let experiment_view = |p: &mut Params| -> Result<String> {
        narrowed(
            "experiments",
            &[
                (
                    "store.current_jobs",
                    only("store.current_jobs", "uuid = $1".into()),
                ),
                (
                    "store.current_samples",
                    only(
                        "store.current_samples",
                        format!("uuid IN ({})", p.list(&job_keys)),
                    ),
                ),
                (
                    "store.sessions",
                    only("store.sessions", "object_uuid = $1".into()),
                ),
                (
                    "store.current_sweeps",
                    only("store.current_sweeps", "experiment_uuid = $1".into()),
                ),
            ],
        )
    };
    let sweeps_view = |p: &mut Params| -> Result<String> {
        narrowed(
            "sweeps",
            &[
                (
                    "store.current_sweeps",
                    only("store.current_sweeps", "experiment_uuid = $1".into()),
                ),
                (
                    "store.current_jobs",
                    only("store.current_jobs", "uuid = $1".into()),
                ),
                (
                    "store.sessions",
                    only("store.sessions", "object_uuid = $1".into()),
                ),
                (
                    "store.current_logistical_samples",
                    only(
                        "store.current_logistical_samples",
                        format!("uuid IN ({})", p.list(&crystals)),
                    ),
                ),
                (
                    "store.scans",
                    only("store.scans", "experiment_uuid = $1".into()),
                ),
            ],
        )
    };
    let mut p = one();
    let experiment_sql = format!(
        "SELECT * FROM ({}) WHERE experiment_uuid = $1",
        experiment_view(&mut p)?
    );
    let experiment = run(ctx, experiment_sql, p);
    let mut q = one();
    let sweeps_sql = format!(
        "SELECT * FROM ({}) WHERE experiment_uuid = $1",
        sweeps_view(&mut q)?
    );
    let sweep_rows = run(ctx, sweeps_sql, q);
    let wedges = crate::lookups::fixed(
        ctx,
        "SELECT * FROM scans WHERE experiment_uuid = $1 ORDER BY ordinal",
        vec![param(uuid)],
    );
    let mut r = one();
    let jobs = r.list(&processing);
    let inputs_view = narrowed(
        "processing_inputs",
        &[
            (
                "store.processing_inputs",
                only(
                    "store.processing_inputs",
                    format!("processing_uuid IN ({jobs})"),
                ),
            ),
            (
                "store.current_jobs",
                only("store.current_jobs", format!("uuid IN ({jobs})")),
            ),
            (
                "store.image_series",
                only(
                    "store.image_series",
                    format!("sweep_uuid IN ({})", r.list(&sweeps)),
                ),
            ),
            (
                "store.identifiers",
                only(
                    "store.identifiers",
                    format!("object_uuid IN ({})", r.list(&sweeps)),
                ),
            ),
            (
                "store.current_sweeps",
                only("store.current_sweeps", "experiment_uuid = $1".into()),
            ),
            ("sweeps", sweeps_view(&mut r)?),
        ],
    )?;
    let processing_view = narrowed(
        "processing",
        &[
            (
                "store.current_jobs",
                only("store.current_jobs", format!("uuid IN ({jobs})")),
            ),
            (
                "store.processing_inputs",
                only(
                    "store.processing_inputs",
                    format!("processing_uuid IN ({jobs})"),
                ),
            ),
        ],
    )?;
    let processing_sql = format!(
        "SELECT DISTINCT i.processing_uuid, p.program_name, p.job_status FROM ({inputs_view}) i \
         LEFT JOIN ({processing_view}) p ON p.processing_uuid = i.processing_uuid \
         WHERE i.experiment_uuid = $1 ORDER BY i.processing_uuid"
    );
    let processing = run(ctx, processing_sql, r);
    let (experiment, sweeps, wedges, processing) =
        tokio::try_join!(experiment, sweep_rows, wedges, processing)?;
    Ok(ExperimentPage {
        experiment,
        sweeps,
        wedges,
        processing,
    })
}
