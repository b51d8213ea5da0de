//! `mxpipe query` and `mxpipe sql`: SQL over one or many sites' stores, printed as a table, CSV,
//! JSON or Parquet.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use mxpipe_app::{AppError, Context};
use mxpipe_queries::as_of::AsOf;
use mxpipe_queries::cluster::Engine;
use mxpipe_queries::encode;

use crate::cli::{fail, is_broken_pipe};
use crate::output::QueryFormat;

/// Run SQL over one or many sites' stores (DataFusion SQL), with views for scientists.
///
/// Every site's committed rows are visible through the views (`\d` in `mxpipe sql` lists
/// them; docs/queries.md documents each). Each view has a `site` column. Raw tables are under
/// `store.` (e.g. store.sweeps). Exit status 1 for an SQL error, 2 for an unreachable site or a
/// bad command line.
#[derive(Debug, Args)]
#[command(after_help = query_help())]
pub struct QueryArgs {
    /// The SQL statement.
    sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    format: QueryFormat,
    /// Write to a file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Skip unreachable sites with a warning instead of failing.
    #[arg(long)]
    allow_missing_sites: bool,
    /// Answer as the stores were then: after an ingest run (its id, from the `ingests` view),
    /// at a time (RFC 3339, e.g. 2026-03-01T12:00:00Z) or at the end of a day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "INGEST_ID|TIME")]
    as_of: Option<String>,
    /// Run on an Apache Ballista cluster: its scheduler, df://HOST:PORT (default: [cluster] url
    /// of the configuration, else in this process). See docs/cluster.md.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    /// Give up after this many seconds (exit 1). On a cluster this bounds a job Ballista cannot
    /// finish (its recovery from a lost executor can stall; docs/cluster.md).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
}

/// The examples of `mxpipe query --help`, with the views listed from the registry.
fn query_help() -> String {
    let views: Vec<&str> = mxpipe_queries::views::user_views()
        .map(|v| v.name)
        .collect();
    format!(
        "Examples:
  mxpipe query \"SELECT sweep_uuid, energy_ev, number_images FROM sweeps\"
  mxpipe query --site ESRF=/data/esrf-store --site MAXIV=s3://mx/store \\
      \"SELECT site, avg(hit_rate) FROM ssx_runs GROUP BY site\"
  mxpipe query --format parquet --out best.parquet \"SELECT * FROM reflection_sets\"
  mxpipe query --cluster df://127.0.0.1:50050 \"SELECT site, count(*) FROM sweeps GROUP BY site\"

Sites come from --site NAME=LOCATION (repeatable), else the [sites] table of the configuration,
else the one store (--store). s3:// credentials come from the environment.
Views: {}.",
        views.join(", ")
    )
}

/// Interactive SQL shell over the same sites and views as `query`.
///
/// Statements end with `;` and may span lines. `\d` lists the views and tables, `\d NAME`
/// describes one, `\q` quits. History is appended to ~/.mxpipe_history. Reads standard
/// input, so scripts can pipe statements in.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe sql
  mxpipe sql --site ESRF=/data/esrf-store --site DLS=./mxpipe-store
  echo 'SELECT count(*) FROM sweeps;' | mxpipe sql")]
pub struct SqlArgs {
    /// Skip unreachable sites with a warning instead of failing.
    #[arg(long)]
    allow_missing_sites: bool,
    /// Answer as the stores were then (an ingest id, an RFC 3339 time or a date), as `query`.
    #[arg(long, value_name = "INGEST_ID|TIME")]
    as_of: Option<String>,
    /// Run on an Apache Ballista cluster (df://HOST:PORT), as `query`.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

/// Open the context's sites (as of a moment when given), printing the warnings for skipped ones.
pub async fn session(
    ctx: &Context,
    allow_missing_sites: bool,
    as_of: Option<&str>,
    engine: &Engine,
) -> Result<SessionContext, u8> {
    let as_of = match as_of.map(|t| AsOf::parse(t.trim())).transpose() {
        Ok(a) => a.unwrap_or_default(),
        Err(e) => return Err(fail(AppError::Usage(format!("--as-of {e}")))),
    };
    let (session, warnings) = ctx
        .session_on(allow_missing_sites, &as_of, engine)
        .await
        .map_err(fail)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(session)
}

/// [`session`] on the cluster named by `--cluster` (else `[cluster] url`), else in this process.
async fn session_on_cluster_or_here(
    ctx: &Context,
    allow_missing_sites: bool,
    as_of: Option<&str>,
    cluster: Option<&str>,
) -> Result<SessionContext, u8> {
    let engine = ctx.engine(cluster).map_err(fail)?;
    session(ctx, allow_missing_sites, as_of, &engine).await
}

/// Run the query; exit status 0, 1 (SQL error) or 2 (sites, usage, output).
pub async fn run(args: QueryArgs, ctx: &Context) -> u8 {
    if args.format == QueryFormat::Parquet && args.out.is_none() {
        return fail(AppError::usage("--format parquet needs --out FILE"));
    }
    let session = match session_on_cluster_or_here(
        ctx,
        args.allow_missing_sites,
        args.as_of.as_deref(),
        args.cluster.as_deref(),
    )
    .await
    {
        Ok(c) => c,
        Err(code) => return code,
    };
    let answered = match args.timeout {
        None => answer(&session, &args.sql).await,
        Some(secs) => {
            let limit = std::time::Duration::from_secs(secs);
            match tokio::time::timeout(limit, answer(&session, &args.sql)).await {
                Ok(answered) => answered,
                Err(_) => {
                    return fail(AppError::Failed(format!(
                        "no answer within {secs} s (--timeout); on a cluster, the scheduler's log says where the job stands"
                    )));
                }
            }
        }
    };
    let batches = match answered {
        Ok(b) => b,
        Err(e) => {
            return fail(AppError::Failed(format!(
                "{e}\n(views: `mxpipe query \"SHOW TABLES\"`; columns: docs/queries.md)"
            )));
        }
    };
    match write(&batches, args.format, args.out.as_deref()) {
        Ok(()) => 0,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => fail(AppError::Usage(e)),
    }
}

/// `mxpipe sql`: statements from a terminal (line editing, history) or standard input.
pub async fn shell(args: SqlArgs, ctx: &Context) -> u8 {
    let session = match session_on_cluster_or_here(
        ctx,
        args.allow_missing_sites,
        args.as_of.as_deref(),
        args.cluster.as_deref(),
    )
    .await
    {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::commands::shell::run(&session).await
}

/// The answer's batches; an empty answer is one empty batch with the answer's columns, so that
/// tables and CSV still show their header and Parquet keeps its schema.
pub async fn answer(
    session: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    let df = session.sql(sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(if batches.is_empty() {
        vec![RecordBatch::new_empty(schema)]
    } else {
        batches
    })
}

/// Write batches in a format to a file or standard output.
pub fn write(
    batches: &[RecordBatch],
    format: QueryFormat,
    out: Option<&Path>,
) -> Result<(), String> {
    let create = |p: &Path| {
        std::fs::File::create(p).map_err(|e| format!("{}: cannot create: {e}", p.display()))
    };
    let mut sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(create(p)?),
        None => Box::new(std::io::stdout()),
    };
    let io = |e: std::io::Error| format!("writing the result: {e}");
    match format {
        QueryFormat::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(|e| format!("writing the result: {e}"))?;
            writeln!(sink, "{text}").map_err(io)?;
            eprintln!(
                "{} row(s)",
                batches.iter().map(|b| b.num_rows()).sum::<usize>()
            );
        }
        QueryFormat::Csv => encode::csv_to(batches, sink).map_err(|e| e.to_string())?,
        QueryFormat::Json => {
            // Every column in every row, a null as `null` (not left out).
            let bytes = encode::json_array(batches, true).map_err(|e| e.to_string())?;
            sink.write_all(&bytes)
                .and_then(|_| writeln!(sink))
                .map_err(io)?;
        }
        QueryFormat::Parquet => {
            let schema = batches
                .first()
                .map(|b| b.schema())
                .ok_or("the query returned no batches; nothing to write")?;
            encode::parquet_to(schema, batches, sink).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
