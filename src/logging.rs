//! Logs that can be seen: `tracing` events on standard error — human lines for commands, JSON
//! lines for `mxpipe serve` with `[serve] log_format = "json"`. The level comes from `--log-level`
//! (a bare level is for mxpipe's crates; directives such as `deltalake=debug` name others), else
//! `RUST_LOG` (per-crate directives), else the command's default.

use tracing_subscriber::EnvFilter;

const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Install the subscriber once for the process.
pub fn install(level: Option<&str>, default: &str, json: bool) -> Result<(), mxpipe_app::AppError> {
    let usage = |why: String| {
        mxpipe_app::AppError::Usage(format!(
            "--log-level {}: {why} (expected error, warn, info, debug, trace or off, or directives such as mxpipe_serve=debug)",
            level.unwrap_or_default()
        ))
    };
    let filter = match level {
        // A bare word would be read as a target name: only the level names are taken bare.
        Some(l)
            if !l.contains(['=', ',']) && !LEVELS.contains(&l.to_ascii_lowercase().as_str()) =>
        {
            return Err(usage("not a level".into()));
        }
        // A bare level is mxpipe's: dependencies stay quiet unless a directive names them.
        Some(l) if !l.contains(['=', ',']) => EnvFilter::new(format!("mxpipe={l}")),
        Some(l) => EnvFilter::try_new(l).map_err(|e| usage(e.to_string()))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    // A closed standard error (a parent that stopped reading) must not end the process.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false);
    // A second install (tests calling `run` twice in one process) keeps the first.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    Ok(())
}
