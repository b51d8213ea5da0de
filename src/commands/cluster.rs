//! `mxpipe cluster scheduler|executor`: the stock Apache Ballista 55 processes, linked into
//! mxpipe (see `docs/cluster.md`).

use std::ffi::OsString;

use clap::Subcommand;

/// The processes of an Apache Ballista cluster that runs `mxpipe query --cluster`.
///
/// They are Ballista's own scheduler and executor, with Ballista's flags: everything after the
/// subcommand goes to them (`mxpipe cluster executor -- --help` lists the executor's). Object
/// stores: local files, and s3:// with the AWS_* environment (AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, AWS_REGION) — never flags.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  mxpipe cluster scheduler --bind-host 127.0.0.1 --bind-port 50050
  mxpipe cluster executor --scheduler-host 127.0.0.1 --scheduler-port 50050 \\
      --bind-host 127.0.0.1 --bind-port 50051 --bind-grpc-port 50052 --bind-health-port 50053
  mxpipe query --cluster df://127.0.0.1:50050 \"SELECT count(*) FROM sweeps\"
  scripts/cluster start --executors 2      # all of it on loopback, by PID")]
pub enum ClusterCommand {
    /// Run a Ballista scheduler (Ballista's flags; `-- --help` lists them).
    Scheduler {
        /// Ballista scheduler flags.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "FLAGS"
        )]
        flags: Vec<OsString>,
    },
    /// Run a Ballista executor (Ballista's flags; `-- --help` lists them).
    Executor {
        /// Ballista executor flags.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "FLAGS"
        )]
        flags: Vec<OsString>,
    },
}

/// A process's `main`: its command line (program name first) to its end.
type ProcessMain = fn(Vec<OsString>) -> Result<(), String>;

/// Run the process until it stops; exit status 0, or 1 with the reason.
pub fn run(command: ClusterCommand) -> u8 {
    let (name, flags, run): (&str, _, ProcessMain) = match command {
        ClusterCommand::Scheduler { flags } => (
            "mxpipe cluster scheduler",
            flags,
            mxpipe_cluster::run_scheduler,
        ),
        ClusterCommand::Executor { flags } => (
            "mxpipe cluster executor",
            flags,
            mxpipe_cluster::run_executor,
        ),
    };
    let args = std::iter::once(OsString::from(name)).chain(flags).collect();
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            1
        }
    }
}
