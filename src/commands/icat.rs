//! `mxpipe export icat`: icatdata XML or ESRF dataset messages.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_export::driver::{self, DriverOptions};
use mxpipe_export::icat::{IcatFiles, Output, Settings};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::export::SelectionArgs;
use crate::commands::table::print_table;
use crate::config::Config;

/// Which ICAT form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flavour {
    /// icatdata XML for python-icat's icatingest (any ICAT site).
    Icatdata,
    /// One ESRF dataset message (pyicat-plus format) per dataset, in a folder.
    Esrf,
}

/// `mxpipe export icat` flags.
#[derive(Debug, Args)]
pub struct IcatArgs {
    #[command(flatten)]
    pub which: SelectionArgs,
    /// The icatdata XML file to write, or with --flavour esrf the folder for the messages.
    #[arg(long, value_name = "FILE|DIR")]
    pub out: PathBuf,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Flavour::Icatdata)]
    pub flavour: Flavour,
    /// icatdata version: 6.2, or 5.0 for older ICAT servers.
    #[arg(long, value_name = "VERSION", default_value = "6.2")]
    pub icatdata_version: String,
    /// Count what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub output: TableFormat,
}

/// Run `mxpipe export icat`.
pub async fn run(store: &Store, args: IcatArgs, config: &Config) -> u8 {
    let output = match args.flavour {
        Flavour::Icatdata => Output::Icatdata {
            path: args.out.clone(),
            version: args.icatdata_version.clone(),
        },
        Flavour::Esrf => Output::Esrf {
            dir: args.out.clone(),
        },
    };
    let settings = Settings {
        facility: config.icat.facility.clone(),
        pixel_size_mm: config.icat.pixel_size_mm.unwrap_or(0.075),
    };
    let mut target = match IcatFiles::new(store, output, settings, args.dry_run).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} exporting for ICAT: {pos} sweeps  {per_sec}  {elapsed}",
        )
        .expect("template"),
    );
    let options = DriverOptions {
        dry_run: args.dry_run,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let started = std::time::Instant::now();
    let result = driver::export(&mut target, store, &args.which.filter(), &options, |n| {
        bar.inc(n as u64)
    })
    .await;
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let rows: Vec<Vec<String>> = outcome
        .summary
        .iter()
        .map(|(kind, c)| vec![kind.to_string(), c[0].to_string()])
        .collect();
    print_table(&["entity", "written"], &rows, args.output);
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    for f in &outcome.failures {
        eprintln!("error: {f}");
    }
    if args.dry_run {
        eprintln!("dry run: nothing was written");
    }
    eprintln!(
        "{} experiment(s) exported for ICAT in {:.2} s ({} file(s) written{}); {} failed",
        outcome.experiments,
        started.elapsed().as_secs_f64(),
        target.written.len(),
        target
            .written
            .first()
            .map(|p| format!(", first {}", p.display()))
            .unwrap_or_default(),
        outcome.failures.len()
    );
    u8::from(!outcome.failures.is_empty())
}
