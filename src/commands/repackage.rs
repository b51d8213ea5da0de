//! `mxpipe repackage`: one NXmx master per sweep of an interleaved experiment.

use std::path::PathBuf;

use clap::Args;
use mxpipe_app::{AppError, Context, StoreUse};

use crate::cli::fail;

/// Repackage an interleaved HDF5 experiment into one NXmx master per sweep.
///
/// Each master's /entry/data/data is an HDF5 virtual dataset over the existing data files
/// (nothing is copied; relative paths), images in rotation order with a monotonic omega and
/// the sweep's wavelength; instrument and sample fields come from the sweep's first master.
/// The acquisition order (overall index, wedge, source file and frame of every image) and the
/// experiment's MXLIMS JSON are kept in /entry/mxpipe:acquisition. Beside each master: an
/// XDS.INP fragment and the DIALS import line. Refuses (exit 1, nothing written) when a data
/// file is missing or short, when a sweep's wedges disagree in detector geometry or pixel
/// mask, when wedges overlap in angle (--allow-overlap keeps the later one), or when --out is
/// inside the raw data folder.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mxpipe repackage --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --out /data/processing/mad --dry-run
  mxpipe repackage --experiment 6513270e-269e-4d37-b2a7-4de452e6b438 --out /data/processing/mad
  dials.import /data/processing/mad/6513270e-269e-4d37-b2a7-4de452e6b438_sweep1_master.h5")]
pub struct RepackageArgs {
    /// The experiment: its uuid, as `mxpipe query "SELECT experiment_uuid FROM experiments"` lists.
    #[arg(long, value_name = "UUID")]
    experiment: String,
    /// Folder for the sweep masters (outside the raw data folder).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print the plan (per output file the image ranges taken from each source file), write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where wedges overlap in angle, keep the later-acquired one instead of refusing.
    #[arg(long)]
    allow_overlap: bool,
}

/// Run `mxpipe repackage`.
pub async fn run(args: RepackageArgs, ctx: &Context) -> u8 {
    let store = match ctx.open_store(StoreUse::Read) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let result = mxpipe_repackage::repackage(
        &store,
        &args.experiment,
        &args.out,
        args.dry_run,
        args.allow_overlap,
    )
    .await;
    let (plan, written) = match result {
        Ok(r) => r,
        Err(e) => return fail(AppError::failed(e)),
    };
    print!("{}", plan.describe());
    for f in &written {
        eprintln!("wrote {}", f.display());
    }
    if args.dry_run {
        eprintln!("dry run: nothing written");
    }
    0
}
