//! Printing rows as an aligned table, CSV or JSON (`--output table|csv|json`), and the output
//! formats the commands offer.

use std::io::Write;

use clap::ValueEnum;

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

/// Print `rows` under `header` in the chosen format on standard output.
pub fn print_table(header: &[&str], rows: &[Vec<String>], format: TableFormat) {
    write_table(&mut std::io::stdout().lock(), header, rows, format);
}

/// Write `rows` under `header` in the chosen format (errors of a closed pipe are ignored here
/// and end the command where it next prints).
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
    format: TableFormat,
) {
    let lines = match format {
        TableFormat::Table => aligned(header, rows),
        TableFormat::Csv => csv(header, rows),
        TableFormat::Json => vec![json(header, rows)],
    };
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

/// Aligned columns (a cell counts at most 100 characters towards its column's width).
fn aligned(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count().min(100));
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<w$}", c, w = widths[i]))
            .collect();
        parts.join("  ").trim_end().to_owned()
    };
    let mut out = vec![
        line(header.iter().map(|h| h.to_string()).collect()),
        line(widths.iter().map(|w| "-".repeat(*w)).collect()),
    ];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out
}

/// Comma-separated values, quoted where needed.
fn csv(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let esc = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = vec![header.iter().map(|h| esc(h)).collect::<Vec<_>>().join(",")];
    out.extend(
        rows.iter()
            .map(|r| r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(",")),
    );
    out
}

/// A JSON array of objects (every value a string).
fn json(header: &[&str], rows: &[Vec<String>]) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::Value::Object(
                header
                    .iter()
                    .zip(r)
                    .map(|(h, c)| ((*h).to_owned(), serde_json::Value::from(c.as_str())))
                    .collect(),
            )
        })
        .collect();
    serde_json::to_string_pretty(&list).expect("JSON")
}
