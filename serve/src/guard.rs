//! What stands between the network and the handlers: a connection limit and a header-read
//! timeout (slow clients cannot hold the server's sockets), a limit of requests in flight per
//! token (one client cannot take every worker), and the security headers of every answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use tower::Service;

use crate::{Shared, error};

/// Limits of the plain-HTTP server loop.
pub(crate) struct ConnectionLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
}

/// Accept connections until `shutdown`, each served by hyper (HTTP/1.1) with the limits; then
/// `on_stop`, and 30 s for the requests in flight.
pub(crate) async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_stop: impl FnOnce(),
) -> Result<(), String> {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    // HTTP/1.1 only (no protocol sniffing, which has no timeout): hyper times the reading of
    // every request head from the moment it waits for one, so a connection that sends nothing,
    // dribbles its headers or idles between requests is closed after `header_read_timeout`.
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, do not spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        // Over the limit: closed at once (the client may retry).
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| app.clone().call(request),
            );
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    on_stop();
    let _ = stop_tx.send(true);
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// Middleware: at most `[serve] max_in_flight_per_token` requests of one token at once (the
/// bearer token or login cookie, whether valid or not); more answer 429 with `Retry-After`.
pub(crate) async fn per_token_in_flight(
    State(s): State<Shared>,
    req: Request,
    next: Next,
) -> Response {
    let secret =
        crate::auth::bearer(req.headers()).or_else(|| crate::auth::cookie_token(req.headers()));
    let Some(secret) = secret else {
        return next.run(req).await;
    };
    let key = hex::encode(Sha256::digest(secret.as_bytes()));
    {
        let mut map = s.in_flight.lock().expect("in-flight lock");
        let n = map.entry(key.clone()).or_default();
        if *n >= s.config.max_in_flight_per_token {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this token already has {} requests in flight ([serve] max_in_flight_per_token): wait for their answers",
                    s.config.max_in_flight_per_token
                ),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        *n += 1;
    }
    let done = Release(&s, key);
    let response = next.run(req).await;
    drop(done);
    response
}

/// Counts a request out of [`per_token_in_flight`] when it ends (also when it is dropped).
struct Release<'a>(&'a Shared, String);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut map = self.0.in_flight.lock().expect("in-flight lock");
        if let Some(n) = map.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// The security headers of every answer: no script but the server's own, no framing, no
/// sniffing, the referrer kept on this site; HSTS when served over TLS.
pub(crate) async fn security_headers(
    State(tls): State<bool>,
    req: Request,
    next: Next,
) -> Response {
    let docs = req.uri().path().starts_with("/docs");
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    // The Swagger UI page (/docs) runs its own bundled script and styles from this server.
    let csp = if docs {
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    } else {
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    };
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
