//! `mxpipe query`: SQL over one or many sites' stores, printed as a table, CSV, JSON or Parquet.

use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use mxpipe_queries::{Site, open_sites, parse_site};

use crate::cli::QueryFormat;
use crate::config::Config;

/// What `mxpipe query` was asked.
pub struct QueryArgs {
    /// The SQL.
    pub sql: String,
    /// Output format.
    pub format: QueryFormat,
    /// Output file.
    pub out: Option<PathBuf>,
    /// Skip unreachable sites.
    pub allow_missing_sites: bool,
    /// `--site NAME=LOCATION` values.
    pub site_specs: Vec<String>,
    /// `--store` (single-site default).
    pub store: Option<String>,
    /// `--site NAME` (name of that single site).
    pub site: Option<String>,
}

/// The sites to query: flags, else the configuration's `[sites]`, else the one store.
fn sites(args: &QueryArgs, config: &Config) -> Result<Vec<Site>, String> {
    if !args.site_specs.is_empty() {
        return args.site_specs.iter().map(|s| parse_site(s)).collect();
    }
    if !config.sites.is_empty() && args.store.is_none() {
        return Ok(config
            .sites
            .iter()
            .map(|(n, l)| Site {
                name: n.clone(),
                location: l.clone(),
            })
            .collect());
    }
    // `--site FOLDER` without `NAME=` and without `--store`: a store folder by that name is meant
    // (named after the folder), not the default store relabelled.
    if let Some(folder) = args.site.as_deref().filter(|_| args.store.is_none())
        && mxpipe_store::local_state(std::path::Path::new(folder))
            != mxpipe_store::LocalState::NotAStore
    {
        let name = std::path::Path::new(folder)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| folder.to_owned());
        return Ok(vec![Site {
            name,
            location: folder.to_owned(),
        }]);
    }
    let location = args
        .store
        .clone()
        .or(config.store.location.clone())
        .unwrap_or_else(|| mxpipe_store::DEFAULT_LOCATION.to_owned());
    let local = !location.contains("://") || location.starts_with("file://");
    if local && !std::path::Path::new(location.trim_start_matches("file://")).exists() {
        return Err(format!(
            "no mxpipe store at {location} (a typo in --store or [store] location? `mxpipe ingest` creates one; several sites: --site NAME=LOCATION)"
        ));
    }
    Ok(vec![Site {
        // Without a name, each row keeps the site it was ingested with.
        name: args.site.clone().unwrap_or_default(),
        location,
    }])
}

/// Open the sites of `args` (exit status on failure).
pub(crate) async fn session(args: &QueryArgs, config: Option<&Path>) -> Result<SessionContext, u8> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = Config::load(config).map_err(|e| fail(e, 2))?;
    let sites = sites(args, &config).map_err(|e| fail(e, 2))?;
    let (ctx, warnings) =
        match open_sites(&sites, &config.storage_options(), args.allow_missing_sites).await {
            Ok(c) => c,
            Err(
                e @ (mxpipe_queries::QueryError::Site { .. }
                | mxpipe_queries::QueryError::NotAStore { .. }),
            ) => return Err(fail(e, 2)),
            Err(e) => return Err(fail(e, 1)),
        };
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(ctx)
}

/// `mxpipe sql`: statements from standard input, ended by `;`; `\d`, `\d NAME`, `\q`.
pub async fn shell(args: QueryArgs, config: Option<&Path>) -> u8 {
    use std::io::{BufRead, IsTerminal};
    let ctx = match session(&args, config).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let history_path = std::env::var_os("HOME").map(|h| Path::new(&h).join(".mxpipe_history"));
    let mut shell = Shell::default();
    if std::io::stdin().is_terminal() {
        // A terminal: line editing and ↑/↓ through the history of earlier sessions.
        let Ok(mut editor) = rustyline::DefaultEditor::new() else {
            return fail("cannot open the terminal for line editing", 2);
        };
        if let Some(p) = &history_path {
            let _ = editor.load_history(p);
        }
        loop {
            let prompt = if shell.pending.is_empty() {
                "mxpipe> "
            } else {
                "   ...> "
            };
            match editor.readline(prompt) {
                Ok(line) => {
                    if let Some(statement) = shell.feed(&line) {
                        let _ = editor.add_history_entry(statement.trim().replace('\n', " "));
                        if let Some(p) = &history_path {
                            let _ = editor.save_history(p);
                        }
                        if !run_statement(&ctx, &statement).await {
                            shell.failed = true;
                        }
                    }
                    if shell.quit {
                        break;
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => shell.pending.clear(),
                Err(_) => break,
            }
        }
        return 0;
    }
    // A script on standard input: statements run in order; any failure makes the status 1.
    let mut history = history_path.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Some(statement) = shell.feed(&line) {
            if let Some(h) = history.as_mut() {
                let _ = writeln!(h, "{}", statement.trim().replace('\n', " "));
            }
            if !run_statement(&ctx, &statement).await {
                shell.failed = true;
            }
        }
        if shell.quit {
            break;
        }
    }
    if !shell.pending.trim().is_empty() {
        eprintln!("error: the last statement has no closing ;");
        shell.failed = true;
    }
    u8::from(shell.failed)
}

/// Line-by-line state of the shell: statements end with `;`, backslash commands stand alone.
#[derive(Default)]
struct Shell {
    pending: String,
    failed: bool,
    quit: bool,
}

impl Shell {
    /// Feed one line; returns a complete statement to run.
    fn feed(&mut self, line: &str) -> Option<String> {
        let trimmed = line.trim();
        if self.pending.is_empty() && trimmed.starts_with('\\') {
            return match trimmed.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["\\q"] => {
                    self.quit = true;
                    None
                }
                ["\\d"] => Some("SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema IN ('public', 'store') ORDER BY table_schema, table_name".to_owned()),
                ["\\d", name] => Some(format!("DESCRIBE {name}")),
                _ => {
                    eprintln!("commands: \\d, \\d NAME, \\q; SQL ends with ;");
                    None
                }
            };
        }
        self.pending.push_str(line);
        self.pending.push('\n');
        trimmed
            .ends_with(';')
            .then(|| std::mem::take(&mut self.pending))
    }
}

/// Run one statement and print its result as a table; false on error (printed).
async fn run_statement(ctx: &SessionContext, sql: &str) -> bool {
    let result = match ctx.sql(sql.trim().trim_end_matches(';')).await {
        Ok(df) => collect_keeping_columns(df).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(b) => {
            if let Err(e) = write(&b, QueryFormat::Table, None) {
                eprintln!("error: {e}");
            }
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// Run the query; exit status 0, 1 (SQL error) or 2 (sites, usage, output).
pub async fn run(args: QueryArgs, config: Option<&Path>) -> u8 {
    if args.format == QueryFormat::Parquet && args.out.is_none() {
        return fail("--format parquet needs --out FILE", 2);
    }
    let ctx = match session(&args, config).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let batches = match ctx.sql(&args.sql).await {
        Ok(df) => collect_keeping_columns(df).await,
        Err(e) => Err(e),
    };
    let batches = match batches {
        Ok(b) => b,
        Err(e) => {
            return fail(
                format!("{e}\n(views: `mxpipe query \"SHOW TABLES\"`; columns: docs/queries.md)"),
                1,
            );
        }
    };
    match write(&batches, args.format, args.out.as_deref()) {
        Ok(()) => 0,
        Err(e) if crate::cli::is_broken_pipe(&e) => 0,
        Err(e) => fail(e, 2),
    }
}

/// The answer's batches; an empty answer is one empty batch with the answer's columns, so that
/// tables and CSV still show their header and Parquet keeps its schema.
async fn collect_keeping_columns(
    df: datafusion::prelude::DataFrame,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    Ok(if batches.is_empty() {
        vec![RecordBatch::new_empty(schema)]
    } else {
        batches
    })
}

fn fail(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("error: {message}");
    code
}

/// Write batches in a format to a file or standard output.
pub fn write(
    batches: &[RecordBatch],
    format: QueryFormat,
    out: Option<&Path>,
) -> Result<(), String> {
    use datafusion::arrow;
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| format!("{}: cannot create: {e}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let err = |e: &dyn std::fmt::Display| format!("writing the result: {e}");
    match format {
        QueryFormat::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches).map_err(|e| err(&e))?;
            writeln!(sink, "{text}").map_err(|e| err(&e))?;
            let n: usize = batches.iter().map(|b| b.num_rows()).sum();
            eprintln!("{n} row(s)");
        }
        QueryFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(sink);
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
        }
        QueryFormat::Json => {
            // Every column in every row, a null as `null` (not left out).
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(Vec::new());
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
            w.finish().map_err(|e| err(&e))?;
            let bytes = w.into_inner();
            sink.write_all(if bytes.is_empty() { b"[]" } else { &bytes })
                .and_then(|_| writeln!(sink))
                .map_err(|e| err(&e))?;
        }
        QueryFormat::Parquet => {
            let Some(schema) = batches.first().map(|b| b.schema()) else {
                return Err("the query returned no batches; nothing to write".into());
            };
            let path = out.expect("checked");
            let file = std::fs::File::create(path)
                .map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
            let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None)
                .map_err(|e| err(&e))?;
            for b in batches {
                w.write(b).map_err(|e| err(&e))?;
            }
            w.close().map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
