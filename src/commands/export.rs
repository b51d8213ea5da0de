//! `mxpipe export …`: MXLIMS JSON, ISPyB, AutoProcContainer XML, ICAT, SciCat, RDF and the
//! field maps. The application layer builds and drives each target; this module shows progress
//! and prints the outcome the same way for every catalogue.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_app::export::{ExportJob, Exported, IcatForm, IcatTarget, IspybTarget, ScicatTarget};
use mxpipe_app::{AppError, AppResult, Context, StoreUse};
use mxpipe_export::Filter;

use crate::cli::fail;
use crate::commands::lineage;
use crate::output::{TableFormat, print_table, write_table};

/// `mxpipe export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write an MXLIMS message built from the store (latest version of each object).
    #[command(after_help = "\
Examples:
  mxpipe export mxlims --experiment 3b5b8750-4f0c-44d2-bb09-bbf948ab0cda
  mxpipe export mxlims --session mx23694-12 --out visit.json
  mxpipe export mxlims --shipment 0196f23a-dce0-2560-baac-f1b23ec9e051")]
    Mxlims {
        /// An experiment (or processing job) with its sweeps, processing and results.
        #[arg(long, value_name = "UUID", group = "selection")]
        experiment: Option<String>,
        /// A sample with the jobs and containers that name it.
        #[arg(long, value_name = "UUID", group = "selection")]
        sample: Option<String>,
        /// A shipment with everything in it.
        #[arg(long, value_name = "UUID", group = "selection")]
        shipment: Option<String>,
        /// Every experiment, processing job and shipment of a session (visit label, e.g. mx23694-12).
        #[arg(long, value_name = "VISIT", group = "selection")]
        session: Option<String>,
        /// Write to a file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Export experiments, their sweeps (one DataCollection per wedge) and processing to ISPyB.
    ///
    /// One transaction per experiment; the id map kept in the store makes a re-export update
    /// instead of insert (a second export of the same data adds no row). The password comes
    /// from --password-file, [ispyb] password_file or $MXPIPE_ISPYB_PASSWORD, never the URL.
    /// Without --experiment, --session or --since every stored experiment is exported.
    /// Mapping rules: docs/ispyb.md.
    #[command(after_help = "\
Examples:
  MXPIPE_ISPYB_PASSWORD=... mxpipe export ispyb --db mysql://mx_exporter@ispyb-db:3306/ispyb --session mx23694-12
  mxpipe export ispyb --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --dry-run
  mxpipe export ispyb --since 2026-03-01 --create-session --password-file /run/secrets/ispyb
  scripts/ispyb-testdb start     # a local ISPyB to try it on (prints the URL)")]
    Ispyb(IspybArgs),
    /// Write the ISPyB AutoProcContainer XML of one processing result.
    #[command(after_help = "\
Examples:
  mxpipe export autoproc-xml --processing 6b4cb242-4a23-4596-a217-beaddbc496cb --out ispyb.xml")]
    AutoprocXml(XmlArgs),
    /// Write one processing result as PDBx/mmCIF for deposition: diffraction (every sweep and
    /// crystal it read, wavelengths, source and beamline, detector), data-reduction statistics
    /// (overall and every shell), cell, symmetry, software, and the serial-crystallography
    /// categories of an SSX run. Items the store does not hold are written `?`.
    ///
    /// Only the job and what it links to are read, so the time does not grow with the store.
    /// Checked against the wwPDB PDBx dictionary with gemmi (docs/mmcif.md).
    #[command(after_help = "\
Examples:
  mxpipe export mmcif --processing 6b4cb242-4a23-4596-a217-beaddbc496cb --out deposit.cif
  mxpipe export mmcif --reflection-set 92276658-1e27-41c0-8a6a-63ec24ede6a4
  gemmi validate -d /usr/share/libcifpp/mmcif_pdbx.dic deposit.cif   # check it")]
    Mmcif {
        /// The processing job.
        #[arg(long, value_name = "UUID", group = "what")]
        processing: Option<String>,
        /// A ReflectionSet: the job that produced it.
        #[arg(long, value_name = "UUID", group = "what")]
        reflection_set: Option<String>,
        /// Write to a file instead of standard output (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the MXLIMS → ISPyB field map as Markdown (the tables of docs/ispyb.md).
    IspybMap,
    /// Export experiments, their sweeps and processing for ICAT: an icatdata XML file for
    /// `icatingest` (python-icat; icatdata 6.2 or 5.0), or with --flavour esrf one ESRF dataset
    /// message per dataset in a folder.
    ///
    /// One Sample per crystal (pid = the persistent sample identifier), one raw Dataset per
    /// sweep, one processed Dataset per ReflectionSet linked to every input sweep. Works with no
    /// configuration (facility and instrument from the session; [icat] facility overrides).
    /// Without --experiment, --sample, --session or --since every stored experiment is exported.
    /// Mapping rules: docs/icat.md.
    #[command(after_help = "\
Examples:
  mxpipe export icat --session mx23694-12 --out mx23694-12.icat.xml
  mxpipe export icat --out old-server.xml --icatdata-version 5.0
  mxpipe export icat --flavour esrf --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --out messages/
  MXPIPE_ICAT_PASSWORD=... mxpipe export icat --url https://icat.example.org/icat --session mx23694-12
  icatingest -i mx23694-12.icat.xml -f XML     # python-icat, at the ICAT site")]
    Icat(IcatArgs),
    /// Print the MXLIMS → ICAT parameter map as Markdown (the table of docs/icat.md).
    IcatMap,
    /// Export experiments to SciCat: samples (sampleId = the persistent sample identifier), one
    /// raw dataset per sweep with its origdatablock, one derived dataset per ReflectionSet with
    /// every input dataset.
    ///
    /// Through the backend's API (v4 datasets, v3 samples and proposals). Idempotent: with
    /// [scicat] pid_prefix the pids are deterministic; otherwise the server's pids are kept in
    /// the store's id map. A re-run creates nothing; changed records are patched. --dry-run
    /// needs no configuration and prints the requests as JSON lines; a real run needs [scicat]
    /// owner and contact_email, and credentials. Without --experiment, --sample, --session or
    /// --since every stored experiment is exported. Mapping rules: docs/scicat.md.
    #[command(after_help = "\
Examples:
  mxpipe export scicat --dry-run --session mx23694-12 | jq .path
  mxpipe export scicat --dry-run --check --openapi explorer-json.json
  MXPIPE_SCICAT_PASSWORD=... mxpipe export scicat --url https://scicat.example.org --session mx23694-12
  MXPIPE_SCICAT_TOKEN=... mxpipe export scicat --url https://scicat.example.org --check --since 2026-03-01")]
    Scicat(ScicatArgs),
    /// Print the MXLIMS → SciCat scientificMetadata map as Markdown (the table of docs/scicat.md).
    ScicatMap,
    /// Write the lineage graph (PROV-O) of one or many sites as Turtle, N-Quads or JSON-LD; its
    /// shape is documented by the SHACL shapes in schemas/lineage.shacl.ttl.
    Rdf(lineage::RdfArgs),
}

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

/// `mxpipe export scicat` flags.
#[derive(Debug, Args)]
pub struct ScicatArgs {
    #[command(flatten)]
    pub which: SelectionArgs,
    /// The backend's base URL, e.g. https://scicat.example.org (default [scicat] url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// File holding the functional account's password (default [scicat] password_file; else
    /// $MXPIPE_SCICAT_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// File holding a pre-issued bearer token, for OIDC sites (default [scicat] token_file; else
    /// $MXPIPE_SCICAT_TOKEN). Used instead of a login when given.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Send nothing: print every request that would be sent, one JSON object per line
    /// ({"method", "path", "body"}); works with no configuration.
    #[arg(long)]
    pub dry_run: bool,
    /// Validate every request body before sending against the backend's OpenAPI document
    /// (required fields, types, no unknown field): --openapi FILE, [scicat] openapi, else the
    /// server's /explorer-json.
    #[arg(long)]
    pub check: bool,
    /// The backend's OpenAPI document for --check (a saved /explorer-json).
    #[arg(long, value_name = "FILE")]
    pub openapi: Option<PathBuf>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub output: TableFormat,
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
/// the target. The exit status: 1 when an experiment failed.
fn report(exported: Exported, dry_run_note: Option<&str>, output: TableFormat) -> u8 {
    let Exported {
        outcome,
        target,
        headers,
    } = exported;
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
        "{} experiment(s) exported {target}; {} failed",
        outcome.experiments,
        outcome.failures.len()
    );
    u8::from(!outcome.failures.is_empty())
}

/// Is this one of the field maps (printed without a store or configuration)?
pub fn is_map(command: &ExportCommand) -> bool {
    matches!(
        command,
        ExportCommand::IspybMap | ExportCommand::IcatMap | ExportCommand::ScicatMap
    )
}

/// Print a field map.
pub fn map(command: ExportCommand) -> u8 {
    match command {
        ExportCommand::IspybMap => print!("{}", mxpipe_export::ispyb::map::markdown()),
        ExportCommand::IcatMap => print!("{}", mxpipe_export::icat::map::markdown()),
        ExportCommand::ScicatMap => print!("{}", mxpipe_export::scicat::map::markdown()),
        _ => unreachable!("is_map"),
    }
    0
}

/// Run an export.
pub async fn run(command: ExportCommand, ctx: &Context) -> u8 {
    if let ExportCommand::Rdf(args) = command {
        return lineage::export_rdf(args, ctx).await;
    }
    let store = match ctx.open_store(StoreUse::Read) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match command {
        ExportCommand::Mxlims {
            experiment,
            sample,
            shipment,
            session,
            out,
        } => {
            let text =
                match mxpipe_app::export::mxlims_selection(experiment, sample, shipment, session) {
                    Ok(selection) => mxpipe_app::export::mxlims(&store, &selection).await,
                    Err(e) => Err(e),
                };
            write_out(text, out)
        }
        ExportCommand::Mmcif {
            processing,
            reflection_set,
            out,
        } => write_out(
            mxpipe_app::export::mmcif(&store, processing, reflection_set).await,
            out,
        ),
        ExportCommand::AutoprocXml(args) => {
            let xml = mxpipe_app::export::autoproc_xml(
                ctx,
                &store,
                &args.processing,
                args.db,
                args.out.as_deref(),
            )
            .await;
            write_out(xml, args.out)
        }
        command => catalogue(command, ctx, &store).await,
    }
}

/// Export to a catalogue with a progress bar, then the summary.
async fn catalogue(command: ExportCommand, ctx: &Context, store: &mxpipe_store::Store) -> u8 {
    use mxpipe_app::export::{icat, ispyb, scicat};
    let bar = export_bar(match &command {
        ExportCommand::Ispyb(_) => "to ISPyB",
        ExportCommand::Icat(_) => "for ICAT",
        _ => "to SciCat",
    });
    let progress = |n: usize| bar.inc(n as u64);
    // Settings left at defaults are said before anything is sent (above the progress bar).
    let warn = |w: &str| bar.suspend(|| eprintln!("warning: {w}"));
    let (output, dry_run, note, result) = match command {
        ExportCommand::Ispyb(a) => {
            let (job, target) = (job(&a.which, a.dry_run), a.target());
            let note = "dry run: every statement above was rolled back; nothing was written";
            (
                a.output,
                a.dry_run,
                note,
                ispyb(ctx, store, &job, target, progress, &warn).await,
            )
        }
        ExportCommand::Icat(a) => {
            let (job, target) = (job(&a.which, a.dry_run), a.target());
            let note = "dry run: nothing was written";
            (
                a.output,
                a.dry_run,
                note,
                icat(ctx, store, &job, target, progress).await,
            )
        }
        ExportCommand::Scicat(a) => {
            let (job, target) = (job(&a.which, a.dry_run), a.target());
            let note = "dry run: nothing was sent (requests above, one JSON object per line)";
            (
                a.output,
                a.dry_run,
                note,
                scicat(ctx, store, &job, target, progress, &warn).await,
            )
        }
        _ => unreachable!("maps, files and RDF are handled by `run`"),
    };
    bar.finish_and_clear();
    match result {
        Ok(exported) => report(exported, dry_run.then_some(note), output),
        Err(e) => fail(e),
    }
}

impl IspybArgs {
    fn target(&self) -> IspybTarget {
        IspybTarget {
            db: self.db.clone(),
            password_file: self.password_file.clone(),
            create_session: self.create_session,
        }
    }
}

impl IcatArgs {
    fn target(&self) -> IcatTarget {
        let form = match self.flavour {
            Flavour::Icatdata => IcatForm::Icatdata,
            Flavour::Esrf => IcatForm::Esrf,
        };
        IcatTarget {
            out: self.out.clone(),
            url: self.url.clone(),
            password_file: self.password_file.clone(),
            form,
            icatdata_version: self.icatdata_version.clone(),
        }
    }
}

impl ScicatArgs {
    fn target(&self) -> ScicatTarget {
        ScicatTarget {
            url: self.url.clone(),
            password_file: self.password_file.clone(),
            token_file: self.token_file.clone(),
            check: self.check,
            openapi: self.openapi.clone(),
        }
    }
}

/// What every catalogue export is asked.
fn job(which: &SelectionArgs, dry_run: bool) -> ExportJob {
    ExportJob {
        filter: which.filter(),
        dry_run,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    }
}

/// A file export's text to `out` (write errors: exit status 2) or standard output.
fn write_out(text: AppResult<String>, out: Option<PathBuf>) -> u8 {
    let text = match text {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match out.filter(|p| p.as_os_str() != "-") {
        Some(p) => match std::fs::write(&p, text) {
            Ok(()) => 0,
            Err(e) => fail(AppError::Usage(format!("{}: {e}", p.display()))),
        },
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => 0,
                // `| head`: the reader has what it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
                Err(e) => fail(AppError::Failed(format!("standard output: {e}"))),
            }
        }
    }
}
