//! `mxpipe serve` and `mxpipe token`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use mxpipe_serve::tokens::{Scope, Tokens};

use crate::cli::TableFormat;
use crate::commands::table::print_table;
use crate::config::Config;

/// `mxpipe serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default [serve] listen, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Allow plain HTTP on an address that is not loopback (put TLS in front of it).
    #[arg(long)]
    pub insecure_listen: bool,
}

/// `mxpipe token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once, alone on standard output (only its hash is kept).
    New {
        /// What it may do: ingest, read or admin.
        #[arg(long, value_name = "SCOPE")]
        scope: String,
        /// Proposals a read token may see (repeatable; none: all).
        #[arg(long, value_name = "CODE")]
        proposal: Vec<String>,
        /// Days until it expires (none: never).
        #[arg(long, value_name = "DAYS")]
        expires_days: Option<u32>,
        /// Who or what it is for.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List tokens (ids, scopes, expiry; never the tokens).
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        output: TableFormat,
    },
    /// Revoke a token by id (takes effect at once, also in a running server).
    Revoke {
        /// Token id (`mxpipe token list`).
        id: String,
    },
}

/// `[serve] tokens_file`, else `mxpipe-tokens.json` inside a local store (the tokens travel with
/// their store, whatever folder the server starts from), else `./mxpipe-tokens.json`.
fn tokens_file(config: &Config, store: &mxpipe_store::Store) -> PathBuf {
    if let Some(f) = &config.serve.tokens_file {
        return f.clone();
    }
    match store.root().to_file_path() {
        Ok(dir) if store.root().scheme() == "file" => dir.join("mxpipe-tokens.json"),
        _ => PathBuf::from("mxpipe-tokens.json"),
    }
}

/// Run `mxpipe token …`.
pub fn token(command: TokenCommand, config: &Config, store: &mxpipe_store::Store) -> u8 {
    let path = tokens_file(config, store);
    let mut tokens = match Tokens::load(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let result = match command {
        TokenCommand::New {
            scope,
            proposal,
            expires_days,
            note,
        } => Scope::parse(&scope)
            .and_then(|scope| {
                match proposal.iter().find(|p| {
                    p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }) {
                    Some(bad) => Err(format!(
                        "--proposal {bad:?}: expected a proposal code of letters and digits, e.g. mx23694 (its visits are mx23694-1, mx23694-2, …)"
                    )),
                    None => Ok(scope),
                }
            })
            .and_then(|scope| {
            let expires =
                expires_days.map(|d| chrono::Utc::now() + chrono::Duration::days(d as i64));
            let store = mxpipe_serve::tokens::store_id(store);
            tokens
                .create(scope, proposal, expires, note, store.clone())
                .map(|(record, secret)| {
                    println!("{secret}");
                    eprintln!(
                        "token {} ({:?}) for the store {store} created; its hash is in {}; the token is shown only now",
                        record.id,
                        record.scope,
                        path.display()
                    );
                })
        }),
        TokenCommand::List { output } => {
            let rows: Vec<Vec<String>> = tokens
                .records()
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        format!("{:?}", r.scope).to_lowercase(),
                        r.proposals.join(" "),
                        r.created.clone(),
                        r.expires.clone().unwrap_or_default(),
                        r.revoked.to_string(),
                        r.note.clone(),
                        r.store.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "id",
                    "scope",
                    "proposals",
                    "created",
                    "expires",
                    "revoked",
                    "note",
                    "store",
                ],
                &rows,
                output,
            );
            Ok(())
        }
        TokenCommand::Revoke { id } => tokens.revoke(&id).map(|()| eprintln!("token {id} revoked")),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

/// Run `mxpipe serve` until SIGTERM or Ctrl-C (requests in flight, ingests included, finish).
pub async fn serve(
    args: ServeArgs,
    config: &Config,
    opened: &mxpipe_store::Store,
    store: String,
    site: String,
) -> u8 {
    let listen = args
        .listen
        .or(config.serve.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    let tls = match (&config.serve.tls_cert, &config.serve.tls_key) {
        (Some(cert), Some(key)) => Some(mxpipe_serve::Tls {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        _ => {
            eprintln!("error: [serve] needs both tls_cert and tls_key for HTTPS");
            return 2;
        }
    };
    if tls.is_none() && !listen.ip().is_loopback() && !args.insecure_listen {
        eprintln!(
            "error: {listen} is not a loopback address and no TLS is configured: set [serve] tls_cert and tls_key, or put TLS in front and pass --insecure-listen"
        );
        return 2;
    }
    let pid = match crate::commands::pid::configured(config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let public_fields = config
        .pid
        .as_ref()
        .map(|p| p.public_fields.clone())
        .unwrap_or_default();
    if let Some(f) = public_fields
        .iter()
        .find(|f| !mxpipe_serve::PUBLIC_FIELDS.contains(&f.as_str()))
    {
        eprintln!(
            "error: [pid] public_fields: unknown field {f:?}; expected any of {}",
            mxpipe_serve::PUBLIC_FIELDS.join(", ")
        );
        return 2;
    }
    let c = &config.serve;
    let mut serve_config = mxpipe_serve::ServeConfig::new(store, site, tokens_file(config, opened));
    serve_config.storage_options = config.storage_options();
    serve_config.secure_cookies = tls.is_some();
    serve_config.pid = pid;
    serve_config.public_fields = public_fields;
    if let Some(mb) = c.max_body_mb {
        serve_config.max_body = mb * 1024 * 1024;
    }
    if let Some(n) = c.max_rows {
        serve_config.max_rows = n;
    }
    if let Some(s) = c.query_timeout_s {
        serve_config.query_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(s) = c.request_timeout_s {
        serve_config.request_timeout = std::time::Duration::from_secs(s);
    }
    if let Some(n) = c.rate_per_second {
        serve_config.rate_per_second = n;
    }
    if let Some(n) = c.burst {
        serve_config.burst = n;
    }
    if let Some(mb) = c.query_memory_mb {
        serve_config.query_memory = mb.max(16) * 1024 * 1024;
    }
    if let Some(n) = c.max_queries {
        serve_config.max_queries = n.max(1);
    }
    if let Some(n) = c.max_connections {
        serve_config.max_connections = n.max(1);
    }
    if let Some(s) = c.header_read_timeout_s {
        serve_config.header_read_timeout = std::time::Duration::from_secs(s.max(1));
    }
    if let Some(n) = c.max_in_flight_per_token {
        serve_config.max_in_flight_per_token = n.max(1);
    }
    let shutdown = async {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term => {},
        }
        eprintln!("mxpipe serve: shutting down after the requests in flight");
    };
    if let Some(tls) = tls {
        let announce = |a: SocketAddr| {
            eprintln!("mxpipe serve: listening on https://{a} (OpenAPI at /openapi.json)")
        };
        return match mxpipe_serve::serve_tls(listen, &tls, serve_config, announce, shutdown).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return 2;
        }
    };
    let local = listener.local_addr().map_or(listen, |a| a);
    eprintln!("mxpipe serve: listening on http://{local} (OpenAPI at /openapi.json)");
    match mxpipe_serve::serve(listener, serve_config, shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
