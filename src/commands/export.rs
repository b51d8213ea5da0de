//! `mxpipe export ispyb` and `mxpipe export autoproc-xml`.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_export::driver::Outcome;
use mxpipe_export::ispyb::rows::Settings;
use mxpipe_export::ispyb::{Ispyb, Options};
use mxpipe_export::{Filter, Records};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::table::{print_table, write_table};
use crate::config::Config;

/// Environment variable holding the ISPyB password.
pub const PASSWORD_ENV: &str = "MXPIPE_ISPYB_PASSWORD";

/// Which experiments a catalogue export takes (the same for every target).
#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// One experiment.
    #[arg(long, value_name = "UUID", group = "which")]
    pub experiment: Option<String>,
    /// Experiments of one sample or crystal (uuid or persistent sample identifier).
    #[arg(long, value_name = "UUID|PID", group = "which")]
    pub sample: Option<String>,
    /// Every experiment of a session (visit label, e.g. mx23694-12).
    #[arg(long, value_name = "VISIT", group = "which")]
    pub session: Option<String>,
    /// Experiments started on or after a date (YYYY-MM-DD, UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE", group = "which")]
    pub since: Option<String>,
}

impl SelectionArgs {
    /// The driver's filter.
    pub fn filter(&self) -> Filter {
        Filter {
            experiment: self.experiment.clone(),
            sample: self.sample.clone(),
            session: self.session.clone(),
            since: self.since.clone(),
        }
    }
}

/// `mxpipe export ispyb` flags.
#[derive(Debug, Args)]
pub struct IspybArgs {
    #[command(flatten)]
    pub which: SelectionArgs,
    /// Run every statement in transactions that are rolled back, and print the SQL.
    #[arg(long)]
    pub dry_run: bool,
    /// Database URL without password, e.g. mysql://mx_exporter@db.example.org:3306/ispyb
    /// (default [ispyb] url of the configuration).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// File holding the password (default [ispyb] password_file; else $MXPIPE_ISPYB_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Create Person, Proposal and BLSession when the session is not in ISPyB.
    #[arg(long)]
    pub create_session: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub output: TableFormat,
}

/// `mxpipe export autoproc-xml` flags.
#[derive(Debug, Args)]
pub struct XmlArgs {
    /// The MxProcessing to write.
    #[arg(long, value_name = "UUID")]
    pub processing: String,
    /// Database URL whose id map gives each integration its dataCollectionId (default [ispyb] url).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Write to a file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn settings(config: &Config) -> Result<Settings, String> {
    let c = &config.ispyb;
    let timezone = c
        .timezone
        .as_deref()
        .or(config.timezone.as_deref())
        .unwrap_or("UTC");
    Ok(Settings {
        timezone: timezone.parse().map_err(|_| {
            format!("timezone: {timezone:?} is not an IANA time zone such as Europe/London")
        })?,
        pixel_size_mm: c.pixel_size_mm,
        attachment_dir: c
            .attachment_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("ispyb-attachments")),
    })
}

fn password(args: &IspybArgs, config: &Config) -> Result<Option<String>, String> {
    let file = args
        .password_file
        .clone()
        .or(config.ispyb.password_file.clone());
    match file {
        Some(f) => crate::config::read_secret(&f)
            .map(Some)
            .map_err(|e| format!("--password-file {}: {e}", f.display())),
        None => Ok(std::env::var(PASSWORD_ENV).ok()),
    }
}

/// Run `mxpipe export ispyb`.
pub async fn ispyb(store: &Store, args: IspybArgs, config: &Config) -> u8 {
    let fail = |m: String, code: u8| {
        eprintln!("error: {m}");
        code
    };
    let Some(url) = args.db.clone().or(config.ispyb.url.clone()) else {
        return fail("no database: pass --db mysql://USER@HOST:PORT/DATABASE or set [ispyb] url in the configuration".into(), 2);
    };
    let (settings, password) = match (settings(config), password(&args, config)) {
        (Ok(s), Ok(p)) => (s, p),
        (Err(e), _) | (_, Err(e)) => return fail(e, 2),
    };
    if config.ispyb.timezone.is_none() && config.timezone.is_none() {
        eprintln!(
            "warning: timezone is not set in the configuration; ISPyB times are written as UTC"
        );
    }
    let db = match Ispyb::connect(&url, password.as_deref()).await {
        Ok(d) => d,
        Err(e) => return fail(e.to_string(), 1),
    };
    let filter = args.which.filter();
    let options = Options {
        create_session: args.create_session,
        dry_run: args.dry_run,
        settings,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let bar = export_bar("to ISPyB");
    let started = std::time::Instant::now();
    let result = db
        .export(store, &filter, &options, |n| bar.inc(n as u64))
        .await;
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return fail(e.to_string(), 1),
    };
    report(
        &outcome,
        ["table", "inserted", "updated", "unchanged"],
        args.dry_run
            .then_some("dry run: every statement above was rolled back; nothing was written"),
        args.output,
        format!(
            "to ISPyB {} (schema {}) in {:.2} s",
            db.instance(),
            db.schema_version,
            started.elapsed().as_secs_f64()
        ),
    )
}

/// The spinner of an export run: sweeps done, rate, elapsed.
pub fn export_bar(target: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} exporting {target}: {{pos}} sweeps  {{per_sec}}  {{elapsed}}"
        ))
        .expect("template"),
    );
    bar
}

/// Print a catalogue export's outcome the same way for every target: what a dry run shows
/// (stdout), the per-kind summary (`--output`), warnings, failures and a closing line naming
/// the target (`what`). The exit status: 1 when an experiment failed.
pub fn report(
    outcome: &Outcome,
    headers: [&str; 4],
    dry_run_note: Option<&str>,
    output: TableFormat,
    what: String,
) -> u8 {
    for line in &outcome.log {
        println!("{line}");
    }
    if let Some(note) = dry_run_note {
        eprintln!("{note}");
    }
    let rows: Vec<Vec<String>> = outcome
        .summary
        .iter()
        .map(|(kind, c)| {
            vec![
                kind.to_string(),
                c[0].to_string(),
                c[1].to_string(),
                c[2].to_string(),
            ]
        })
        .collect();
    // A dry run's log is the product on standard output (SQL, JSON lines): the summary goes to
    // standard error so that the log can be piped on as it is.
    if dry_run_note.is_some() && !outcome.log.is_empty() {
        write_table(&mut std::io::stderr().lock(), &headers, &rows, output);
    } else {
        print_table(&headers, &rows, output);
    }
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    for f in &outcome.failures {
        eprintln!("error: {f}");
    }
    eprintln!(
        "{} experiment(s) exported {what}; {} failed",
        outcome.experiments,
        outcome.failures.len()
    );
    u8::from(!outcome.failures.is_empty())
}

/// Run `mxpipe export autoproc-xml`.
pub async fn autoproc_xml(store: &Store, args: XmlArgs, config: &Config) -> u8 {
    let settings = match settings(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let records = match Records::load(store).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let mut dc_ids = std::collections::HashMap::new();
    if let Some(url) = args.db.clone().or(config.ispyb.url.clone()) {
        let instance = match mxpipe_export::ispyb::instance_of(&url) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        match store.catalogue_ids("ispyb", &instance).await {
            Ok(m) => dc_ids.extend(
                m.into_iter()
                    .filter(|(k, _)| k.starts_with("DataCollection:"))
                    .map(|(k, v)| (k, v.id)),
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("ispyb.xml"));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder = std::path::absolute(&out)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().into_owned()))
        .unwrap_or_default();
    match mxpipe_export::autoproc_xml::write(
        &records,
        &args.processing,
        &dc_ids,
        settings.timezone,
        (&name, &folder),
    ) {
        Ok(xml) => match &args.out {
            Some(p) => match std::fs::write(p, xml) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: {}: {e}", p.display());
                    2
                }
            },
            None => {
                print!("{xml}");
                0
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
