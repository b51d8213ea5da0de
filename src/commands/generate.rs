//! `mxpipe generate`: deterministic synthetic sites for benchmarks and demos, with a progress bar
//! and an interrupt that says what it leaves behind.

use std::path::Path;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_app::generate::GenerateProgress;
use mxpipe_app::{AppError, Context};
use mxpipe_generate::Spec;

use crate::cli::fail;

/// Write a deterministic synthetic store per site, at scale, for benchmarks and demos.
///
/// One store per site under --store DIR (DIR/DLS, DIR/ESRF, …) and DIR/mxpipe.toml listing
/// them. Sessions, multi-sweep and interleaved MAD experiments, processing with statistics,
/// reused barcodes and SSX runs with per-frame rows; distributions in docs/queries.md. The same
/// seed gives the same store; a re-run adds nothing.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe generate --sweeps 20000 --ssx-frames 1000000 --sites 3 --seed 7 --store /tmp/gen
  mxpipe --config /tmp/gen/mxpipe.toml query \"SELECT site, count(*) FROM sweeps GROUP BY site\"")]
pub struct GenerateArgs {
    /// Rotation sweeps in total (split evenly over the sites).
    #[arg(long, default_value_t = 10_000)]
    sweeps: u64,
    /// SSX frames in total (runs of 10 000–100 000 frames dealt to the sites in turn).
    #[arg(long, default_value_t = 0)]
    ssx_frames: u64,
    /// Number of sites (named DLS, ESRF, MAXIV, SOLEIL, PETRAIII, SLS, then SITE7…).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    sites: u16,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

struct Bar(ProgressBar);

impl GenerateProgress for Bar {
    fn done(&self, site: &str, sweeps: u64, frames: u64) {
        self.0.set_position(sweeps + frames / 100);
        self.0.set_message(format!(
            "{site}: {sweeps} sweeps, {frames} SSX frames so far"
        ));
    }
}

/// Run `mxpipe generate` (`--store DIR` is the folder the sites are written under).
pub async fn run(args: GenerateArgs, ctx: &Context) -> u8 {
    let Some(dir) = ctx.store_flag() else {
        return fail(AppError::usage(
            "mxpipe generate needs --store DIR (one store per site is written under it)",
        ));
    };
    let spec = Spec {
        sweeps: args.sweeps,
        ssx_frames: args.ssx_frames,
        sites: args.sites as usize,
        seed: args.seed,
    };
    // Generating keeps a worker busy between commits: Ctrl-C is watched on its own task, says
    // what the interrupted run leaves behind, then ends the process.
    let shown = dir.to_owned();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ninterrupted: the store run in progress was not committed and is invisible to queries; \
                 its written rows stay on disk until `mxpipe --store {shown}/SITE store repair` removes them \
                 (a re-run of the same generate completes the sites and adds nothing twice)"
            );
            std::process::exit(130);
        }
    });
    let started = Instant::now();
    let bar = ProgressBar::new(spec.sweeps + spec.ssx_frames / 100);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} generating [{bar:30}] {percent}%  {elapsed}  {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let result = mxpipe_app::generate::sites(spec, Path::new(dir), &Bar(bar.clone())).await;
    bar.finish_and_clear();
    let done = match result {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    eprintln!(
        "generated {} sites, {} rotation sweeps, {} SSX frames in {:.1} s ({} new objects; a re-run adds nothing)",
        done.sites.len(),
        done.sweeps,
        done.ssx_frames,
        started.elapsed().as_secs_f64(),
        done.new_objects
    );
    eprintln!(
        "query them together: mxpipe --config {} query \"SELECT site, count(*) FROM sweeps GROUP BY site\"",
        done.config.display()
    );
    0
}
