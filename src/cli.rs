//! Command-line definition (clap) and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::config::Config;

const EXAMPLES: &str = "\
Examples:
  mxpipe validate samples/*.json
  mxpipe ingest samples/ /data/visit/mx23694-12/ --site DLS --session mx23694-12
  mxpipe export mxlims --experiment 3b5b8750-4f0c-44d2-bb09-bbf948ab0cda > exp.json
  mxpipe store stats
  mxpipe query \"SELECT * FROM sweeps LIMIT 5\"
  mxpipe generate --sweeps 1000 --ssx-frames 100000 --sites 2 --store /tmp/gen
  mxpipe schema --out schemas

Configuration: --config FILE, $MXPIPE_CONFIG or ./mxpipe.toml (see README); the store defaults to
./mxpipe-store.";

/// mxpipe: a typed, documented pipeline for macromolecular-crystallography experiment metadata.
///
/// Reads what beamlines and processing programs write (MXLIMS messages, NXmx, CBF, XDS, DIALS,
/// autoPROC/ISPyB XML, mmCIF, CrystFEL), validates it against MXLIMS 0.6.13 in two layers,
/// stores it in a Delta/Parquet store (atomic, idempotent runs), answers SQL over one or many
/// sites, exports to ISPyB, ICAT, SciCat, MXLIMS and RDF, mints persistent sample identifiers,
/// repackages interleaved HDF5, and serves it all over an authenticated HTTP API and web view.
#[derive(Debug, Parser)]
#[command(name = "mxpipe", version, after_help = EXAMPLES, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Configuration file (TOML); default $MXPIPE_CONFIG, then ./mxpipe.toml if present.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Store location: a folder or an object-store URL (default ./mxpipe-store).
    #[arg(long, global = true, value_name = "LOCATION")]
    pub store: Option<String>,
    /// Site name written on every stored row (default from the configuration, else "local").
    /// For `query`: NAME=LOCATION, repeatable, one per site to query together.
    #[arg(long, global = true, value_name = "NAME")]
    pub site: Vec<String>,
}

/// Format of tables printed by ingest and store commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Output format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values.
    Csv,
    /// A JSON array of objects.
    Json,
    /// A Parquet file (needs --out).
    Parquet,
}

/// Output format of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Human-readable lines.
    Text,
    /// One JSON document (for programs).
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read collection files and MXLIMS messages into the store (one atomic commit per run).
    ///
    /// Folders are walked and every file is classified: `ingested`/`unchanged` (metadata,
    /// stored or already there), `data` (HDF5 image data of a master in the run, not opened),
    /// `skipped` (not a format mxpipe reads: snapshots, logs, MTZ, …) or `failed` (a supported
    /// format that is broken). The format is detected from content; --format overrides. A file
    /// named on the command line that is not metadata is an error. Re-running the same ingest
    /// adds nothing. Exit status 0 when nothing failed (--strict: and nothing was skipped), 1
    /// otherwise, 2 for a bad command line.
    #[command(after_help = concat!("\
Examples:
  mxpipe ingest samples/
  mxpipe ingest --site ESRF --session mx2532-3 /data/visitor/mx2532/id23eh1/20260410/
  mxpipe ingest --keep-going --output json incoming/ > summary.json
  mxpipe ingest --timezone Europe/London /dls/i04/data/2026/mx12345-1/
  mxpipe ingest --follow /data/visit/processed/   # also walk folders that links point to

Collection files are grouped per folder into one MxExperiment; one CollectionSweep per
wavelength and orientation; one Scan per contiguous run of images, in acquisition order.
Readers (--format): see `mxpipe formats`."))]
    Ingest {
        /// Files or folders.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Session (visit) for every experiment of the run that has none (MXLIMS messages
        /// included), e.g. mx23694-12 (proposal-visit). A message naming another session fails.
        #[arg(long, value_name = "VISIT")]
        session: Option<String>,
        /// Continue with the other files when one fails (the failed ones are reported).
        #[arg(long)]
        keep_going: bool,
        /// Treat files that are not metadata (status skipped) as failures.
        #[arg(long)]
        strict: bool,
        /// Walk into folders that symbolic links point to (as `rg -L`). Links to files are
        /// always read; without this flag links to folders are reported `skipped`. Link loops
        /// and dangling links are reported either way.
        #[arg(long, short = 'L')]
        follow: bool,
        /// Force a reader instead of detecting the format (`mxpipe formats` lists them).
        #[arg(long, value_name = "READER")]
        format: Option<String>,
        /// The facility's time zone for timestamps written without one: an IANA name such as
        /// Europe/London (daylight saving applied) or an offset such as +01:00 (default: the
        /// configuration's `timezone`, else UTC with a warning).
        #[arg(long, value_name = "ZONE")]
        timezone: Option<String>,
        /// Summary format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
        /// With [pid] scheme = "datacite": register new samples' DOIs as findable (published)
        /// instead of draft.
        #[arg(long)]
        publish: bool,
    },
    /// List the formats `mxpipe ingest` reads (generated from the reader registry).
    Formats,
    /// Serve the slurp API and the web view over HTTP: POST MXLIMS messages and files, query
    /// read-only SQL, browse experiments.
    ///
    /// Bearer tokens from `mxpipe token new` (scopes ingest, read, admin). HTTPS with [serve]
    /// tls_cert/tls_key; plain HTTP only on loopback unless --insecure-listen (put TLS in front).
    /// The OpenAPI document is at /openapi.json, the Swagger UI at /docs/, the web view at
    /// /experiments (sign in at /login with a read token). SIGTERM or Ctrl-C finishes the
    /// requests in flight, then stops.
    #[command(after_help = "\
Examples:
  mxpipe token new --scope ingest --note beamline-i03 > ingest.token
  mxpipe serve --listen 127.0.0.1:8080
  curl -H \"Authorization: Bearer $(cat ingest.token)\" --data-binary @message.json http://127.0.0.1:8080/v1/messages
  curl -H \"Authorization: Bearer $(cat ingest.token)\" --data-binary @autoPROC.xml 'http://127.0.0.1:8080/v1/files?name=autoPROC.xml'
  mxpipe token new --scope read > read.token    # then open http://127.0.0.1:8080/login")]
    Serve(crate::commands::serve::ServeArgs),
    /// A sample's life across sites: every experiment, sweep, processing and merged result
    /// derived from a sample or crystal (by PID, uuid or IRI), from the PROV-O lineage graph.
    ///
    /// The graph is built in memory from the sites (`--site NAME=LOCATION`, as for `query`).
    /// Exit status 1 when nothing has that identifier.
    Lineage(crate::commands::lineage::LineageArgs),
    /// Run SPARQL over the lineage graph of one or many sites (samples, crystals, experiments,
    /// sweeps, processing, reflection sets and catalogue records as PROV-O).
    Sparql(crate::commands::lineage::SparqlArgs),
    /// Repackage an interleaved HDF5 experiment into one NXmx master per sweep.
    ///
    /// Each master's /entry/data/data is an HDF5 virtual dataset over the existing data files
    /// (nothing is copied; relative paths), images in rotation order with a monotonic omega and
    /// the sweep's wavelength; instrument and sample fields come from the sweep's first master.
    /// The acquisition order (overall index, wedge, source file and frame of every image) and the
    /// experiment's MXLIMS JSON are kept in /entry/mxpipe:acquisition. Beside each master: an
    /// XDS.INP fragment and the DIALS import line. Refuses (exit 1, nothing written) when a data
    /// file is missing or short, when a sweep's wedges disagree in detector geometry or pixel
    /// mask, when wedges overlap in angle (--allow-overlap keeps the later one), or when --out is
    /// inside the raw data folder.
    #[command(after_help = "\
Examples:
  mxpipe repackage --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --out /data/processing/mad --dry-run
  mxpipe repackage --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --out /data/processing/mad
  dials.import /data/processing/mad/6513270e-269e-4d37-b2a7-4de452e6b438_sweep1_master.h5")]
    Repackage {
        /// The experiment: its uuid, as `mxpipe query "SELECT experiment_uuid FROM experiments"` lists.
        #[arg(long, value_name = "UUID")]
        experiment: String,
        /// Folder for the sweep masters (outside the raw data folder).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print the plan (per output file the image ranges taken from each source file), write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where wedges overlap in angle, keep the later-acquired one instead of refusing.
        #[arg(long)]
        allow_overlap: bool,
    },
    /// Persistent sample identifiers: mint, retry pending ones, list ([pid] in the configuration).
    #[command(subcommand)]
    Pid(crate::commands::pid::PidCommand),
    /// Create, list and revoke the bearer tokens of `mxpipe serve`.
    #[command(subcommand)]
    Token(crate::commands::serve::TokenCommand),
    /// Run SQL over one or many sites' stores (DataFusion SQL), with views for scientists.
    ///
    /// Every site's committed rows are visible through the views (`\d` in `mxpipe sql` lists
    /// them; docs/queries.md documents each): ingests, samples, crystals, experiments, sweeps,
    /// scans, image_index, processing, reflection_sets, reflection_shells, processing_inputs,
    /// ssx_frames, ssx_lattices, ssx_runs, barcode_reuse. Each view has a `site` column. Raw
    /// tables are under `store.` (e.g. store.sweeps). Exit status 1 for an SQL error, 2 for an
    /// unreachable site or a bad command line.
    #[command(after_help = "\
Examples:
  mxpipe query \"SELECT sweep_uuid, energy_ev, number_images FROM sweeps\"
  mxpipe query --site ESRF=/data/esrf-store --site MAXIV=s3://mx/store \\
      \"SELECT site, avg(hit_rate) FROM ssx_runs GROUP BY site\"
  mxpipe query --format parquet --out best.parquet \"SELECT * FROM reflection_sets\"

Sites come from --site NAME=LOCATION (repeatable), else the [sites] table of the configuration,
else the one store (--store). s3:// credentials come from the environment.")]
    Query {
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
    },
    /// Write a deterministic synthetic store per site, at scale, for benchmarks and demos.
    ///
    /// One store per site under --store DIR (DIR/DLS, DIR/ESRF, …) and DIR/mxpipe.toml listing
    /// them. Sessions, multi-sweep and interleaved MAD experiments, processing with statistics,
    /// reused barcodes and SSX runs with per-frame rows; distributions in docs/queries.md. The same
    /// seed gives the same store; a re-run adds nothing.
    #[command(after_help = "\
Examples:
  mxpipe generate --sweeps 20000 --ssx-frames 1000000 --sites 3 --seed 7 --store /tmp/gen
  mxpipe --config /tmp/gen/mxpipe.toml query \"SELECT site, count(*) FROM sweeps GROUP BY site\"")]
    Generate {
        /// Rotation sweeps in total (split evenly over the sites).
        #[arg(long, default_value_t = 10_000)]
        sweeps: u64,
        /// SSX frames in total (runs of 10 000–100 000 frames dealt to the sites in turn).
        #[arg(long, default_value_t = 0)]
        ssx_frames: u64,
        /// Number of sites (named DLS, ESRF, MAXIV, SOLEIL, PETRAIII, SLS, then SITE7…).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        sites: u16,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Interactive SQL shell over the same sites and views as `query`.
    ///
    /// Statements end with `;` and may span lines. `\d` lists the views and tables, `\d NAME`
    /// describes one, `\q` quits. History is appended to ~/.mxpipe_history. Reads standard
    /// input, so scripts can pipe statements in.
    #[command(after_help = "\
Examples:
  mxpipe sql
  mxpipe sql --site ESRF=/data/esrf-store --site DLS=./mxpipe-store
  echo 'SELECT count(*) FROM sweeps;' | mxpipe sql")]
    Sql {
        /// Skip unreachable sites with a warning instead of failing.
        #[arg(long)]
        allow_missing_sites: bool,
    },
    /// Show how processing inputs link to stored sweeps (directory + template + image range, or
    /// ISPyB dataCollectionId).
    ///
    /// Links are computed from committed rows whenever they are read, so processing ingested
    /// before its collection links as soon as the collection is ingested; nothing needs
    /// rewriting. This command reports every input and whether it is resolved. Exit status 0,
    /// or 1 with --fail-unresolved when some input is still unresolved.
    #[command(after_help = "\
Examples:
  mxpipe relink
  mxpipe relink --unresolved --output csv
  mxpipe relink --fail-unresolved      # in a pipeline: wait until every input has its collection")]
    Relink {
        /// Only list the unresolved inputs.
        #[arg(long)]
        unresolved: bool,
        /// Exit 1 when any input is unresolved.
        #[arg(long)]
        fail_unresolved: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
    /// Write stored records back out.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Maintain the store.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Validate MXLIMS JSON files (schema layer + semantic layer).
    ///
    /// Exit status: 0 = every file valid, 1 = at least one file invalid, 2 = a file could not be
    /// read or the command line is wrong.
    #[command(after_help = "\
Examples:
  mxpipe validate samples/*.json
  mxpipe validate --format json samples/mad-interleaved.json
  mxpipe validate --against ../shared/testdata/mxlims/0.6.13/schemas msg.json
  mxpipe validate --against DIR --strict-upstream msg.json   # exactly the upstream verdict
  mxpipe validate --schema objects/Shipment shipment-object.json

Rules are named in each error (e.g. ref-dangling, scan-ordinal-duplicate, schema:exclusiveMinimum);
README.md lists them and the policy on upstream schema bugs.")]
    Validate {
        /// Files to validate.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Schema to validate against, e.g. `messages/ShipmentMessage`, `objects/Shipment`,
        /// `datatypes/DropImage` (default: detect the message kind from the content).
        #[arg(long, value_name = "NAME")]
        schema: Option<String>,
        /// Also validate against an external schema folder (e.g. the upstream MXLIMS 0.6.13
        /// schemas); its files are registered by path, never fetched.
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
        /// Reproduce the upstream verdict exactly: use the --against schemas unpatched and report
        /// mxpipe's own findings as warnings only.
        #[arg(long, requires = "against")]
        strict_upstream: bool,
        /// Report format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Write the JSON Schemas generated from mxpipe's typed model.
    #[command(after_help = "\
Examples:
  mxpipe schema --out schemas         # regenerate the checked-in schemas
  mxpipe schema --list
  mxpipe schema messages/MxlimsMessage > MxlimsMessage.json
  mxpipe schema --check schemas       # exit 1 if the folder is stale")]
    Schema {
        /// Print one schema to standard output instead of writing files.
        #[arg(value_name = "NAME")]
        name: Option<String>,
        /// Folder to write into (created if missing).
        #[arg(long, value_name = "DIR", default_value = "schemas")]
        out: PathBuf,
        /// List the schema names and exit.
        #[arg(long)]
        list: bool,
        /// Compare a folder with the generated schemas; exit 1 if any file differs or is missing.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["name", "list"])]
        check: Option<PathBuf>,
    },
}

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
    Ispyb(crate::commands::export::IspybArgs),
    /// Write the ISPyB AutoProcContainer XML of one processing result.
    #[command(after_help = "\
Examples:
  mxpipe export autoproc-xml --processing 6b4cb242-4a23-4596-a217-beaddbc496cb --out ispyb.xml")]
    AutoprocXml(crate::commands::export::XmlArgs),
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
    Icat(crate::commands::icat::IcatArgs),
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
    Scicat(crate::commands::scicat::ScicatArgs),
    /// Print the MXLIMS → SciCat scientificMetadata map as Markdown (the table of docs/scicat.md).
    ScicatMap,
    /// Write the lineage graph (PROV-O) of one or many sites as Turtle, N-Quads or JSON-LD; its
    /// shape is documented by the SHACL shapes in schemas/lineage.shacl.ttl.
    Rdf(crate::commands::lineage::RdfArgs),
}

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
    /// Compact small data files (a new table version; readers are not disturbed).
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

/// Parse the command line and run; returns the process exit status.
pub fn run() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Validate {
            files,
            schema,
            against,
            strict_upstream,
            format,
        } => commands::validate::run(
            &files,
            schema.as_deref(),
            against.as_deref(),
            strict_upstream,
            format,
        ),
        Command::Schema {
            name,
            out,
            list,
            check,
        } => commands::schema::run(name.as_deref(), &out, list, check.as_deref()),
        Command::Store(StoreCommand::Describe) => {
            print!("{}", mxpipe_store::tables::markdown());
            0
        }
        Command::Export(ExportCommand::IspybMap) => {
            print!("{}", mxpipe_export::ispyb::map::markdown());
            0
        }
        Command::Export(ExportCommand::IcatMap) => {
            print!("{}", mxpipe_export::icat::map::markdown());
            0
        }
        Command::Export(ExportCommand::ScicatMap) => {
            print!("{}", mxpipe_export::scicat::map::markdown());
            0
        }
        Command::Formats => {
            for r in mxpipe_ingest::READERS {
                println!("{:<13} {}", r.name(), r.description());
            }
            0
        }
        command => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let (specs, names): (Vec<String>, Vec<String>) =
                cli.site.into_iter().partition(|s| s.contains('='));
            if let Command::Generate {
                sweeps,
                ssx_frames,
                sites,
                seed,
            } = command
            {
                let Some(dir) = cli.store else {
                    return ExitCode::from(fail(
                        "mxpipe generate needs --store DIR (one store per site is written under it)",
                        2,
                    ));
                };
                let spec = mxpipe_ingest::generate::Spec {
                    sweeps,
                    ssx_frames,
                    sites: sites as usize,
                    seed,
                };
                return ExitCode::from(
                    runtime.block_on(commands::generate::run(spec, std::path::Path::new(&dir))),
                );
            }
            if let Command::Sql {
                allow_missing_sites,
            } = command
            {
                let args = commands::query::QueryArgs {
                    sql: String::new(),
                    format: QueryFormat::Table,
                    out: None,
                    allow_missing_sites,
                    site_specs: specs,
                    store: cli.store,
                    site: names.last().cloned(),
                };
                return ExitCode::from(
                    runtime.block_on(commands::query::shell(args, cli.config.as_deref())),
                );
            }
            if let Command::Query {
                sql,
                format,
                out,
                allow_missing_sites,
            } = command
            {
                let args = commands::query::QueryArgs {
                    sql,
                    format,
                    out,
                    allow_missing_sites,
                    site_specs: specs,
                    store: cli.store,
                    site: names.last().cloned(),
                };
                return ExitCode::from(
                    runtime.block_on(commands::query::run(args, cli.config.as_deref())),
                );
            }
            let sites = |allow_missing_sites: bool| commands::query::QueryArgs {
                sql: String::new(),
                format: QueryFormat::Table,
                out: None,
                allow_missing_sites,
                site_specs: specs.clone(),
                store: cli.store.clone(),
                site: names.last().cloned(),
            };
            let config = cli.config.as_deref();
            match command {
                Command::Lineage(args) => {
                    let s = sites(args.allow_missing_sites);
                    return ExitCode::from(
                        runtime.block_on(commands::lineage::lineage(args, s, config)),
                    );
                }
                Command::Sparql(args) => {
                    let s = sites(args.allow_missing_sites);
                    return ExitCode::from(
                        runtime.block_on(commands::lineage::sparql(args, s, config)),
                    );
                }
                Command::Export(ExportCommand::Rdf(args)) => {
                    let s = sites(args.allow_missing_sites);
                    return ExitCode::from(
                        runtime.block_on(commands::lineage::export_rdf(args, s, config)),
                    );
                }
                _ => {}
            }
            if !specs.is_empty() {
                return ExitCode::from(fail(
                    "--site NAME=LOCATION is for `mxpipe query`, `sql`, `lineage`, `sparql` and `export rdf`; other commands take --site NAME",
                    2,
                ));
            }
            runtime.block_on(run_with_store(
                command,
                cli.config.as_deref(),
                cli.store,
                names.last().cloned(),
            ))
        }
    };
    ExitCode::from(code)
}

fn fail(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("error: {message}");
    code
}

async fn run_with_store(
    command: Command,
    config: Option<&std::path::Path>,
    store: Option<String>,
    site: Option<String>,
) -> u8 {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = match Config::load(config) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let location = store
        .or(config.store.location.clone())
        .unwrap_or_else(|| mxpipe_store::DEFAULT_LOCATION.to_owned());
    let site = site
        .or(config.store.site.clone())
        .unwrap_or_else(|| "local".to_owned());
    // Only ingest and serve start a store; every other command reads one, and a typo in --store
    // must not leave an empty store behind.
    let starts_a_store = matches!(
        command,
        Command::Ingest { .. } | Command::Serve(_) | Command::Token(_)
    );
    let local = !location.contains("://") || location.starts_with("file://");
    if !starts_a_store
        && local
        && !std::path::Path::new(location.trim_start_matches("file://")).exists()
    {
        return fail(
            format!(
                "no mxpipe store at {location} (a typo in --store or [store] location? `mxpipe ingest` creates one)"
            ),
            2,
        );
    }
    let store = match mxpipe_store::Store::open(&location, &site, config.storage_options()) {
        Ok(s) => s,
        Err(e) => return fail(e, 2),
    };
    match command {
        Command::Ingest {
            paths,
            session,
            keep_going,
            strict,
            follow,
            format,
            timezone,
            output,
            publish,
        } => {
            let pid = match commands::pid::configured(&config) {
                Ok(p) => p,
                Err(e) => return fail(e, 2),
            };
            let zone = match timezone
                .or(config.timezone.clone())
                .or(config.ingest.timezone.clone())
                .map(|t| mxpipe_ingest::FacilityZone::parse(&t))
                .transpose()
            {
                Ok(z) => z,
                Err(e) => return fail(format!("--timezone: {e}"), 2),
            };
            let session = match session
                .map(|s| mxpipe_model::Session::parse_label(&s))
                .transpose()
            {
                Ok(s) => s,
                Err(e) => return fail(format!("--session: {e}"), 2),
            };
            let store_dir = (!location.contains("://")).then(|| PathBuf::from(&location));
            let request = mxpipe_ingest::pipeline::IngestRequest {
                paths,
                format,
                keep_going,
                strict,
                follow,
                session,
                read: mxpipe_ingest::ReadOptions {
                    timezone: zone,
                    source_names: std::sync::Arc::new(config.ingest.source_names.clone()),
                    ..Default::default()
                },
                store_dir,
                command: Some(std::env::args().collect::<Vec<_>>().join(" ")),
            };
            commands::ingest::run(&store, request, output, pid.as_ref(), publish).await
        }
        Command::Export(ExportCommand::Mxlims {
            experiment,
            sample,
            shipment,
            session,
            out,
        }) => {
            // A uuid in any case and form (as stored: lower case, hyphenated), or a usage error.
            let uuid = |flag: &str, u: String| {
                uuid::Uuid::parse_str(u.trim())
                    .map(|u| u.hyphenated().to_string())
                    .map_err(|_| format!("{flag} {u:?}: expected a uuid (e.g. 0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11); `mxpipe query` lists them"))
            };
            let selection = match (experiment, sample, shipment, session) {
                (Some(u), _, _, _) => match uuid("--experiment", u) {
                    Ok(u) => mxpipe_store::Selection::Experiment(u),
                    Err(e) => return fail(e, 2),
                },
                (_, Some(u), _, _) => match uuid("--sample", u) {
                    Ok(u) => mxpipe_store::Selection::Sample(u),
                    Err(e) => return fail(e, 2),
                },
                (_, _, Some(u), _) => match uuid("--shipment", u) {
                    Ok(u) => mxpipe_store::Selection::Shipment(u),
                    Err(e) => return fail(e, 2),
                },
                (_, _, _, Some(v)) => mxpipe_store::Selection::Session(v),
                _ => {
                    return fail(
                        "choose what to export: --experiment, --sample, --shipment or --session",
                        2,
                    );
                }
            };
            commands::store::export_mxlims(&store, selection, out.as_deref()).await
        }
        Command::Export(ExportCommand::Ispyb(args)) => {
            commands::export::ispyb(&store, args, &config).await
        }
        Command::Export(ExportCommand::Icat(args)) => {
            commands::icat::run(&store, args, &config).await
        }
        Command::Export(ExportCommand::Scicat(args)) => {
            commands::scicat::run(&store, args, &config).await
        }
        Command::Serve(args) => commands::serve::serve(args, &config, &store, location, site).await,
        Command::Token(command) => commands::serve::token(command, &config, &store),
        Command::Pid(command) => commands::pid::run(&store, command, &config).await,
        Command::Repackage {
            experiment,
            out,
            dry_run,
            allow_overlap,
        } => {
            match mxpipe_repackage::repackage(&store, &experiment, &out, dry_run, allow_overlap)
                .await
            {
                Ok((plan, written)) => {
                    print!("{}", plan.describe());
                    for f in &written {
                        eprintln!("wrote {}", f.display());
                    }
                    if dry_run {
                        eprintln!("dry run: nothing written");
                    }
                    0
                }
                Err(e) => fail(e, 1),
            }
        }
        Command::Export(ExportCommand::AutoprocXml(args)) => {
            commands::export::autoproc_xml(&store, args, &config).await
        }
        Command::Relink {
            unresolved,
            fail_unresolved,
            output,
        } => commands::store::relink(&store, unresolved, fail_unresolved, output).await,
        Command::Store(StoreCommand::Stats { output }) => {
            commands::store::maintenance(&store, "stats", 0, output).await
        }
        Command::Store(StoreCommand::Repair) => {
            commands::store::maintenance(&store, "repair", 0, TableFormat::Table).await
        }
        Command::Store(StoreCommand::Optimize) => {
            commands::store::maintenance(&store, "optimize", 0, TableFormat::Table).await
        }
        Command::Store(StoreCommand::Vacuum { retention_hours }) => {
            commands::store::maintenance(&store, "vacuum", retention_hours, TableFormat::Table)
                .await
        }
        Command::Validate { .. }
        | Command::Query { .. }
        | Command::Sql { .. }
        | Command::Generate { .. }
        | Command::Schema { .. }
        | Command::Export(ExportCommand::IspybMap)
        | Command::Export(ExportCommand::IcatMap)
        | Command::Export(ExportCommand::ScicatMap)
        | Command::Formats
        | Command::Lineage(_)
        | Command::Sparql(_)
        | Command::Export(ExportCommand::Rdf(_))
        | Command::Store(StoreCommand::Describe) => unreachable!("handled without a store"),
    }
}

/// A closed output pipe (`mxpipe query … | head -1`) ends the command quietly with status 0, as
/// `rg` and `cat` do: printing to a closed standard output panics inside `println!`, and this
/// hook turns exactly that panic into a silent exit.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if is_broken_pipe(text) {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Does an error text report a closed pipe (EPIPE)?
pub fn is_broken_pipe(text: &str) -> bool {
    text.contains("Broken pipe") || text.contains("os error 32")
}
