//! `mxpipe validate`: per-file verdicts with every finding located by file, JSON pointer and rule.

use std::path::{Path, PathBuf};

use mxpipe_model::validate::{Options, Report, Severity, Target, validate_str};
use serde_json::json;

use crate::output::ReportFormat;
use mxpipe_app::schemas::load_upstream;

/// Validate MXLIMS JSON files (schema layer + semantic layer).
///
/// Exit status: 0 = every file valid, 1 = at least one file invalid, 2 = a file could not be
/// read or the command line is wrong.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  mxpipe validate samples/*.json
  mxpipe validate --format json samples/mad-interleaved.json
  mxpipe validate --against ../shared/testdata/mxlims/0.6.13/schemas msg.json
  mxpipe validate --against DIR --strict-upstream msg.json   # exactly the upstream verdict
  mxpipe validate --schema objects/Shipment shipment-object.json

Rules are named in each error (e.g. ref-dangling, scan-ordinal-duplicate, schema:exclusiveMinimum);
README.md lists them and the policy on upstream schema bugs.")]
pub struct ValidateArgs {
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
}

/// Run the command; returns the exit status (0 valid, 1 invalid, 2 unreadable/usage).
pub fn run(args: ValidateArgs) -> u8 {
    let (files, schema, against) = (&args.files, args.schema.as_deref(), args.against.as_deref());
    let (strict_upstream, format) = (args.strict_upstream, args.format);
    let upstream = match against.map(|dir| load_upstream(dir, strict_upstream)) {
        Some(Ok(u)) => Some(u),
        Some(Err(e)) => {
            eprintln!("error: --against: {e}");
            return 2;
        }
        None => None,
    };
    let target = match schema {
        Some(name) => Target::Named(name.to_owned()),
        None => Target::AutoMessage,
    };
    let options = Options {
        strict_upstream,
        upstream: upstream.as_ref(),
    };
    let mut status = 0u8;
    let mut json_out = Vec::new();
    for file in files {
        match check_file(file, &target, &options, format, &mut json_out) {
            Ok(code) => status = status.max(code),
            Err(code) => return code,
        }
    }
    if format == ReportFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_out).expect("report serialises")
        );
    }
    status
}

/// Validate one file and report it: 0 valid, 1 invalid, 2 unreadable; `Err` stops the command
/// (the target itself is wrong).
fn check_file(
    file: &Path,
    target: &Target,
    options: &Options,
    format: ReportFormat,
    json_out: &mut Vec<serde_json::Value>,
) -> Result<u8, u8> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            match format {
                ReportFormat::Text => eprintln!("{}: cannot read: {e}", file.display()),
                ReportFormat::Json => {
                    json_out.push(json!({"file": file, "readable": false, "error": e.to_string()}))
                }
            }
            return Ok(2);
        }
    };
    let report = validate_str(&text, target, options).map_err(|e| {
        eprintln!("error: {e}");
        2u8
    })?;
    match format {
        ReportFormat::Text => print_text(file, &report),
        ReportFormat::Json => json_out.push(json!({
            "file": file, "readable": true, "schema": report.schema, "valid": report.is_valid(),
            "findings": report.findings,
        })),
    }
    Ok(u8::from(!report.is_valid()))
}

fn print_text(file: &Path, report: &Report) {
    let errors = report.errors().count();
    let warnings = report.findings.len() - errors;
    let verdict = if report.is_valid() {
        "valid"
    } else {
        "INVALID"
    };
    let mut counts = Vec::new();
    if errors > 0 {
        counts.push(format!(
            "{errors} error{}",
            if errors == 1 { "" } else { "s" }
        ));
    }
    if warnings > 0 {
        counts.push(format!(
            "{warnings} warning{}",
            if warnings == 1 { "" } else { "s" }
        ));
    }
    let counts = if counts.is_empty() {
        String::new()
    } else {
        format!(", {}", counts.join(", "))
    };
    println!("{}: {verdict} ({}{counts})", file.display(), report.schema);
    for f in &report.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let at = if f.pointer.is_empty() {
            "(document)"
        } else {
            f.pointer.as_str()
        };
        println!(
            "  {level}[{}] {}:{at}: expected {}; found {}",
            f.rule,
            file.display(),
            f.expected,
            f.found
        );
    }
}
