//! `mxpipe export icat`: icatdata XML or ESRF dataset messages.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mxpipe_export::driver::{self, Catalogue, DriverOptions};
use mxpipe_export::icat::rest::{Connection, IcatRest};
use mxpipe_export::icat::{IcatFiles, Output, Settings};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::export::{SelectionArgs, export_bar, report};
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
    #[arg(long, value_name = "FILE|DIR", conflicts_with = "url")]
    pub out: Option<PathBuf>,
    /// Write through ICAT's REST API instead (base URL ending in /icat; default [icat] url).
    /// Credentials: [icat] username and password_file, else $MXPIPE_ICAT_PASSWORD.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// File holding the ICAT password (default [icat] password_file; else $MXPIPE_ICAT_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
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

/// Environment variable holding the ICAT password.
pub const PASSWORD_ENV: &str = "MXPIPE_ICAT_PASSWORD";

fn connection(args: &IcatArgs, config: &Config, url: String) -> Result<Connection, String> {
    let c = &config.icat;
    let username = c.username.clone().ok_or(
        "ICAT REST needs a user: set [icat] username (and password_file, or $MXPIPE_ICAT_PASSWORD)",
    )?;
    let password = match args.password_file.clone().or(c.password_file.clone()) {
        Some(f) => crate::config::read_secret(&f)
            .map_err(|e| format!("--password-file {}: {e}", f.display()))?,
        None => std::env::var(PASSWORD_ENV).map_err(|_| {
            format!("no ICAT password: pass --password-file FILE, set [icat] password_file or ${PASSWORD_ENV}")
        })?,
    };
    Ok(Connection {
        url,
        plugin: c.plugin.clone().unwrap_or_else(|| "db".into()),
        username,
        password,
    })
}

/// Run `mxpipe export icat`.
pub async fn run(store: &Store, args: IcatArgs, config: &Config) -> u8 {
    let settings = Settings {
        facility: config.icat.facility.clone(),
        fallback_facility: None,
        pixel_size_mm: config.icat.pixel_size_mm,
    };
    let fail = |m: String, code: u8| {
        eprintln!("error: {m}");
        code
    };
    let url = args.url.clone().or(if args.out.is_none() {
        config.icat.url.clone()
    } else {
        None
    });
    if let Some(url) = url {
        let conn = match connection(&args, config, url) {
            Ok(c) => c,
            Err(e) => return fail(e, 2),
        };
        return match IcatRest::new(store, conn, settings, args.dry_run).await {
            Ok(mut target) => {
                drive(store, &args, &mut target, |t| {
                    format!("to ICAT {} ({} login(s))", t.conn_url(), t.logins)
                })
                .await
            }
            Err(e) => fail(e.to_string(), 2),
        };
    }
    let Some(out) = args.out.clone() else {
        return fail("choose where to: --out FILE (icatdata XML), --flavour esrf --out DIR, or --url URL (REST)".into(), 2);
    };
    let output = match args.flavour {
        Flavour::Icatdata => Output::Icatdata {
            path: out,
            version: args.icatdata_version.clone(),
        },
        Flavour::Esrf => Output::Esrf { dir: out },
    };
    match IcatFiles::new(store, output, settings, args.dry_run).await {
        Ok(mut target) => {
            drive(store, &args, &mut target, |t| {
                format!(
                    "for ICAT ({} file(s) written{})",
                    t.written.len(),
                    t.written
                        .first()
                        .map(|p| format!(", first {}", p.display()))
                        .unwrap_or_default()
                )
            })
            .await
        }
        Err(e) => fail(e.to_string(), 2),
    }
}

async fn drive<C: Catalogue>(
    store: &Store,
    args: &IcatArgs,
    target: &mut C,
    describe: impl Fn(&C) -> String,
) -> u8 {
    let bar = export_bar("for ICAT");
    let options = DriverOptions {
        dry_run: args.dry_run,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let started = std::time::Instant::now();
    let result = driver::export(target, store, &args.which.filter(), &options, |n| {
        bar.inc(n as u64)
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(outcome) => report(
            &outcome,
            ["entity", "created", "updated", "unchanged"],
            args.dry_run.then_some("dry run: nothing was written"),
            args.output,
            format!(
                "{} in {:.2} s",
                describe(target),
                started.elapsed().as_secs_f64()
            ),
        ),
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
