//! `mxpipe generate`: a deterministic synthetic store per site (for benchmarks and demos), written
//! through the normal ingest path (validation, content hashes, atomic runs), so a re-run adds nothing.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mxpipe_ingest::Fragment;
use mxpipe_ingest::generate::{Spec, site_names, site_runs};
use mxpipe_store::{PreparedMessage, Store, prepare_message};

use mxpipe_ingest::pipeline::to_store_bulk;

/// Generate `spec` into one store per site under `dir` (`dir/<SITE>`), and `dir/mxpipe.toml`
/// listing the sites for `mxpipe --config dir/mxpipe.toml query …`.
pub async fn run(spec: Spec, dir: &Path) -> u8 {
    // On its own task (generating keeps a worker busy between commits): Ctrl-C says what the
    // interrupted run leaves behind, then ends the process.
    let shown = dir.display().to_string();
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
    generate(spec, dir).await
}

/// [`run`] without the interrupt handling.
async fn generate(spec: Spec, dir: &Path) -> u8 {
    let started = Instant::now();
    let command = format!(
        "mxpipe generate --sweeps {} --ssx-frames {} --sites {} --seed {}",
        spec.sweeps, spec.ssx_frames, spec.sites, spec.seed
    );
    let names = site_names(spec.sites);
    let bar = ProgressBar::new(spec.sweeps + spec.ssx_frames / 100);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} generating [{bar:30}] {percent}%  {elapsed}  {msg}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let mut config = String::from("# written by mxpipe generate\n[sites]\n");
    let mut total = (0u64, 0u64, 0u64);
    for (i, name) in names.iter().enumerate() {
        let location = dir.join(name);
        let store = match Store::open(&location.to_string_lossy(), name, HashMap::new()) {
            Ok(s) => s,
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("error: {e}");
                return 2;
            }
        };
        // Relative to the file (`Config::load` resolves `[sites]` from the file's folder).
        config.push_str(&format!("{name} = {:?}\n", format!("./{name}")));
        for run in site_runs(spec, i) {
            let fragments = match run {
                Ok(f) => f,
                Err(e) => {
                    bar.finish_and_clear();
                    eprintln!("error: generated data failed validation (a bug in mxpipe): {e}");
                    return 1;
                }
            };
            let mut prepared: Vec<PreparedMessage> = Vec::new();
            for f in fragments {
                if let Fragment::Message {
                    value,
                    message,
                    bulk,
                } = f
                {
                    let sweeps = value["CollectionSweep"].as_object().map_or(0, |m| m.len()) as u64;
                    let frames = value["MxProcessing"]["MxProcessing1"]["extensions"]["mxpipe.org"]
                        ["ssxDataReduction"]["framesTotal"]
                        .as_u64();
                    match frames {
                        Some(n) => {
                            total.1 += n;
                            bar.inc(n / 100);
                        }
                        None => {
                            total.0 += sweeps;
                            bar.inc(sweeps);
                        }
                    }
                    let mut p = prepare_message(&value, *message, Vec::new());
                    p.bulk = bulk.into_iter().map(to_store_bulk).collect();
                    prepared.push(p);
                }
            }
            bar.set_message(format!(
                "{name}: {} sweeps, {} SSX frames so far",
                total.0, total.1
            ));
            match store.ingest(&prepared, Some(&command)).await {
                Ok(o) => total.2 += o.totals().0 as u64,
                Err(e) => {
                    bar.finish_and_clear();
                    eprintln!("error: site {name}: {e}");
                    return 1;
                }
            }
        }
    }
    bar.finish_and_clear();
    let config_path = dir.join("mxpipe.toml");
    if let Err(e) = std::fs::write(&config_path, config) {
        eprintln!("error: cannot write {}: {e}", config_path.display());
        return 1;
    }
    eprintln!(
        "generated {} sites, {} rotation sweeps, {} SSX frames in {:.1} s ({} new objects; a re-run adds nothing)",
        names.len(),
        total.0,
        total.1,
        started.elapsed().as_secs_f64(),
        total.2
    );
    eprintln!(
        "query them together: mxpipe --config {} query \"SELECT site, count(*) FROM sweeps GROUP BY site\"",
        config_path.display()
    );
    0
}
