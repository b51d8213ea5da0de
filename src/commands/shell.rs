//! The statement loop of `mxpipe sql`: a terminal gets line editing and history; standard input
//! is read as a script.

use std::io::Write;
use std::path::Path;

use datafusion::prelude::SessionContext;

use crate::commands::query::{answer, write};
use crate::output::QueryFormat;

/// `mxpipe sql`: statements from standard input, ended by `;`; `\d`, `\d NAME`, `\q`.
pub async fn run(ctx: &SessionContext) -> u8 {
    let history = std::env::var_os("HOME").map(|h| Path::new(&h).join(".mxpipe_history"));
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        terminal(ctx, history.as_deref()).await
    } else {
        script(ctx, history.as_deref()).await
    }
}

/// A terminal: line editing and ↑/↓ through the history of earlier sessions.
async fn terminal(ctx: &SessionContext, history: Option<&Path>) -> u8 {
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        eprintln!("error: cannot open the terminal for line editing");
        return 2;
    };
    if let Some(p) = history {
        let _ = editor.load_history(p);
    }
    let mut shell = Shell::default();
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
                    if let Some(p) = history {
                        let _ = editor.save_history(p);
                    }
                    shell.failed |= !run_statement(ctx, &statement).await;
                }
                if shell.quit {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => shell.pending.clear(),
            Err(_) => break,
        }
    }
    0
}

/// A script on standard input: statements run in order; any failure makes the status 1.
async fn script(ctx: &SessionContext, history: Option<&Path>) -> u8 {
    use std::io::BufRead;
    let mut shell = Shell::default();
    let mut log = history.and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Some(statement) = shell.feed(&line) {
            if let Some(h) = log.as_mut() {
                let _ = writeln!(h, "{}", statement.trim().replace('\n', " "));
            }
            shell.failed |= !run_statement(ctx, &statement).await;
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
    let result = answer(ctx, sql.trim().trim_end_matches(';')).await;
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
