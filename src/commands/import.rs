//! `mxpipe import …`: legacy catalogues into the store, with a progress bar and a report of
//! what was read, stored, converted by which rule and kept out.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_app::import::IspybImport;
use mxpipe_app::{Context, StoreUse};
use mxpipe_import::ispyb::{Progress, Report};

use crate::cli::fail;
use crate::output::{TableFormat, print_table};

/// `mxpipe import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a legacy ISPyB database (schema 5.x) through a SELECT-only user.
    ///
    /// Every DataCollectionGroup becomes an MxExperiment with its sweeps (DataCollections
    /// regrouped into wedges), sample, session and processing (AutoProcProgram → MxProcessing,
    /// AutoProc/AutoProcScaling/statistics → ReflectionSets), validated and committed like any
    /// ingest, in runs of --batch groups read in primary-key order. Uuids derive from
    /// (facility, table, primary key), so a re-run adds nothing; rows mxpipe exported keep their
    /// own uuids. Legacy conventions are normalised by named rules (docs/ispyb-import.md), each
    /// counted in the report; a value no rule fits is kept out and listed. The id map of
    /// `export ispyb` is pre-filled, so a later export updates in place.
    #[command(after_help = "\
Examples:
  MXPIPE_ISPYB_PASSWORD=... mxpipe import ispyb --db mysql://mx_reader@ispyb-db:3306/ispyb
  mxpipe import ispyb --session cm14451-1 --dry-run --password-file /run/secrets/ispyb
  mxpipe import ispyb --proposal cm14451 --since 2016-01-01 --output json > import.json
Grants the user needs (read-only): docs/ispyb-import.md.")]
    Ispyb(IspybArgs),
}

/// `mxpipe import ispyb` flags.
#[derive(Debug, Args)]
pub struct IspybArgs {
    /// Database URL without password: mysql://USER@HOST:PORT/DATABASE (default [ispyb] url).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// File holding the password (default [ispyb] password_file; else $MXPIPE_ISPYB_PASSWORD).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Only this visit (repeatable), e.g. cm14451-1.
    #[arg(long, value_name = "VISIT")]
    session: Vec<String>,
    /// Only this proposal (repeatable), e.g. cm14451.
    #[arg(long, value_name = "CODE")]
    proposal: Vec<String>,
    /// Only groups with a collection started on or after this day (YYYY-MM-DD, facility time).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Read and map everything, commit nothing.
    #[arg(long)]
    dry_run: bool,
    /// DataCollectionGroups per store run (memory is bounded by one batch).
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Report format: table, csv, or json (the whole report, every rule and kept-out value).
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    output: TableFormat,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn total(&self, groups: u64) {
        self.0.set_length(groups);
    }
    fn done(&self, groups: u64, collections: u64) {
        self.0.set_position(groups);
        self.0
            .set_message(format!("{collections} data collections"));
    }
}

/// Run `mxpipe import …`.
pub async fn run(command: ImportCommand, ctx: &Context) -> u8 {
    let ImportCommand::Ispyb(args) = command;
    // A dry run needs no store (a first try before any store exists).
    let store = if args.dry_run {
        None
    } else {
        match ctx.open_store(StoreUse::Start) {
            Ok(s) => Some(s),
            Err(e) => return fail(e),
        }
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} groups  {msg}  {per_sec}  {elapsed}")
            .expect("template"),
    );
    if args.output == TableFormat::Json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let job = IspybImport {
        db: args.db,
        password_file: args.password_file,
        sessions: args.session,
        proposals: args.proposal,
        since: args.since,
        dry_run: args.dry_run,
        batch_groups: args.batch as usize,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let warn = |m: &str| eprintln!("warning: {m}");
    let result =
        mxpipe_app::import::ispyb(ctx, store.as_ref(), job, &Bar(bar.clone()), &warn).await;
    bar.finish_and_clear();
    match result {
        Ok(report) => print(&report, args.output),
        Err(e) => fail(e),
    }
}

/// How many warnings and kept-out values the table form lists.
const SHOWN: usize = 20;

fn print(r: &Report, format: TableFormat) -> u8 {
    if format == TableFormat::Json {
        println!("{}", serde_json::to_string_pretty(r).expect("JSON"));
    } else {
        let rows: Vec<Vec<String>> = r
            .rows_read
            .iter()
            .map(|(t, n)| vec![t.clone(), n.to_string()])
            .collect();
        print_table(&["table", "rows read"], &rows, format);
        let rules: Vec<Vec<String>> = r
            .rules
            .applied
            .iter()
            .map(|(k, n)| vec![(*k).to_owned(), n.to_string()])
            .collect();
        println!();
        print_table(&["rule", "applied"], &rules, format);
        for w in r.rules.warnings.iter().take(SHOWN) {
            eprintln!("warning: {w}");
        }
        for k in r.rules.kept_out.iter().take(SHOWN) {
            eprintln!(
                "kept out: {}.{} of key {} = {:?}: {}",
                k.table, k.column, k.key, k.value, k.reason
            );
        }
        let more = (r.rules.warnings_total + r.rules.kept_out_total) as usize;
        let shown = r.rules.warnings.len().min(SHOWN) + r.rules.kept_out.len().min(SHOWN);
        if more > shown {
            eprintln!(
                "… {} more warnings and kept-out values: --output json lists them",
                more - shown
            );
        }
        if !r.processing_without_collection.is_empty() {
            eprintln!(
                "not imported: {} processing program(s) with no collection to attach to (AutoProcProgram {:?}…)",
                r.processing_without_collection.len(),
                &r.processing_without_collection[..r.processing_without_collection.len().min(5)]
            );
        }
        for (g, e) in &r.failed {
            eprintln!("failed: DataCollectionGroup {g}: {e}");
        }
    }
    let rate = r.collections as f64 / r.elapsed_s.max(1e-9);
    eprintln!(
        "{} {} groups ({} data collections) from ISPyB {} (schema {}) in {:.2} s ({rate:.0} collections/s): {} objects new, {} changed, {} unchanged; {} id-map entries; {} kept out, {} failed",
        if r.dry_run {
            "read (dry run, nothing stored)"
        } else {
            "imported"
        },
        r.groups,
        r.collections,
        r.instance,
        r.schema_version.as_deref().unwrap_or("unknown"),
        r.elapsed_s,
        r.objects_new,
        r.objects_changed,
        r.objects_unchanged,
        r.id_map_entries,
        r.rules.kept_out_total,
        r.failed.len()
    );
    let t = &r.timings;
    eprintln!(
        "time: reading {:.2} s, mapping + validating {:.2} s (validating {:.2} s), committing {:.2} s",
        t.read_s, t.map_s, t.validate_s, t.commit_s
    );
    u8::from(!r.failed.is_empty())
}
