//! # mxpipe-cluster
//!
//! The Apache Ballista processes of a cluster that runs mxpipe's SQL (`mxpipe cluster scheduler`,
//! `mxpipe cluster executor`). They are Ballista 55's own scheduler and executor — the `main` of
//! the `ballista-scheduler` and `ballista-executor` binaries, with the same flags and the same
//! object-store set-up (S3 from the `AWS_*` environment) — linked into mxpipe so that a cluster
//! runs exactly the DataFusion its clients plan with, and a site needs one binary. They hold no
//! mxpipe table code: clients hand them Parquet listing tables (see `docs/cluster.md`).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::object_store::{
    runtime_env_with_s3_support, session_config_with_s3_support, session_state_with_s3_support,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

/// Stack of the scheduler's threads (as the stock binary: deep plans are planned there).
const SCHEDULER_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Run a Ballista scheduler with the stock binary's flags (`args`: the program name first), until
/// it stops. Object stores: S3 from the `AWS_*` environment, local files, HTTP.
pub fn run_scheduler(args: Vec<OsString>) -> Result<(), String> {
    let opt: ballista_scheduler::config::Config = parse(args)?;
    logging(&opt.log_level_setting);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .thread_stack_size(SCHEDULER_STACK_BYTES)
        .build()
        .map_err(|e| format!("cannot start the scheduler's threads: {e}"))?;
    runtime.block_on(async move {
        let addr: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_port)
            .parse()
            .map_err(|e| format!("--bind-host/--bind-port: {e}"))?;
        let config: SchedulerConfig = opt.try_into().map_err(|e| format!("{e}"))?;
        let config = config
            .with_override_config_producer(Arc::new(session_config_with_s3_support))
            .with_override_session_builder(Arc::new(session_state_with_s3_support));
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| format!("{e}"))?;
        start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(|e| format!("{e}"))
    })
}

/// Run a Ballista executor with the stock binary's flags (`args`: the program name first), with
/// its health server (`/healthz`, `/readyz`), until it stops.
pub fn run_executor(args: Vec<OsString>) -> Result<(), String> {
    let opt: ballista_executor::config::Config = parse(args)?;
    logging(&opt.log_level_setting);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the executor's threads: {e}"))?;
    runtime.block_on(async move {
        let health_addr: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_health_port)
            .parse()
            .map_err(|e| format!("--bind-host/--bind-health-port: {e}"))?;
        let mut config: ExecutorProcessConfig = opt.try_into().map_err(|e| format!("{e}"))?;
        config.override_config_producer = Some(Arc::new(session_config_with_s3_support));
        config.override_runtime_producer = Some(Arc::new(runtime_env_with_s3_support));
        config.override_function_registry = Some(Arc::new(functions()));
        let health = config.health.clone();
        let (stop_health, health_stopped) = tokio::sync::oneshot::channel();
        let health_server =
            ballista_executor::health::spawn_health_server(health_addr, health, health_stopped);
        let result = start_executor_process(Arc::new(config)).await;
        let _ = stop_health.send(());
        let _ = health_server.await;
        result.map_err(|e| format!("{e}"))
    })
}

/// The functions an executor knows: Ballista's (DataFusion's scalar, aggregate, window and
/// higher-order defaults) and DataFusion's array functions, which Ballista 55's executor registry
/// leaves out although its scheduler and clients have them — a plan calling `range` (the
/// `image_index` view) was refused by every stock executor.
fn functions() -> ballista_core::registry::BallistaFunctionRegistry {
    let mut registry = ballista_core::registry::BallistaFunctionRegistry::default();
    for f in datafusion::functions_nested::all_default_nested_functions() {
        registry
            .scalar_functions
            .entry(f.name().to_owned())
            .or_insert(f);
    }
    registry
}

/// Logs on standard output at the stock binaries' levels (`RUST_LOG` first).
fn logging(default: &str) {
    let filter = std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV)
        .unwrap_or_else(|_| default.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .try_init();
}

/// Parse `args` as `T`'s flags; `--help` and `--version` print and exit, as the stock ones do.
fn parse<T: clap::Parser>(args: Vec<OsString>) -> Result<T, String> {
    T::try_parse_from(args).map_err(|e| {
        if !e.use_stderr() {
            e.exit()
        }
        let text = e.to_string();
        text.strip_prefix("error: ")
            .unwrap_or(&text)
            .trim_end()
            .to_owned()
    })
}
