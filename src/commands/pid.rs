//! `mxpipe pid …`: the PIDs mxpipe minted for samples and crystals (`[pid]` in the
//! configuration), and minting after an ingest.

use mxpipe_pid::{MintReport, PidConfig, Scope};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::table::print_table;
use crate::config::Config;

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

/// The `[pid]` configuration, or `None` when there is none; an unusable one is an error.
pub fn configured(config: &Config) -> Result<Option<PidConfig>, String> {
    config.pid.as_ref().map(|p| p.resolve()).transpose()
}

/// Mint for the objects of one committed ingest run and print what happened (a warning for
/// pending PIDs; the ingest itself stays successful).
pub async fn after_ingest(store: &Store, pid: &PidConfig, ingest_id: &str, publish: bool) {
    match mxpipe_pid::mint(
        store,
        &mut &*store,
        pid,
        Scope::Ingests(vec![ingest_id.to_owned()]),
        publish,
    )
    .await
    {
        Ok(report) => print_report_line(&report),
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
pub async fn run(store: &Store, command: PidCommand, config: &Config) -> u8 {
    if let PidCommand::List { pending, output } = command {
        return match store.sample_pids().await {
            Ok(map) => {
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
                print_table(
                    &[
                        "object_uuid",
                        "mxlims_type",
                        "pid",
                        "scheme",
                        "state",
                        "detail",
                    ],
                    &rows,
                    output,
                );
                0
            }
            Err(e) => fail(e, 1),
        };
    }
    let pid = match configured(config) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(
                "no [pid] section in the configuration: set scheme and prefix (see README, \"Persistent sample identifiers\")",
                2,
            );
        }
        Err(e) => return fail(e, 2),
    };
    let report = match command {
        PidCommand::Mint { publish } => {
            mxpipe_pid::mint(store, &mut &*store, &pid, Scope::All, publish).await
        }
        PidCommand::Retry { publish } => {
            mxpipe_pid::retry(store, &mut &*store, &pid, publish).await
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
                    vec![
                        p.object_uuid.clone(),
                        p.mxlims_type.clone(),
                        p.pid.clone(),
                        p.state.clone(),
                        p.detail.clone().unwrap_or_default(),
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
        Err(e) => fail(e, 1),
    }
}

fn fail(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("error: {message}");
    code
}
