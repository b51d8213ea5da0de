//! Load for `mxpipe serve` (by hand, not in CI; `scripts/bench-serve` runs it): CLIENTS concurrent
//! clients post N distinct copies of an MXLIMS message; with `--reads F`, a fraction F of the
//! requests are reads instead (an experiment's web page and a `/v1/query`, alternately, of
//! messages already posted). Prints one JSON object (messages/s, p50/p90/p99 per kind, statuses,
//! the first failures) and, with `--svg FILE`, draws every request's latency over time.
//!
//! ```text
//! cargo run --release -p mxpipe-serve --example serve_load -- \
//!     http://127.0.0.1:8080 "$INGEST_TOKEN" samples/ssx-chip.json 5000 16 \
//!     [--offset K] [--reads 0.2 --read-token "$READ_TOKEN"] [--svg latency.svg] [--timeout 30]
//! ```
//!
//! Each copy has every uuid's last 12 hex digits replaced by its number (`--offset K` numbers them
//! from K + 1), so every copy is new to the store; a second run with the same arguments re-posts
//! the same copies. A Rust client on one thread: the Python client it replaces spent a core of the
//! two on the machine measured at a few hundred requests per second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plotters::prelude::*;
use serde_json::json;

/// One request: when it started (seconds since the load started), how long it took, what it was.
struct Sample {
    at_s: f64,
    latency_s: f64,
    read: bool,
    status: u16,
}

struct Args {
    base: String,
    token: String,
    message: String,
    n: usize,
    clients: usize,
    offset: usize,
    reads: f64,
    read_token: Option<String>,
    svg: Option<String>,
    timeout_s: u64,
}

fn args() -> Result<Args, String> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        all.iter()
            .position(|a| a == name)
            .and_then(|i| all.get(i + 1).cloned())
    };
    let positional: Vec<&String> = {
        let mut out = Vec::new();
        let mut skip = false;
        for a in &all {
            if skip {
                skip = false;
            } else if a.starts_with("--") {
                skip = true;
            } else {
                out.push(a);
            }
        }
        out
    };
    let [base, token, message, n, clients] = positional.as_slice() else {
        return Err("usage: serve_load BASE_URL TOKEN MESSAGE.json N CLIENTS [--offset K] [--reads F --read-token T] [--svg FILE] [--timeout S]".into());
    };
    let number = |text: &str, what: &str| {
        text.parse::<usize>()
            .map_err(|_| format!("{what} must be a whole number, not {text:?}"))
    };
    Ok(Args {
        base: base.trim_end_matches('/').to_owned(),
        token: (*token).clone(),
        message: std::fs::read_to_string(message).map_err(|e| format!("{message}: {e}"))?,
        n: number(n, "N")?,
        clients: number(clients, "CLIENTS")?.max(1),
        offset: flag("--offset").map_or(Ok(0), |v| number(&v, "--offset"))?,
        reads: flag("--reads")
            .map(|v| v.parse::<f64>().map_err(|_| format!("--reads {v:?}")))
            .transpose()?
            .unwrap_or(0.0),
        read_token: flag("--read-token"),
        svg: flag("--svg"),
        timeout_s: flag("--timeout").map_or(Ok(600), |v| number(&v, "--timeout"))? as u64,
    })
}

/// Copy `i` of the message: every uuid's last 12 hex digits replaced by `i + 1 + offset`.
fn copy(text: &str, uuids: &[String], i: usize, offset: usize) -> (String, String) {
    let mut t = text.to_owned();
    for u in uuids {
        t = t.replace(u.as_str(), &format!("{}{:012x}", &u[..24], i + 1 + offset));
    }
    let first = format!("{}{:012x}", &uuids[0][..24], i + 1 + offset);
    (t, first)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k]
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run(a));
}

async fn run(a: Args) {
    let uuid_re = regex::Regex::new(r#""uuid"\s*:\s*"([0-9a-f-]{36})""#).expect("regex");
    let mut uuids: Vec<String> = uuid_re
        .captures_iter(&a.message)
        .map(|c| c[1].to_owned())
        .collect();
    // The experiment first (the message's first uuid), the rest in order of first appearance.
    let mut seen = std::collections::HashSet::new();
    uuids.retain(|u| seen.insert(u.clone()));
    if uuids.is_empty() {
        eprintln!("the message has no uuid to vary");
        std::process::exit(2);
    }
    let bodies: Vec<(String, String)> = (0..a.n)
        .map(|i| copy(&a.message, &uuids, i, a.offset))
        .collect();
    let bodies = Arc::new(bodies);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(a.timeout_s))
        .pool_max_idle_per_host(a.clients)
        .build()
        .expect("an HTTP client");
    let next = Arc::new(Mutex::new((0usize, 0usize))); // (next post, operations so far)
    // Posts answered so far: reads look at these only (an unanswered one may not be visible).
    let answered = Arc::new(Mutex::new(Vec::<usize>::with_capacity(a.n)));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::with_capacity(a.n * 2)));
    let failures = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let started = Instant::now();
    let reads = a.reads.clamp(0.0, 0.95);
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        let (client, bodies, next, samples, failures, answered) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            samples.clone(),
            failures.clone(),
            answered.clone(),
        );
        let (base, token, read_token) = (a.base.clone(), a.token.clone(), a.read_token.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                // Every operation k is a read when ⌊(k+1)·F⌋ > ⌊k·F⌋: exactly the fraction F,
                // spread evenly; a read needs something posted before.
                let (op, post) = {
                    let mut g = next.lock().expect("lock");
                    let k = g.1;
                    g.1 += 1;
                    let is_read = read_token.is_some()
                        && !answered.lock().expect("lock").is_empty()
                        && ((k + 1) as f64 * reads).floor() > (k as f64 * reads).floor();
                    if is_read {
                        (k, None)
                    } else if g.0 < bodies.len() {
                        g.0 += 1;
                        (k, Some(g.0 - 1))
                    } else {
                        return;
                    }
                };
                let at = started.elapsed();
                let request = match post {
                    Some(i) => client
                        .post(format!("{base}/v1/messages"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(bodies[i].0.clone()),
                    None => {
                        let done = answered.lock().expect("lock");
                        let target = &bodies[done[(op * 7919) % done.len()]].1;
                        let rt = read_token.as_deref().unwrap_or(&token);
                        if op % 2 == 0 {
                            client
                                .get(format!("{base}/experiments/{target}"))
                                .bearer_auth(rt)
                        } else {
                            client
                                .post(format!("{base}/v1/query"))
                                .bearer_auth(rt)
                                .json(&json!({"sql": format!("SELECT count(*) AS n FROM sweeps WHERE experiment_uuid = '{target}'")}))
                        }
                    }
                };
                let (status, text) = match request.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        (s, r.text().await.unwrap_or_default())
                    }
                    Err(e) => (0, e.to_string()),
                };
                let latency = started.elapsed() - at;
                samples.lock().expect("lock").push(Sample {
                    at_s: at.as_secs_f64(),
                    latency_s: latency.as_secs_f64(),
                    read: post.is_none(),
                    status,
                });
                // A read of a page or a query answers 200; a post 200 or 201.
                if let Some(i) = post
                    && (status == 200 || status == 201)
                {
                    answered.lock().expect("lock").push(i);
                }
                if !(status == 200 || (post.is_some() && status == 201)) {
                    let mut f = failures.lock().expect("lock");
                    if f.len() < 5 {
                        f.push(json!({"post": post, "status": status, "body": text.chars().take(500).collect::<String>()}));
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let samples = samples.lock().expect("lock");
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for s in samples.iter() {
        *statuses
            .entry(format!(
                "{} {}",
                if s.read { "read" } else { "post" },
                s.status
            ))
            .or_default() += 1;
    }
    let summary = |read: bool| {
        let mut l: Vec<f64> = samples
            .iter()
            .filter(|s| s.read == read)
            .map(|s| s.latency_s)
            .collect();
        l.sort_by(f64::total_cmp);
        json!({"count": l.len(), "per_s": (l.len() as f64 / seconds * 10.0).round() / 10.0,
            "p50_s": percentile(&l, 0.5), "p90_s": percentile(&l, 0.9), "p99_s": percentile(&l, 0.99),
            "max_s": l.last().copied().unwrap_or(f64::NAN)})
    };
    let out = json!({
        "messages": a.n, "clients": a.clients, "seconds": (seconds * 100.0).round() / 100.0,
        "messages_per_s": (a.n as f64 / seconds * 10.0).round() / 10.0,
        "posts": summary(false), "reads": summary(true),
        "statuses": statuses, "failures": *failures.lock().expect("lock"),
    });
    println!("{out}");
    if let Some(path) = &a.svg
        && let Err(e) = std::fs::write(path, plot(&samples, &a, seconds))
    {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
}

/// Every request's latency (ms, log scale) against when it started (s): posts blue, reads orange.
fn plot(samples: &[Sample], a: &Args, seconds: f64) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 360)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let max_ms = samples
            .iter()
            .map(|s| s.latency_s * 1e3)
            .fold(1.0, f64::max);
        let caption = format!(
            "{} clients, {} messages{}: latency of every request",
            a.clients,
            a.n,
            if a.read_token.is_some() && a.reads > 0.0 {
                format!(", {:.0} % reads", a.reads * 100.0)
            } else {
                String::new()
            }
        );
        let chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..seconds.max(0.1), (0.5f64..max_ms * 1.2).log_scale());
        if let Ok(mut chart) = chart {
            let _ = chart
                .configure_mesh()
                .x_desc("time since the load started (s)")
                .y_desc("latency (ms)")
                .light_line_style(WHITE)
                .draw();
            let post = RGBColor(0x1f, 0x5f, 0xa8);
            let read = RGBColor(0xb5, 0x40, 0x0a);
            for (is_read, colour, label) in [(false, post, "post"), (true, read, "read")] {
                let points: Vec<(f64, f64)> = samples
                    .iter()
                    .filter(|s| s.read == is_read)
                    .map(|s| (s.at_s, (s.latency_s * 1e3).max(0.5)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                if let Ok(series) = chart.draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new(*p, 1, colour.mix(0.5).filled())),
                ) {
                    series
                        .label(label)
                        .legend(move |(x, y)| Circle::new((x, y), 3, colour.filled()));
                }
            }
            // The 200 ms target.
            let _ = chart.draw_series(LineSeries::new(
                [(0.0, 200.0), (seconds.max(0.1), 200.0)],
                RGBColor(0x44, 0x44, 0x44).stroke_width(1),
            ));
            let _ = chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw();
        }
        let _ = root.present();
    }
    svg
}
