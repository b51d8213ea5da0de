//! What other crates ask of the views, as typed functions: the statements are fixed text with
//! `$n` parameters (or DataFrame expressions for lists), never SQL assembled from values. The
//! web pages, the pipeline's barcode warning, repackaging and the PID minting call these.

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::error::Result;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;

/// View names, for the crates that read them.
pub mod view {
    /// One row per experiment (latest version).
    pub const EXPERIMENTS: &str = "experiments";
    /// One row per sweep.
    pub const SWEEPS: &str = "sweeps";
    /// One row per scan (wedge).
    pub const SCANS: &str = "scans";
    /// One row per image.
    pub const IMAGE_INDEX: &str = "image_index";
    /// One row per processing job.
    pub const PROCESSING: &str = "processing";
    /// One row per processing input.
    pub const PROCESSING_INPUTS: &str = "processing_inputs";
    /// One row per reflection set.
    pub const REFLECTION_SETS: &str = "reflection_sets";
    /// One row per resolution shell.
    pub const REFLECTION_SHELLS: &str = "reflection_shells";
    /// One row per sample.
    pub const SAMPLES: &str = "samples";
    /// One row per crystal.
    pub const CRYSTALS: &str = "crystals";
    /// One row per barcode seen with more than one sample identity.
    pub const BARCODE_REUSE: &str = "barcode_reuse";
    /// One row per SSX frame.
    pub const SSX_FRAMES: &str = "ssx_frames";
    /// One row per SSX lattice.
    pub const SSX_LATTICES: &str = "ssx_lattices";
    /// One row per SSX run summary.
    pub const SSX_RUNS: &str = "ssx_runs";
    /// One row per committed ingest run.
    pub const INGESTS: &str = "ingests";
}

/// Run one fixed statement with its parameters (`$1`, `$2`, …). The text is `'static`: values
/// only ever travel as parameters.
pub async fn fixed(
    ctx: &SessionContext,
    sql: &'static str,
    params: Vec<ScalarValue>,
) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await?;
    let df = if params.is_empty() {
        df
    } else {
        df.with_param_values(ParamValues::List(
            params.into_iter().map(Into::into).collect(),
        ))?
    };
    df.collect().await
}

/// The rows of the experiment page.
#[derive(Debug, Default)]
pub struct ExperimentPage {
    /// The experiment (none: no such experiment, or not visible).
    pub experiment: Vec<RecordBatch>,
    /// Its sweeps.
    pub sweeps: Vec<RecordBatch>,
    /// Its scans, in acquisition order.
    pub wedges: Vec<RecordBatch>,
    /// The processing jobs that used it (uuid, program, status).
    pub processing: Vec<RecordBatch>,
}

/// Everything the experiment page shows of `uuid`, read together.
pub async fn experiment_page(ctx: &SessionContext, uuid: &str) -> Result<ExperimentPage> {
    // Over the store's relations, each view narrowed to the experiment's keys; a session
    // confined to some proposals holds no store relations (its views are fixed plans over rows
    // already limited to what it may see): the views as they are.
    if ctx.table_exist("store.current_jobs")? {
        return crate::narrow::experiment_page(ctx, uuid).await;
    }
    experiment_page_by_views(ctx, uuid).await
}

/// [`experiment_page`] from the views as they are, unnarrowed (for a confined session, and the
/// reference its narrowed reads are tested against).
pub async fn experiment_page_by_views(ctx: &SessionContext, uuid: &str) -> Result<ExperimentPage> {
    let u = || vec![param(uuid)];
    let (experiment, sweeps, wedges, processing) = tokio::try_join!(
        fixed(
            ctx,
            "SELECT * FROM experiments WHERE experiment_uuid = $1",
            u()
        ),
        fixed(ctx, "SELECT * FROM sweeps WHERE experiment_uuid = $1", u()),
        fixed(
            ctx,
            "SELECT * FROM scans WHERE experiment_uuid = $1 ORDER BY ordinal",
            u()
        ),
        fixed(
            ctx,
            "SELECT DISTINCT i.processing_uuid, p.program_name, p.job_status FROM processing_inputs i \
             LEFT JOIN processing p ON p.processing_uuid = i.processing_uuid WHERE i.experiment_uuid = $1 ORDER BY i.processing_uuid",
            u()
        ),
    )?;
    Ok(ExperimentPage {
        experiment,
        sweeps,
        wedges,
        processing,
    })
}

/// One sample (latest version).
pub async fn sample(ctx: &SessionContext, uuid: &str) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT * FROM samples WHERE sample_uuid = $1",
        vec![param(uuid)],
    )
    .await
}

/// One crystal (latest version).
pub async fn crystal(ctx: &SessionContext, uuid: &str) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT * FROM crystals WHERE crystal_uuid = $1",
        vec![param(uuid)],
    )
    .await
}

/// A barcode seen with more than one sample identity (a `barcode_reuse` row, as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BarcodeReuse {
    /// The barcode.
    pub barcode: String,
    /// How many sample identities carried it.
    pub identities: String,
    /// Their PIDs (empty: none yet).
    pub pids: String,
    /// Their sample names.
    pub sample_names: String,
    /// When it was first seen.
    pub first_seen: String,
    /// When it was last seen.
    pub last_seen: String,
}

/// Which of these barcodes were seen with more than one sample identity, by barcode.
pub async fn barcode_reuse(ctx: &SessionContext, barcodes: &[String]) -> Result<Vec<BarcodeReuse>> {
    if barcodes.is_empty() {
        return Ok(Vec::new());
    }
    let columns = [
        "barcode",
        "identities",
        "pids",
        "sample_names",
        "first_seen",
        "last_seen",
    ];
    let batches = ctx
        .table(view::BARCODE_REUSE)
        .await?
        .filter(col("barcode").in_list(barcodes.iter().map(|b| lit(b.as_str())).collect(), false))?
        .select_columns(&columns)?
        .sort(vec![col("barcode").sort(true, false)])?
        .collect()
        .await?;
    Ok(crate::as_text(&batches)?
        .into_iter()
        .map(|row| {
            // Every column as text, a null as "".
            let mut v = row.into_iter().map(Option::unwrap_or_default);
            let mut next = || v.next().unwrap_or_default();
            BarcodeReuse {
                barcode: next(),
                identities: next(),
                pids: next(),
                sample_names: next(),
                first_seen: next(),
                last_seen: next(),
            }
        })
        .collect())
}

/// Where image `image` of scan `ordinal` of a sweep is: file, frame, data file, frame there.
pub async fn image_file(
    ctx: &SessionContext,
    experiment: &str,
    sweep: &str,
    image: i64,
    ordinal: i64,
) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT file_name, frame_in_file, data_file, frame_in_data_file FROM image_index \
         WHERE experiment_uuid = $1 AND sweep_uuid = $2 AND image_number = $3 AND scan_ordinal = $4",
        vec![param(experiment), param(sweep), ScalarValue::Int64(Some(image)), ScalarValue::Int64(Some(ordinal))],
    )
    .await
}

/// The rows of the processing page.
#[derive(Debug, Default)]
pub struct ProcessingPage {
    /// The job (none: no such processing, or not visible).
    pub job: Vec<RecordBatch>,
    /// Its inputs, in list order.
    pub inputs: Vec<RecordBatch>,
    /// Its reflection sets, in the program's order.
    pub sets: Vec<RecordBatch>,
    /// Their shells.
    pub shells: Vec<RecordBatch>,
    /// `n`: its SSX frames.
    pub frames: Vec<RecordBatch>,
}

/// Everything the processing page shows of `uuid`, read together.
pub async fn processing_page(ctx: &SessionContext, uuid: &str) -> Result<ProcessingPage> {
    let u = || vec![param(uuid)];
    let (job, inputs, sets, shells, frames) = tokio::try_join!(
        fixed(
            ctx,
            "SELECT * FROM processing WHERE processing_uuid = $1",
            u()
        ),
        fixed(
            ctx,
            "SELECT * FROM processing_inputs WHERE processing_uuid = $1 ORDER BY list_index",
            u()
        ),
        fixed(
            ctx,
            "SELECT reflection_set_uuid, label, space_group, cell_a_a, cell_b_a, cell_c_a, cell_alpha_deg, cell_beta_deg, cell_gamma_deg \
             FROM reflection_sets WHERE processing_uuid = $1 ORDER BY position NULLS LAST, reflection_set_uuid",
            u()
        ),
        fixed(
            ctx,
            "SELECT * FROM reflection_shells WHERE processing_uuid = $1 ORDER BY reflection_set_uuid, shell_index NULLS FIRST",
            u()
        ),
        fixed(
            ctx,
            "SELECT count(*) AS n FROM ssx_frames WHERE processing_uuid = $1",
            u()
        ),
    )?;
    Ok(ProcessingPage {
        job,
        inputs,
        sets,
        shells,
        frames,
    })
}

/// The rows of the SSX page.
#[derive(Debug, Default)]
pub struct SsxPage {
    /// The processing job.
    pub job: Vec<RecordBatch>,
    /// Per bin of `bin` frames: frames, hit rate, indexing rate.
    pub rates: Vec<RecordBatch>,
    /// Totals: frames, hits, indexed, lattices.
    pub counts: Vec<RecordBatch>,
    /// What the program reported (`ssx_runs` at processing level).
    pub reported: Vec<RecordBatch>,
    /// Every lattice's cell.
    pub cells: Vec<RecordBatch>,
}

/// Everything the SSX page shows of processing `uuid`, frames binned by `bin`.
pub async fn ssx_page(ctx: &SessionContext, uuid: &str, bin: i64) -> Result<SsxPage> {
    let u = || vec![param(uuid)];
    let job = fixed(
        ctx,
        "SELECT * FROM processing WHERE processing_uuid = $1",
        u(),
    )
    .await?;
    let rates = fixed(
        ctx,
        "SELECT CAST(frame_index / $2 AS BIGINT) AS bin, count(*) AS frames, \
         avg(CASE WHEN hit THEN 1.0 ELSE 0.0 END) AS hit_rate, \
         avg(CASE WHEN num_lattices > 0 THEN 1.0 ELSE 0.0 END) AS indexing_rate \
         FROM ssx_frames WHERE processing_uuid = $1 GROUP BY 1 ORDER BY 1",
        vec![param(uuid), ScalarValue::Int64(Some(bin.max(1)))],
    )
    .await?;
    let counts = fixed(
        ctx,
        "SELECT count(*) AS frames, sum(CASE WHEN hit THEN 1 ELSE 0 END) AS hits, \
         sum(CASE WHEN num_lattices > 0 THEN 1 ELSE 0 END) AS indexed, sum(num_lattices) AS lattices \
         FROM ssx_frames WHERE processing_uuid = $1",
        u(),
    )
    .await?;
    let reported = fixed(
        ctx,
        "SELECT * FROM ssx_runs WHERE level = 'processing' AND job_uuid = $1",
        u(),
    )
    .await?;
    let cells = fixed(
        ctx,
        "SELECT cell_a_a, cell_b_a, cell_c_a, cell_alpha_deg, cell_beta_deg, cell_gamma_deg \
         FROM ssx_lattices WHERE processing_uuid = $1",
        u(),
    )
    .await?;
    Ok(SsxPage {
        job,
        rates,
        counts,
        reported,
        cells,
    })
}

/// Every site's reflection-set resolutions (site, resolution_high_a), by site.
pub async fn site_resolutions(ctx: &SessionContext) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT site, resolution_high_a FROM reflection_sets WHERE resolution_high_a IS NOT NULL ORDER BY site",
        Vec::new(),
    )
    .await
}

/// The samples and crystals whose persistent identifier is `pid` (or ends with `/pid`).
pub async fn pid_owners(ctx: &SessionContext, pid: &str) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT 'Sample' AS kind, site, sample_uuid AS uuid, name, pid, pid_state, NULL AS parent_uuid, NULL AS parent_name, NULL AS parent_pid \
         FROM samples WHERE pid = $1 OR ends_with(pid, $2) \
         UNION ALL SELECT 'Crystal', c.site, c.crystal_uuid, c.name, c.pid, c.pid_state, c.sample_uuid, c.sample_name, s.pid \
         FROM crystals c LEFT JOIN samples s ON s.site = c.site AND s.sample_uuid = c.sample_uuid \
         WHERE c.pid = $1 OR ends_with(c.pid, $2)",
        vec![param(pid), param(&format!("/{pid}"))],
    )
    .await
}

/// What was measured of a sample or crystal: experiments, sweeps, results, first and last.
pub async fn measured(ctx: &SessionContext, crystal: bool, uuid: &str) -> Result<Vec<RecordBatch>> {
    let sql = if crystal {
        "SELECT count(DISTINCT e.experiment_uuid) AS experiments, \
         (SELECT count(*) FROM sweeps w WHERE w.crystal_uuid = $1) AS sweeps, \
         (SELECT count(DISTINCT r.reflection_set_uuid) FROM reflection_sets r JOIN processing_inputs i ON i.processing_uuid = r.processing_uuid \
          JOIN sweeps w ON w.sweep_uuid = i.sweep_uuid WHERE w.crystal_uuid = $1) AS results, \
         CAST(min(e.start_time) AS VARCHAR) AS first_measured, CAST(max(e.start_time) AS VARCHAR) AS last_measured \
         FROM experiments e WHERE e.crystal_uuid = $1"
    } else {
        "SELECT count(DISTINCT e.experiment_uuid) AS experiments, \
         (SELECT count(*) FROM sweeps w WHERE w.sample_uuid = $1) AS sweeps, \
         (SELECT count(DISTINCT r.reflection_set_uuid) FROM reflection_sets r JOIN processing_inputs i ON i.processing_uuid = r.processing_uuid \
          JOIN sweeps w ON w.sweep_uuid = i.sweep_uuid WHERE w.sample_uuid = $1) AS results, \
         CAST(min(e.start_time) AS VARCHAR) AS first_measured, CAST(max(e.start_time) AS VARCHAR) AS last_measured \
         FROM experiments e WHERE e.sample_uuid = $1"
    };
    fixed(ctx, sql, vec![param(uuid)]).await
}

/// Text rows of an experiment's images for repackaging.
#[derive(Debug, Default)]
pub struct ImagePlan {
    /// Per sweep: uuid, wavelength (Å), image width (°), first scan ordinal.
    pub sweeps: Vec<Vec<Option<String>>>,
    /// Per image in acquisition order: sweep uuid, scan ordinal, angle (°), path, file name,
    /// frame in file, data file, frame in data file.
    pub images: Vec<Vec<Option<String>>>,
}

/// The sweeps and images of an experiment, for repackaging.
pub async fn image_plan(ctx: &SessionContext, experiment: &str) -> Result<ImagePlan> {
    let sweeps = fixed(
        ctx,
        "SELECT w.sweep_uuid, w.wavelength_a, w.image_width_deg, \
         (SELECT min(s.ordinal) FROM scans s WHERE s.sweep_uuid = w.sweep_uuid) AS first \
         FROM sweeps w WHERE w.experiment_uuid = $1",
        vec![param(experiment)],
    )
    .await?;
    let images = fixed(
        ctx,
        "SELECT sweep_uuid, scan_ordinal AS o, scan_position_deg AS a, path, file_name, \
         frame_in_file AS f, data_file, frame_in_data_file AS d FROM image_index \
         WHERE experiment_uuid = $1 ORDER BY scan_ordinal, image_number",
        vec![param(experiment)],
    )
    .await?;
    Ok(ImagePlan {
        sweeps: crate::as_text(&sweeps)?,
        images: crate::as_text(&images)?,
    })
}

/// Every visit with its beamline, site, experiment count and first and last start (newest
/// first, at most 1 000).
pub async fn sessions(ctx: &SessionContext) -> Result<Vec<RecordBatch>> {
    fixed(
        ctx,
        "SELECT visit, beamline, site, count(*) AS experiments, min(start_time) AS first_start, \
         max(start_time) AS last_start FROM experiments GROUP BY visit, beamline, site \
         ORDER BY last_start DESC NULLS LAST LIMIT 1000",
        Vec::new(),
    )
    .await
}

/// Which experiments a list shows (every field optional; texts as the user typed them).
#[derive(Debug, Clone, Default)]
pub struct ExperimentFilter {
    /// Visits starting with this (a proposal code, or a whole visit).
    pub proposal: Option<String>,
    /// This beamline.
    pub beamline: Option<String>,
    /// Started on or after this day.
    pub from: Option<chrono::NaiveDate>,
    /// Started on or before this day (inclusive).
    pub to: Option<chrono::NaiveDate>,
    /// Sample names containing this (any case).
    pub sample: Option<String>,
    /// Keyset paging: only the experiments after this one in the list's order (start time
    /// newest first, then uuid). Cheaper than an offset: the store skips what came before.
    pub after: Option<ListAnchor>,
}

/// A row of the experiments list to continue after: its start (µs since 1970 UTC; `None` for
/// an experiment without one, listed last) and its uuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAnchor {
    /// Start time in microseconds since 1970 (UTC).
    pub start_us: Option<i64>,
    /// Experiment uuid.
    pub uuid: String,
}

impl ListAnchor {
    /// `MICROSECONDS,UUID` (or `,UUID` for no start time), as the list's `start_us` and
    /// `experiment_uuid` columns give them.
    pub fn parse(text: &str) -> Option<ListAnchor> {
        let (start, uuid) = text.split_once(',')?;
        uuid::Uuid::parse_str(uuid).ok()?;
        let start_us = if start.is_empty() {
            None
        } else {
            Some(start.parse().ok()?)
        };
        Some(ListAnchor {
            start_us,
            uuid: uuid.to_owned(),
        })
    }
}

/// One page of the experiments list, newest first: `limit` rows from `offset`.
pub async fn experiment_list(
    ctx: &SessionContext,
    filter: &ExperimentFilter,
    offset: usize,
    limit: usize,
) -> Result<Vec<RecordBatch>> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::functions::expr_fn::lower;
    use datafusion::prelude::cast;
    let day = |d: chrono::NaiveDate| {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        lit(ScalarValue::Date32(Some((d - epoch).num_days() as i32)))
    };
    let started = || cast(col("start_time"), DataType::Date32);
    let mut df = ctx.table(view::EXPERIMENTS).await?;
    if let Some(p) = &filter.proposal {
        df = df.filter(col("visit").like(lit(format!("{p}%"))))?;
    }
    if let Some(b) = &filter.beamline {
        df = df.filter(col("beamline").eq(lit(b.as_str())))?;
    }
    if let Some(d) = filter.from {
        df = df.filter(started().gt_eq(day(d)))?;
    }
    if let Some(d) = filter.to {
        df = df.filter(started().lt_eq(day(d)))?;
    }
    if let Some(s) = &filter.sample {
        df = df.filter(lower(col("sample_name")).like(lit(format!("%{}%", s.to_lowercase()))))?;
    }
    if let Some(a) = &filter.after {
        // After (t, u) in "start time newest first (none last), then uuid".
        let later_uuid = col("experiment_uuid").gt(lit(a.uuid.as_str()));
        df = df.filter(match a.start_us {
            Some(t) => {
                let at = lit(ScalarValue::TimestampMicrosecond(
                    Some(t),
                    Some("UTC".into()),
                ));
                col("start_time")
                    .lt(at.clone())
                    .or(col("start_time").eq(at).and(later_uuid))
                    .or(col("start_time").is_null())
            }
            None => col("start_time").is_null().and(later_uuid),
        })?;
    }
    df.select_columns(&[
        "experiment_uuid",
        "start_time",
        "visit",
        "beamline",
        "sample_name",
        "experiment_strategy",
        "number_sweeps",
        "job_status",
        "site",
    ])?
    .with_column("start_us", cast(col("start_time"), DataType::Int64))?
    .sort(vec![
        col("start_time").sort(false, false),
        col("experiment_uuid").sort(true, false),
    ])?
    .limit(offset, Some(limit))?
    .collect()
    .await
}

/// A fixed statement with parameters, as rows of text cells.
pub async fn fixed_text(
    ctx: &SessionContext,
    sql: &'static str,
    params: Vec<ScalarValue>,
) -> Result<Vec<Vec<Option<String>>>> {
    crate::as_text(&fixed(ctx, sql, params).await?)
}

/// A fixed statement's rows as text, only those whose `column` is one of `values` (every row
/// when `values` is `None`; none when it is empty). The list travels as an expression, never
/// as SQL text.
pub async fn fixed_text_where_in(
    ctx: &SessionContext,
    sql: &'static str,
    column: &str,
    values: Option<&[String]>,
) -> Result<Vec<Vec<Option<String>>>> {
    let df = ctx.sql(sql).await?;
    let df = match values {
        None => df,
        Some(v) => {
            df.filter(col(column).in_list(v.iter().map(|x| lit(x.as_str())).collect(), false))?
        }
    };
    crate::as_text(&df.collect().await?)
}

/// `text` as a parameter value.
pub fn param(text: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::view;

    #[test]
    fn every_view_name_constant_names_a_view() {
        let names: Vec<&str> = crate::views::VIEWS.iter().map(|v| v.name).collect();
        for c in [
            view::EXPERIMENTS,
            view::SWEEPS,
            view::SCANS,
            view::IMAGE_INDEX,
            view::PROCESSING,
            view::PROCESSING_INPUTS,
            view::REFLECTION_SETS,
            view::REFLECTION_SHELLS,
            view::SAMPLES,
            view::CRYSTALS,
            view::BARCODE_REUSE,
            view::SSX_FRAMES,
            view::SSX_LATTICES,
            view::SSX_RUNS,
            view::INGESTS,
        ] {
            assert!(names.contains(&c), "{c} is no view");
        }
    }
}
