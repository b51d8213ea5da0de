//! The command line: global flags, one `match` that hands each command its arguments and the
//! [`Context`], and the process-wide setup (logging, a closed pipe, the async runtime).

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mxpipe_app::{AppError, Context, Flags};

use crate::commands::{
    cluster, export, generate, import, ingest, lineage, pid, query, repackage, schema, serve,
    store, validate,
};

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
./mxpipe-store. Logs: --log-level or RUST_LOG (e.g. RUST_LOG=mxpipe_serve=debug).";

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
    /// Log level of mxpipe's own crates on standard error: error, warn, info, debug or trace
    /// (default warn; info for `serve`), or directives such as deltalake=debug; else RUST_LOG.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// The subcommands; each module owns its arguments and its `run`.
#[derive(Debug, Subcommand)]
pub enum Command {
    Ingest(ingest::IngestArgs),
    /// List the formats `mxpipe ingest` reads (generated from the reader registry).
    Formats,
    Serve(serve::ServeArgs),
    Lineage(lineage::LineageArgs),
    Sparql(lineage::SparqlArgs),
    Repackage(repackage::RepackageArgs),
    /// Persistent sample identifiers: mint, retry pending ones, list ([pid] in the configuration).
    #[command(subcommand)]
    Pid(pid::PidCommand),
    /// Create, list and revoke the bearer tokens of `mxpipe serve`.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    Query(query::QueryArgs),
    Generate(generate::GenerateArgs),
    Sql(query::SqlArgs),
    Relink(store::RelinkArgs),
    /// Write stored records back out.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Bring a legacy catalogue's history into the store.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Maintain the store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    Validate(validate::ValidateArgs),
    Schema(schema::SchemaArgs),
    /// Run the processes of an Apache Ballista cluster (scheduler, executor) for --cluster.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
}

/// Parse the command line and run; returns the process exit status.
pub fn run() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve(_));
    let flags = Flags {
        config: cli.config,
        store: cli.store,
        sites: cli.site,
    };
    let code = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Formats => ingest::formats(),
        // Ballista's own processes: their own runtime, logging and flags.
        Command::Cluster(command) => cluster::run(command),
        Command::Store(store::StoreCommand::Describe) => store::describe(),
        Command::Export(command) if export::is_map(&command) => export::map(command),
        // Synthetic sites need no configuration: a broken ./mxpipe.toml must not stop them.
        Command::Generate(args) => {
            let ctx = Context::with_config(Default::default(), flags.store, None);
            block_on(
                cli.log_level.as_deref(),
                false,
                false,
                generate::run(args, &ctx),
            )
        }
        command => with_context(flags, cli.log_level, serving, |ctx| dispatch(command, ctx)),
    };
    ExitCode::from(code)
}

/// The commands that need a [`Context`] (a configuration, a store or sites).
async fn dispatch(command: Command, ctx: Context) -> u8 {
    match command {
        Command::Ingest(args) => ingest::run(args, &ctx).await,
        Command::Serve(args) => serve::run(args, &ctx).await,
        Command::Token(command) => serve::token(command, &ctx),
        Command::Lineage(args) => lineage::lineage(args, &ctx).await,
        Command::Sparql(args) => lineage::sparql(args, &ctx).await,
        Command::Repackage(args) => repackage::run(args, &ctx).await,
        Command::Pid(command) => pid::run(command, &ctx).await,
        Command::Query(args) => query::run(args, &ctx).await,
        Command::Sql(args) => query::shell(args, &ctx).await,
        Command::Generate(args) => generate::run(args, &ctx).await,
        Command::Relink(args) => store::relink(args, &ctx).await,
        Command::Export(command) => export::run(command, &ctx).await,
        Command::Import(command) => import::run(command, &ctx).await,
        Command::Store(command) => store::run(command, &ctx).await,
        Command::Formats | Command::Validate(_) | Command::Schema(_) | Command::Cluster(_) => {
            unreachable!("run without a context")
        }
    }
}

/// Resolve the context, then run `work` with logs installed on the async runtime.
fn with_context<F: Future<Output = u8>>(
    flags: Flags,
    log_level: Option<String>,
    serving: bool,
    work: impl FnOnce(Context) -> F,
) -> u8 {
    let ctx = match Context::resolve(flags) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let json = serving && ctx.config.serve.log_format == Some(mxpipe_app::config::LogFormat::Json);
    block_on(log_level.as_deref(), serving, json, work(ctx))
}

/// Install logging and run `work` on the async runtime. By default only mxpipe's own crates log
/// (a dependency's routine messages are not the user's business): warnings, and for the server
/// its request lines and the application's notes.
fn block_on(
    log_level: Option<&str>,
    serving: bool,
    json: bool,
    work: impl Future<Output = u8>,
) -> u8 {
    let default = if serving {
        "mxpipe=warn,mxpipe_serve=info,mxpipe_app=info"
    } else {
        "mxpipe=warn"
    };
    if let Err(e) = crate::logging::install(log_level, default, json) {
        return fail(e);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(work)
}

/// Print an error and return its exit status.
pub fn fail(e: AppError) -> u8 {
    eprintln!("error: {e}");
    e.exit_code()
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
