//! `mxpipe store …` (stats, repair, optimize, vacuum, describe) and `mxpipe relink`.

use clap::{Args, Subcommand};
use mxpipe_app::{AppError, Context, StoreUse};
use mxpipe_store::Store;

use crate::cli::fail;
use crate::output::{TableFormat, print_table};

/// `mxpipe store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Committed rows per table.
    Stats {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
    /// Remove rows left by ingests that never committed (e.g. a killed process). Do not run while
    /// ingests are in progress.
    Repair,
    /// Compact small data files and write each table's checkpoint (a new table version; readers
    /// and concurrent ingests are not disturbed). Also `mxpipe store compact`.
    #[command(alias = "compact")]
    Optimize,
    /// Delete data files no longer referenced by table versions newer than the retention.
    Vacuum {
        /// Keep files referenced in the last HOURS hours (default one week).
        #[arg(long, value_name = "HOURS", default_value_t = 168)]
        retention_hours: u64,
    },
    /// Print the store layout (tables, columns, units) as Markdown.
    Describe,
}

/// Show how processing inputs link to stored sweeps (directory + template + image range, or
/// ISPyB dataCollectionId).
///
/// Links are computed from committed rows whenever they are read, so processing ingested
/// before its collection links as soon as the collection is ingested; nothing needs
/// rewriting. This command reports every input and whether it is resolved. Exit status 0,
/// or 1 with --fail-unresolved when some input is still unresolved.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe relink
  mxpipe relink --unresolved --output csv
  mxpipe relink --fail-unresolved      # in a pipeline: wait until every input has its collection")]
pub struct RelinkArgs {
    /// Only list the unresolved inputs.
    #[arg(long)]
    unresolved: bool,
    /// Exit 1 when any input is unresolved.
    #[arg(long)]
    fail_unresolved: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    output: TableFormat,
}

/// `mxpipe store describe`: the layout, from the store's table definitions.
pub fn describe() -> u8 {
    print!("{}", mxpipe_store::tables::markdown());
    0
}

/// Run a `mxpipe store` command on the context's store.
pub async fn run(command: StoreCommand, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Read) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let table = TableFormat::Table;
    match command {
        StoreCommand::Stats { output } => maintenance(&store, "stats", 0, output).await,
        StoreCommand::Repair => maintenance(&store, "repair", 0, table).await,
        StoreCommand::Optimize => maintenance(&store, "optimize", 0, table).await,
        StoreCommand::Vacuum { retention_hours } => {
            maintenance(&store, "vacuum", retention_hours, table).await
        }
        StoreCommand::Describe => describe(),
    }
}

/// `mxpipe store repair|optimize|vacuum|stats`.
async fn maintenance(store: &Store, action: &str, retention_hours: u64, output: TableFormat) -> u8 {
    let result = match action {
        "repair" => store.repair().await.map(|r| ("rows removed", r.per_table)),
        "optimize" => store
            .optimize()
            .await
            .map(|r| ("files compacted", r.per_table)),
        "vacuum" => store
            .vacuum(retention_hours)
            .await
            .map(|r| ("files deleted", r.per_table)),
        _ => store.row_counts().await.map(|r| {
            (
                "committed rows",
                r.into_iter().map(|(t, n)| (t, n as u64)).collect(),
            )
        }),
    };
    match result {
        Ok((what, per_table)) => {
            let rows: Vec<Vec<String>> = per_table
                .into_iter()
                .map(|(t, n)| vec![t, n.to_string()])
                .collect();
            print_table(&["table", what], &rows, output);
            0
        }
        Err(e) => fail(AppError::failed(e)),
    }
}

/// `mxpipe relink`: every processing input and the sweep it resolves to.
pub async fn relink(args: RelinkArgs, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Read) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let links = match store.processing_links().await {
        Ok(l) => l,
        Err(e) => return fail(AppError::usage(e)),
    };
    let (only_unresolved, fail_unresolved, format) =
        (args.unresolved, args.fail_unresolved, args.output);
    let unresolved = links.iter().filter(|l| l.sweep_uuid.is_none()).count();
    let rows: Vec<Vec<String>> = links
        .iter()
        .filter(|l| !only_unresolved || l.sweep_uuid.is_none())
        .map(|l| {
            vec![
                l.processing_uuid.clone(),
                l.list_index.to_string(),
                l.input.clone(),
                l.sweep_uuid.clone().unwrap_or_else(|| "unresolved".into()),
                l.linked_by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["processing", "input", "images", "sweep", "linked by"],
        &rows,
        format,
    );
    eprintln!(
        "{} input link(s), {unresolved} unresolved{}",
        links.len(),
        if unresolved > 0 {
            " (they link when the collection with those images is ingested)"
        } else {
            ""
        }
    );
    u8::from(fail_unresolved && unresolved > 0)
}
