//! Logs that can be seen: `tracing` events on standard error — human lines for commands, JSON
//! lines for `mxpipe serve` with `[serve] log_format = "json"`. The level comes from `--log-level`,
//! else `RUST_LOG` (per-crate directives), else the command's default.

use tracing_subscriber::EnvFilter;

/// Install the subscriber once for the process.
pub fn install(level: Option<&str>, default: &str, json: bool) -> Result<(), mxpipe_app::AppError> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| {
            mxpipe_app::AppError::Usage(format!(
                "--log-level {l:?}: {e} (expected error, warn, info, debug or trace)"
            ))
        })?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second install (tests calling `run` twice in one process) keeps the first.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    Ok(())
}
