//! Generate synthetic sites (`mxpipe generate`): one store per site under a folder, written
//! through the pipeline's commit (validation, content hashes, atomic runs), so a re-run adds
//! nothing; and `mxpipe.toml` beside them listing the sites.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mxpipe_generate::{Spec, site_names, site_runs};
use mxpipe_ingest::Fragment;
use mxpipe_pipeline::{Commit, prepare_fragments};
use mxpipe_store::Store;

use crate::error::{AppError, AppResult};

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Site names, in order.
    pub sites: Vec<String>,
    /// Rotation sweeps.
    pub sweeps: u64,
    /// SSX frames.
    pub ssx_frames: u64,
    /// Objects new to the stores (0 on a re-run).
    pub new_objects: u64,
    /// The configuration file listing the sites.
    pub config: PathBuf,
}

/// Progress of a generation: called with the totals so far after each run.
pub trait GenerateProgress {
    /// `sweeps` rotation sweeps and `frames` SSX frames done so far, `site` now.
    fn done(&self, site: &str, sweeps: u64, frames: u64);
}

/// Generate `spec` into one store per site under `dir` (`dir/<SITE>`), and `dir/mxpipe.toml`
/// listing them relative to itself (for `mxpipe --config dir/mxpipe.toml query …`).
pub async fn sites(
    spec: Spec,
    dir: &Path,
    progress: &dyn GenerateProgress,
) -> AppResult<Generated> {
    let command = format!(
        "mxpipe generate --sweeps {} --ssx-frames {} --sites {} --seed {}",
        spec.sweeps, spec.ssx_frames, spec.sites, spec.seed
    );
    let mut done = Generated {
        sites: site_names(spec.sites),
        config: dir.join("mxpipe.toml"),
        ..Default::default()
    };
    let mut config = String::from("# written by mxpipe generate\n[sites]\n");
    for (i, name) in done.sites.clone().iter().enumerate() {
        let store = Store::open(&dir.join(name).to_string_lossy(), name, HashMap::new())
            .map_err(AppError::usage)?;
        config.push_str(&format!("{name} = {:?}\n", format!("./{name}")));
        for run in site_runs(spec, i) {
            let fragments = run.map_err(|e| {
                AppError::Failed(format!(
                    "generated data failed validation (a bug in mxpipe): {e}"
                ))
            })?;
            count(&fragments, &mut done);
            progress.done(name, done.sweeps, done.ssx_frames);
            let (_, outcome) = store
                .commit(prepare_fragments(fragments), Some(command.clone()))
                .await;
            let outcome = outcome.map_err(|e| AppError::Failed(format!("site {name}: {e}")))?;
            done.new_objects += outcome.totals().0 as u64;
        }
    }
    std::fs::write(&done.config, config)
        .map_err(|e| AppError::Failed(format!("cannot write {}: {e}", done.config.display())))?;
    Ok(done)
}

/// Count the rotation sweeps and SSX frames of a run's messages.
fn count(fragments: &[Fragment], done: &mut Generated) {
    for f in fragments {
        let Fragment::Message { value, .. } = f else {
            continue;
        };
        let frames =
            value["MxProcessing"]["MxProcessing1"]["extensions"]["mxpipe.org"]["ssxDataReduction"]
                ["framesTotal"]
                .as_u64();
        match frames {
            Some(n) => done.ssx_frames += n,
            None => {
                done.sweeps += value["CollectionSweep"].as_object().map_or(0, |m| m.len()) as u64
            }
        }
    }
}
