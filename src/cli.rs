//! Command-line definition (clap) and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

const EXAMPLES: &str = "\
Examples:
  mxpipe validate samples/*.json
  mxpipe validate --against ../shared/testdata/mxlims/0.6.13/schemas message.json
  mxpipe validate --format json --schema datatypes/DropImage image.json
  mxpipe schema --out schemas";

/// mxpipe: a typed, documented pipeline for macromolecular-crystallography experiment metadata.
///
/// Reads MXLIMS 0.6.13 messages, validates them in two layers (JSON Schema generated from
/// mxpipe's typed model, then semantic rules) and writes the schemas it is built on.
#[derive(Debug, Parser)]
#[command(name = "mxpipe", version, after_help = EXAMPLES, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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

/// Parse the command line and run; returns the process exit status.
pub fn run() -> ExitCode {
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
    };
    ExitCode::from(code)
}
