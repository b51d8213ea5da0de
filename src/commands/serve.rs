//! `mxpipe serve` and `mxpipe token`.

use std::net::SocketAddr;

use clap::{Args, Subcommand};
use mxpipe_app::{AppError, Context, StoreUse};
use mxpipe_serve::settings;
use mxpipe_serve::tokens::Tokens;

use crate::cli::fail;
use crate::output::{TableFormat, print_table};

/// Serve the slurp API and the web view over HTTP: POST MXLIMS messages and files, query
/// read-only SQL, browse experiments.
///
/// Bearer tokens from `mxpipe token new` (scopes ingest, read, admin). HTTPS with [serve]
/// tls_cert/tls_key; plain HTTP only on loopback unless --insecure-listen (put TLS in front).
/// The OpenAPI document is at /openapi.json, the Swagger UI at /docs/, the web view at
/// /experiments (sign in at /login with a read token). SIGTERM or Ctrl-C finishes the
/// requests in flight, then stops.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe token new --scope ingest --note beamline-i03 > ingest.token
  mxpipe serve --listen 127.0.0.1:8080
  curl -H \"Authorization: Bearer $(cat ingest.token)\" --data-binary @message.json http://127.0.0.1:8080/v1/messages
  curl -H \"Authorization: Bearer $(cat ingest.token)\" --data-binary @autoPROC.xml 'http://127.0.0.1:8080/v1/files?name=autoPROC.xml'
  mxpipe token new --scope read > read.token    # then open http://127.0.0.1:8080/login")]
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

/// Run `mxpipe token …`.
pub fn token(command: TokenCommand, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Start) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let path = settings::tokens_file(ctx, &store);
    let store_id = mxpipe_serve::tokens::store_id(&store);
    let result = Tokens::load(&path).and_then(|mut tokens| match command {
        TokenCommand::New { scope, proposal, expires_days, note } => {
            let (record, secret) = tokens.issue(&scope, proposal, expires_days, note, store_id.clone())?;
            println!("{secret}");
            eprintln!(
                "token {} ({:?}) for the store {store_id} created; its hash is in {}; the token is shown only now",
                record.id,
                record.scope,
                path.display()
            );
            Ok(())
        }
        TokenCommand::List { output } => {
            list_tokens(&tokens, output);
            Ok(())
        }
        TokenCommand::Revoke { id } => tokens.revoke(&id).map(|()| eprintln!("token {id} revoked")),
    });
    match result {
        Ok(()) => 0,
        Err(e) => fail(AppError::Usage(e)),
    }
}

fn list_tokens(tokens: &Tokens, output: TableFormat) {
    let rows: Vec<Vec<String>> = tokens
        .records()
        .iter()
        .map(|r| {
            let scope = format!("{:?}", r.scope).to_lowercase();
            let (expires, store) = (
                r.expires.clone().unwrap_or_default(),
                r.store.clone().unwrap_or_default(),
            );
            vec![
                r.id.clone(),
                scope,
                r.proposals.join(" "),
                r.created.clone(),
                expires,
                r.revoked.to_string(),
                r.note.clone(),
                store,
            ]
        })
        .collect();
    let header = [
        "id",
        "scope",
        "proposals",
        "created",
        "expires",
        "revoked",
        "note",
        "store",
    ];
    print_table(&header, &rows, output);
}

/// Run `mxpipe serve` until SIGTERM or Ctrl-C (requests in flight, ingests included, finish).
pub async fn run(args: ServeArgs, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Start) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let listen = match settings::listen(ctx, args.listen, args.insecure_listen) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let config = match settings::serve_config(ctx, &store, listen.tls.is_some()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(tls) = listen.tls {
        let announce = |a: SocketAddr| {
            eprintln!("mxpipe serve: listening on https://{a} (OpenAPI at /openapi.json)")
        };
        return match mxpipe_serve::serve_tls(listen.addr, &tls, config, announce, shutdown()).await
        {
            Ok(()) => 0,
            Err(e) => fail(AppError::usage(e)),
        };
    }
    let listener = match tokio::net::TcpListener::bind(listen.addr).await {
        Ok(l) => l,
        Err(e) => {
            return fail(AppError::Usage(format!(
                "cannot listen on {}: {e}",
                listen.addr
            )));
        }
    };
    let local = listener.local_addr().map_or(listen.addr, |a| a);
    eprintln!("mxpipe serve: listening on http://{local} (OpenAPI at /openapi.json)");
    match mxpipe_serve::serve(listener, config, shutdown()).await {
        Ok(()) => 0,
        Err(e) => fail(AppError::failed(e)),
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown() {
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
}
