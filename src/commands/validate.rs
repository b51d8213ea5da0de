//! `mxpipe validate`: per-file verdicts with every finding located by file, JSON pointer and rule.

use std::path::{Path, PathBuf};

use mxpipe_model::validate::{Options, Report, Severity, Target, validate_str};
use serde_json::json;

use crate::cli::ReportFormat;
use crate::schema_dir::load_upstream;

/// Run the command; returns the exit status (0 valid, 1 invalid, 2 unreadable/usage).
pub fn run(
    files: &[PathBuf],
    schema: Option<&str>,
    against: Option<&Path>,
    strict_upstream: bool,
    format: ReportFormat,
) -> u8 {
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
    let mut any_invalid = false;
    let mut any_unreadable = false;
    let mut json_out = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                any_unreadable = true;
                match format {
                    ReportFormat::Text => eprintln!("{}: cannot read: {e}", file.display()),
                    ReportFormat::Json => json_out
                        .push(json!({"file": file, "readable": false, "error": e.to_string()})),
                }
                continue;
            }
        };
        let report = match validate_str(&text, &target, &options) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        any_invalid |= !report.is_valid();
        match format {
            ReportFormat::Text => print_text(file, &report),
            ReportFormat::Json => json_out.push(json!({
                "file": file, "readable": true, "schema": report.schema, "valid": report.is_valid(),
                "findings": report.findings,
            })),
        }
    }
    if format == ReportFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_out).expect("report serialises")
        );
    }
    if any_unreadable {
        2
    } else if any_invalid {
        1
    } else {
        0
    }
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
