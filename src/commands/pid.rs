//! `mxpipe pid …`: the PIDs mxpipe minted for samples and crystals (`[pid]` in the
//! configuration), and what minting after an ingest did.

use mxpipe_app::ingest::MintOutcome;
use mxpipe_app::{AppError, Context, StoreUse};
use mxpipe_pid::{MintReport, Scope};
use mxpipe_store::Store;

use crate::cli::fail;
use crate::output::{TableFormat, print_table};

/// `mxpipe pid …`.
#[derive(Debug, clap::Subcommand)]
pub enum PidCommand {
    /// Mint a PID for every stored sample and crystal that has none (e.g. ingested before
    /// [pid] was configured). Idempotent: an object with a PID never gets a second one.
    #[command(after_help = "\
Examples:
  mxpipe pid mint
  mxpipe pid mint --publish       # DataCite: register the DOIs as findable, not draft")]
    Mint {
        /// DataCite: publish (findable) instead of draft.
        #[arg(long)]
        publish: bool,
    },
    /// Send every pending DataCite PID again (same DOI; a DOI DataCite already holds for the
    /// same landing page counts as done). Exit status 1 while some stay pending.
    #[command(after_help = "\
Examples:
  mxpipe pid retry
  mxpipe pid retry --publish")]
    Retry {
        /// DataCite: publish (findable) instead of draft.
        #[arg(long)]
        publish: bool,
    },
    /// List the minted PIDs and their states.
    #[command(after_help = "\
Examples:
  mxpipe pid list
  mxpipe pid list --pending --output json")]
    List {
        /// Only the pending ones.
        #[arg(long)]
        pending: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
}

/// What minting after an ingest did (a warning for pending PIDs or a failure; the ingest itself
/// stays successful).
pub fn print_minted(minted: &MintOutcome) {
    match minted {
        Ok(report) => print_report_line(report),
        Err(e) => eprintln!(
            "warning: minting PIDs failed ({e}); the ingest is stored — run `mxpipe pid mint` to complete it"
        ),
    }
}

fn print_report_line(report: &MintReport) {
    if let Some(line) = report.summary() {
        if report.pending() > 0 {
            eprintln!("warning: {line}");
        } else {
            eprintln!("{line}");
        }
    }
}

/// Run a `mxpipe pid` command.
pub async fn run(command: PidCommand, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Read) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let PidCommand::List { pending, output } = command {
        return list(&store, pending, output).await;
    }
    let pid = match ctx.pid() {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(AppError::usage(
                "no [pid] section in the configuration: set scheme and prefix (see README, \"Persistent sample identifiers\")",
            ));
        }
        Err(e) => return fail(e),
    };
    let report = match command {
        PidCommand::Mint { publish } => {
            mxpipe_pid::mint(&store, &mut &store, &pid, Scope::All, publish).await
        }
        PidCommand::Retry { publish } => {
            mxpipe_pid::retry(&store, &mut &store, &pid, publish).await
        }
        PidCommand::List { .. } => unreachable!("handled above"),
    };
    match report {
        Ok(r) if r.pids.is_empty() => {
            eprintln!("nothing to do: every sample and crystal has a registered PID");
            0
        }
        Ok(r) => {
            let rows: Vec<Vec<String>> = r
                .pids
                .iter()
                .map(|p| {
                    let detail = p.detail.clone().unwrap_or_default();
                    vec![
                        p.object_uuid.clone(),
                        p.mxlims_type.clone(),
                        p.pid.clone(),
                        p.state.clone(),
                        detail,
                    ]
                })
                .collect();
            print_table(
                &["object_uuid", "mxlims_type", "pid", "state", "detail"],
                &rows,
                TableFormat::Table,
            );
            print_report_line(&r);
            u8::from(r.pending() > 0)
        }
        Err(e) => fail(AppError::failed(e)),
    }
}

/// `mxpipe pid list`.
async fn list(store: &Store, pending: bool, output: TableFormat) -> u8 {
    let map = match store.sample_pids().await {
        Ok(m) => m,
        Err(e) => return fail(AppError::failed(e)),
    };
    let mut rows: Vec<Vec<String>> = map
        .into_values()
        .filter(|p| !pending || p.is_pending())
        .map(|p| {
            vec![
                p.object_uuid,
                p.mxlims_type,
                p.pid,
                p.scheme,
                p.state,
                p.detail.unwrap_or_default(),
            ]
        })
        .collect();
    rows.sort();
    let header = [
        "object_uuid",
        "mxlims_type",
        "pid",
        "scheme",
        "state",
        "detail",
    ];
    print_table(&header, &rows, output);
    0
}
