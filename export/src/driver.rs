//! The catalogue seam: one driver for every export target. The driver owns what is the same for
//! ISPyB, ICAT and SciCat — selecting experiments (`--experiment|--sample|--session|--since`),
//! choosing each unit of work (an experiment with the processing jobs it completes: those whose
//! every input sweep is then exported), the id map kept in the store (loaded once, flushed in
//! batches, only after the catalogue committed), dry runs, progress, the per-kind summary and the
//! failures. A target implements [`Catalogue`]: it writes one [`Unit`] and reports what it wrote.
//!
//! Adding a catalogue: one module implementing [`Catalogue`] with its field map as data, and one
//! subcommand calling [`export`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use mxpipe_store::{CatalogueId, Store};

use crate::ExportError;
use crate::records::{Filter, Records};

/// Experiments per store commit of the id map.
pub const MAP_FLUSH_UNITS: usize = 500;

/// Per kind (table or entity): rows inserted, updated, unchanged.
pub type Summary = BTreeMap<&'static str, [usize; 3]>;

/// Id map of one catalogue instance: mxpipe key → catalogue id.
pub type IdMap = HashMap<String, CatalogueId>;

/// One unit of work: an experiment, its sweeps and the processing jobs it completes.
#[derive(Debug, Clone)]
pub struct Unit<'r> {
    /// Experiment uuid.
    pub experiment: &'r str,
    /// Its sweeps (sorted by uuid).
    pub sweeps: Vec<&'r str>,
    /// Processing jobs written with it (every input sweep exported once this unit is).
    pub processing: Vec<String>,
}

/// What a target wrote for one unit.
#[derive(Debug, Default)]
pub struct Written {
    /// Per kind: inserted, updated, unchanged.
    pub counts: Summary,
    /// Id-map entries to record (new or changed).
    pub ids: Vec<(String, CatalogueId)>,
}

/// An export target.
pub trait Catalogue {
    /// Human name (`ISPyB`, `ICAT`), used in messages.
    fn display_name(&self) -> &'static str;

    /// The id map this target keeps in the store: (catalogue, instance). `None` for file
    /// outputs, which write everything selected and record nothing.
    fn id_map(&self) -> Option<(&'static str, &str)>;

    /// Id-map key prefix whose entries mark an experiment as exported (the experiment uuid
    /// follows it), e.g. `DataCollectionGroup:`.
    fn experiment_marker(&self) -> &'static str;

    /// Write one unit (all of it or nothing, where the catalogue allows). `log` receives what
    /// a dry run shows (SQL, requests). The error is a message; the driver names the experiment.
    /// What a unit becomes before it is written (rows, an entity graph): made by the target
    /// itself, one unit after another in the driver's order (names that must be unique in a
    /// run are given here), then written by the target or one of its forks.
    type Prepared;

    /// Map one unit; an error fails this unit only.
    fn prepare(&mut self, records: &Records, unit: &Unit<'_>) -> Result<Self::Prepared, String>;

    /// Write one prepared unit.
    fn write_unit(
        &mut self,
        records: &Records,
        unit: &Unit<'_>,
        prepared: Self::Prepared,
        map: &IdMap,
        log: &mut Vec<String>,
    ) -> impl Future<Output = Result<Written, String>>;

    /// The configured pixel size and the setting's name (`[icat] pixel_size_mm`) when this
    /// target writes beam centres in mm; the driver warns about sweeps that need it
    /// ([`crate::detector`]).
    fn pixel_size_setting(&self) -> Option<(Option<f64>, &'static str)> {
        None
    }

    /// Called once after the last unit (file targets close their output here).
    fn finish(&mut self) -> impl Future<Output = Result<(), ExportError>> {
        async { Ok(()) }
    }

    /// Another connection to the same catalogue, for writing units beside this one (`None`: this
    /// target writes one unit at a time). Its counters come back through [`Catalogue::absorb`].
    fn fork(&self) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }

    /// Take over what a fork counted (requests, logins, files left out) when the run ends.
    fn absorb(&mut self, _fork: Self)
    where
        Self: Sized,
    {
    }
}

/// Options of one run that every target shares.
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    /// Write nothing (the target rolls back or only logs), record no id.
    pub dry_run: bool,
    /// Command line recorded with the id map.
    pub command: String,
    /// Units written at once, each through its own [`Catalogue::fork`] of the target (0 or 1:
    /// one at a time). See [`export`] for what is never written concurrently.
    pub concurrency: usize,
}

/// The outcome of one export run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Per kind: inserted, updated, unchanged.
    pub summary: Summary,
    /// Experiments exported.
    pub experiments: usize,
    /// One message per experiment that failed.
    pub failures: Vec<String>,
    /// Warnings (e.g. processing not exported because an input is not).
    pub warnings: Vec<String>,
    /// What a dry run shows (SQL statements, requests).
    pub log: Vec<String>,
}

/// Export the experiments `filter` selects to `target`; `progress` is called after each
/// experiment with its number of sweeps.
pub async fn export<C: Catalogue>(
    target: &mut C,
    store: &Store,
    filter: &Filter,
    options: &DriverOptions,
    mut progress: impl FnMut(usize),
) -> Result<Outcome, ExportError> {
    let records = Records::load(store).await?;
    let experiments = records.experiments(filter)?;
    let id_map = target.id_map().map(|(c, i)| (c, i.to_owned()));
    let mut map: IdMap = match &id_map {
        Some((catalogue, instance)) => store.catalogue_ids(catalogue, instance).await?,
        None => IdMap::new(),
    };
    let marker = target.experiment_marker();
    let mut outcome = Outcome::default();
    let mut done: HashSet<String> = map
        .keys()
        .filter_map(|k| k.strip_prefix(marker))
        .map(str::to_owned)
        .collect();
    let mut assigned: HashSet<String> = HashSet::new();
    let mut waiting: BTreeMap<String, String> = BTreeMap::new();
    let mut pending: Vec<(String, CatalogueId)> = Vec::new();
    let mut pending_units = 0;
    let pixel = target.pixel_size_setting();
    let mut no_pixel_size: Vec<&str> = Vec::new();
    // Lanes: `concurrency` forks, each writing one unit at a time (the target prepares); with
    // a concurrency of 1, or a target that cannot fork, the target writes them one by one.
    let lanes_wanted = if options.concurrency > 1 {
        options.concurrency
    } else {
        0
    };
    let mut forks: Vec<C> = (0..lanes_wanted).map_while(|_| target.fork()).collect();
    // Objects some exported unit wrote (samples, crystals, sessions, …): from then on several
    // units may refer to them at once; before, two units creating one would both create it.
    let forks_len = forks.len();
    let mut established: HashSet<String> = HashSet::new();
    let mut next = experiments.into_iter().peekable();
    while next.peek().is_some() {
        // One wave: units written concurrently until one would need what another unit of the
        // wave creates (a shared, not yet established object, or an experiment a processing
        // job also read); the id map takes the wave's ids before the next wave starts.
        let mut claimed: HashSet<String> = HashSet::new();
        let mut in_wave: HashSet<&str> = HashSet::new();
        // Each unit's shared objects, established when it is written.
        let mut keys_of: HashMap<&str, Vec<String>> = HashMap::new();
        // Lanes: the forks when there are any (the target prepares every unit), else the target.
        let mut lanes: Vec<&mut C> = forks.iter_mut().collect();
        let mut running = futures::stream::FuturesUnordered::new();
        let mut finished = Vec::new();
        let map_now = &map;
        while let Some(&exp) = next.peek() {
            let sweeps = records.linking_to("CollectionSweep", "sourceRef", exp);
            let mut processing: Vec<String> = Vec::new();
            let mut later: BTreeMap<String, String> = BTreeMap::new();
            let mut needs_wave = false;
            for p in sweeps
                .iter()
                .flat_map(|s| records.processing_of_sweep.get(*s).into_iter().flatten())
            {
                if assigned.contains(p) || processing.contains(p) {
                    continue;
                }
                let needs = experiments_of_processing(&records, p);
                if needs.iter().any(|e| in_wave.contains(*e)) {
                    needs_wave = true;
                }
                if needs.iter().all(|e| *e == exp || done.contains(*e)) {
                    processing.push(p.clone());
                } else {
                    let missing: Vec<&str> = needs
                        .into_iter()
                        .filter(|e| *e != exp && !done.contains(*e))
                        .collect();
                    later.insert(p.clone(), missing.join(", "));
                }
            }
            let keys = shared_objects(&records, exp);
            let mut shared: Vec<String> = keys
                .iter()
                .filter(|k| !established.contains(*k))
                .cloned()
                .collect();
            // Only a unit whose session may not exist yet may create the sessions' creator.
            if !shared.iter().any(|k| k.starts_with("session ")) {
                shared.retain(|k| k != SESSION_CREATOR);
            }
            let conflict = needs_wave || shared.iter().any(|k| claimed.contains(k));
            if conflict && !in_wave.is_empty() {
                break;
            }
            next.next();
            waiting.extend(later);
            claimed.extend(shared);
            keys_of.insert(exp, keys);
            in_wave.insert(exp);
            let n_sweeps = sweeps.len();
            if pixel.is_some() {
                no_pixel_size.extend(
                    sweeps
                        .iter()
                        .filter(|s| crate::detector::needs_configured(records.json(s))),
                );
            }
            let unit = Unit {
                experiment: exp,
                sweeps,
                processing,
            };
            let prepared = target.prepare(&records, &unit);
            if forks_len == 0 {
                let mut log = Vec::new();
                let result = match prepared {
                    Ok(p) => {
                        target
                            .write_unit(&records, &unit, p, map_now, &mut log)
                            .await
                    }
                    Err(e) => Err(e),
                };
                finished.push((unit, n_sweeps, result, log));
            } else {
                // A free lane, else wait for one.
                let lane = match lanes.pop() {
                    Some(l) => l,
                    None => {
                        let (lane, done_unit) = wait_one(&mut running).await;
                        finished.push(done_unit);
                        lane
                    }
                };
                let records = &records;
                running.push(async move {
                    let mut log = Vec::new();
                    let result = match prepared {
                        Ok(p) => lane.write_unit(records, &unit, p, map_now, &mut log).await,
                        Err(e) => Err(e),
                    };
                    (lane, (unit, n_sweeps, result, log))
                });
            }
            if in_wave.len() >= MAP_FLUSH_UNITS {
                break;
            }
        }
        while !running.is_empty() {
            let (_, done_unit) = wait_one(&mut running).await;
            finished.push(done_unit);
        }
        drop(running);
        drop(lanes);
        for (unit, n_sweeps, result, log) in finished {
            outcome.log.extend(log);
            match result {
                Ok(written) => {
                    if !options.dry_run && id_map.is_some() {
                        map.extend(written.ids.iter().cloned());
                        pending.extend(written.ids);
                        pending_units += 1;
                        if pending_units >= MAP_FLUSH_UNITS {
                            flush(store, &id_map, target, &mut pending, options).await?;
                            pending_units = 0;
                        }
                    }
                    // The creator is never established by a unit that found its session.
                    established.extend(
                        keys_of
                            .remove(unit.experiment)
                            .into_iter()
                            .flatten()
                            .filter(|k| k != SESSION_CREATOR),
                    );
                    done.insert(unit.experiment.to_owned());
                    assigned.extend(unit.processing);
                    for (kind, c) in written.counts {
                        let s = outcome.summary.entry(kind).or_default();
                        for i in 0..3 {
                            s[i] += c[i];
                        }
                    }
                    outcome.experiments += 1;
                }
                Err(e) => outcome
                    .failures
                    .push(format!("experiment {}: {e}", unit.experiment)),
            }
            progress(n_sweeps);
        }
    }
    for fork in forks {
        target.absorb(fork);
    }
    flush(store, &id_map, target, &mut pending, options).await?;
    target.finish().await?;
    let name = target.display_name();
    for (p, missing) in waiting.into_iter().filter(|(p, _)| !assigned.contains(p)) {
        outcome.warnings.push(format!("processing {p} not exported: it also read sweeps of experiment(s) {missing}, not in {name} yet (export them and it follows)"));
    }
    if let Some((configured, setting)) = pixel {
        outcome.warnings.extend(crate::detector::warning(
            setting,
            configured,
            &no_pixel_size,
        ));
    }
    outcome.warnings.sort();
    outcome.warnings.dedup();
    Ok(outcome)
}

/// Record committed id-map entries in the store (one store commit for many experiments).
async fn flush<C: Catalogue>(
    store: &Store,
    id_map: &Option<(&'static str, String)>,
    target: &C,
    pending: &mut Vec<(String, CatalogueId)>,
    options: &DriverOptions,
) -> Result<(), ExportError> {
    let Some((catalogue, instance)) = id_map else {
        return Ok(());
    };
    let entries = std::mem::take(pending);
    store
        .record_catalogue_ids(catalogue, instance, &entries, &options.command)
        .await
        .map_err(|source| ExportError::IdMapNotRecorded {
            source: Box::new(source),
            entries: entries.len(),
            target: target.display_name().to_string(),
        })
}

/// The outcome of one unit: the unit, its sweeps, what was written, what it logged.
type UnitDone<'r> = (Unit<'r>, usize, Result<Written, String>, Vec<String>);

/// Wait for one running unit; its lane is free again.
async fn wait_one<'r, L, F>(running: &mut futures::stream::FuturesUnordered<F>) -> (L, UnitDone<'r>)
where
    F: Future<Output = (L, UnitDone<'r>)>,
{
    use futures::StreamExt;
    running.next().await.expect("a unit is running")
}

/// The account a catalogue records as the creator of the sessions it creates (ISPyB's Person
/// `mxpipe`): claimed by every unit whose session may not exist yet, never established.
const SESSION_CREATOR: &str = "creator of sessions";

/// The objects an experiment's unit may create in a catalogue that other units share: its
/// sample, crystal, pin and macromolecule (by uuid and proposal: a catalogue may keep one row
/// per proposal, as ISPyB's Protein), its session and proposal, and the sessions' creator.
fn shared_objects(r: &Records, exp: &str) -> Vec<String> {
    let sample = r.link(exp, "sampleRef");
    let crystal = r.link(exp, "logisticalSampleRef");
    let json = r.json(exp);
    let proposal = json["extensions"]["mxpipe.org"]["session"]["proposalCode"]
        .as_str()
        .unwrap_or_default();
    let mut out: Vec<String> = [
        sample,
        crystal,
        crystal.and_then(|c| r.link(c, "containerRef")),
        sample.and_then(|s| r.link(s, "parentSampleRef")),
    ]
    .into_iter()
    .flatten()
    .map(|uuid| format!("{uuid}@{proposal}"))
    .collect();
    if let Some(label) = crate::records::session_label(json) {
        out.push(format!("session {label}"));
        out.push(SESSION_CREATOR.to_owned());
    }
    if !proposal.is_empty() {
        out.push(format!("proposal {proposal}"));
    }
    out
}

/// Experiments of the sweeps a processing job read (sorted, each once).
pub fn experiments_of_processing<'a>(r: &'a Records, p: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = r
        .inputs
        .get(p)
        .into_iter()
        .flatten()
        .filter_map(|i| r.link(&i.sweep_uuid, "sourceRef"))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
