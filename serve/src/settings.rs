//! The service's settings from the application [`Context`]: `[serve]` and `[pid]` of the
//! configuration, the listening address and TLS, where the tokens are kept.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mxpipe_app::{AppError, AppResult, Context};
use mxpipe_store::Store;

use crate::{PUBLIC_FIELDS, ServeConfig, Tls};

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct Listen {
    /// The address (`--listen`, else `[serve] listen`, else 127.0.0.1:8080).
    pub addr: SocketAddr,
    /// HTTPS, when `[serve] tls_cert` and `tls_key` are set.
    pub tls: Option<Tls>,
}

/// `[serve] tokens_file`, else `mxpipe-tokens.json` inside a local store (the tokens travel with
/// their store, whatever folder the server starts from), else `./mxpipe-tokens.json`.
pub fn tokens_file(ctx: &Context, store: &Store) -> PathBuf {
    if let Some(f) = &ctx.config.serve.tokens_file {
        return f.clone();
    }
    match store.root().to_file_path() {
        Ok(dir) if store.root().scheme() == "file" => dir.join("mxpipe-tokens.json"),
        _ => PathBuf::from("mxpipe-tokens.json"),
    }
}

/// The address and TLS; plain HTTP on an address that is not loopback only with
/// `insecure_listen`.
pub fn listen(ctx: &Context, flag: Option<SocketAddr>, insecure_listen: bool) -> AppResult<Listen> {
    let c = &ctx.config.serve;
    let addr = flag
        .or(c.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let tls = match (&c.tls_cert, &c.tls_key) {
        (Some(cert), Some(key)) => Some(Tls {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(AppError::usage(
                "[serve] needs both tls_cert and tls_key for HTTPS",
            ));
        }
    };
    if tls.is_none() && !addr.ip().is_loopback() && !insecure_listen {
        return Err(AppError::Usage(format!(
            "{addr} is not a loopback address and no TLS is configured: set [serve] tls_cert and tls_key, or put TLS in front and pass --insecure-listen"
        )));
    }
    Ok(Listen { addr, tls })
}

/// The service's configuration from the context's `[serve]` and `[pid]` sections.
pub fn serve_config(ctx: &Context, store: &Store, secure: bool) -> AppResult<ServeConfig> {
    let public_fields = ctx
        .config
        .pid
        .as_ref()
        .map(|p| p.public_fields.clone())
        .unwrap_or_default();
    if let Some(f) = public_fields
        .iter()
        .find(|f| !PUBLIC_FIELDS.contains(&f.as_str()))
    {
        return Err(AppError::Usage(format!(
            "[pid] public_fields: unknown field {f:?}; expected any of {}",
            PUBLIC_FIELDS.join(", ")
        )));
    }
    let mut s = ServeConfig::new(ctx.location(), ctx.site(), tokens_file(ctx, store));
    s.storage_options = ctx.config.storage_options();
    // `[cluster] url`: `/v1/query` runs there.
    s.cluster = ctx.engine(None)?;
    s.secure_cookies = secure;
    s.pid = ctx.pid()?;
    s.public_fields = public_fields;
    limits(ctx, &mut s);
    Ok(s)
}

/// The `[serve]` limits that are set.
fn limits(ctx: &Context, s: &mut ServeConfig) {
    let c = &ctx.config.serve;
    let secs = Duration::from_secs;
    if let Some(mb) = c.max_body_mb {
        s.max_body = mb * 1024 * 1024;
    }
    s.max_rows = c.max_rows.unwrap_or(s.max_rows);
    s.query_timeout = c.query_timeout_s.map_or(s.query_timeout, secs);
    s.request_timeout = c.request_timeout_s.map_or(s.request_timeout, secs);
    s.rate_per_second = c.rate_per_second.unwrap_or(s.rate_per_second);
    s.burst = c.burst.unwrap_or(s.burst);
    if let Some(mb) = c.query_memory_mb {
        s.query_memory = mb.max(16) * 1024 * 1024;
    }
    s.max_queries = c.max_queries.map_or(s.max_queries, |n| n.max(1));
    s.max_connections = c.max_connections.map_or(s.max_connections, |n| n.max(1));
    s.header_read_timeout = c
        .header_read_timeout_s
        .map_or(s.header_read_timeout, |n| secs(n.max(1)));
    s.compact_every = c.compact_every.map_or(s.compact_every, |n| n.max(1));
    s.max_in_flight_per_token = c
        .max_in_flight_per_token
        .map_or(s.max_in_flight_per_token, |n| n.max(1));
}
