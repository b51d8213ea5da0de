//! Deterministic synthetic stores at scale (`mxpipe generate`), for benchmarks and demos; never
//! real data. The same `(spec, seed)` always gives the same messages and rows.
//!
//! What a site gets, with distributions meant to look like a year and a half of a real MX
//! facility:
//! - sessions (visits) on 2–4 beamlines per site, spread over 2025-01 … 2026-10, each one MXLIMS
//!   message with 10–60 sweeps;
//! - experiments: 62 % single-sweep rotation (`OSC`), 10 % SAD, 13 % multi-sweep (2–3 sweeps,
//!   different kappa), 15 % interleaved two-wavelength MAD (2 sweeps × 4 interleaved wedges);
//! - one MacromoleculeSample (50 targets), Crystal (persistent id) and Pin per experiment; 4 % of
//!   pins carry a barcode already used for an earlier sample of the site (reused barcodes);
//! - 85 % of experiments processed (xia2 DIALS, autoPROC, fast_dp, xia2 3dii) into one
//!   ReflectionSet with overall/inner/outer statistics; high-resolution limit 1.0–3.6 Å, half
//!   of them between 1.3 and 2.6 Å;
//! - SSX runs (chip or jet) of 10 000–100 000 frames with a hit rate per run of 5–60 % and an
//!   indexing rate of 40–90 % of hits; per-frame rows go to `ssx_frames` in bulk. SSX sweeps are
//!   extra: `--sweeps` counts rotation sweeps only.

use std::sync::Arc;

use serde_json::{Value, json};

use mxpipe_ingest::{BulkSource, Fragment, ReadError, RowBatch};
use synthetic::Rng;

pub mod synthetic;

/// What to generate, in total over all sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Rotation sweeps (split evenly over sites).
    pub sweeps: u64,
    /// SSX frames (split into runs, runs dealt round-robin to sites).
    pub ssx_frames: u64,
    /// Number of sites.
    pub sites: usize,
    /// Seed.
    pub seed: u64,
}

/// Sweeps per ingest run (one Delta commit per table per run).
const CHUNK_SWEEPS: u64 = 10_000;
/// SSX frames per ingest run.
const CHUNK_FRAMES: u64 = 2_000_000;
/// Rows per bulk batch.
const FRAME_BATCH: u64 = 200_000;

const SITES: &[(&str, &[&str])] = &[
    ("DLS", &["i03", "i04", "i04-1", "i24"]),
    ("ESRF", &["id23-1", "id23-2", "id30a-1", "id30b"]),
    ("MAXIV", &["biomax", "micromax"]),
    ("SOLEIL", &["proxima1", "proxima2a"]),
    ("PETRAIII", &["p11", "p13", "p14"]),
    ("SLS", &["x06sa", "x10sa"]),
];

const TARGETS: &[&str] = &[
    "lysozyme",
    "thaumatin",
    "thermolysin",
    "insulin",
    "proteinaseK",
    "trypsin",
    "glucose-isomerase",
    "ferritin",
    "concanavalinA",
    "myoglobin",
    "CuNiR",
    "PTP1B",
    "HSP90",
    "BRD4",
    "CDK2",
    "thrombin",
    "carbonic-anhydrase",
    "endothiapepsin",
    "galectin3",
    "FKBP12",
    "TEM1",
    "KRAS",
    "MPro",
    "PLpro",
    "nsp3-mac1",
    "DHFR",
    "HIV-PR",
    "PKA",
    "p38a",
    "BACE1",
    "ACHE",
    "CA-II",
    "streptavidin",
    "photoactive-yellow",
    "bacteriorhodopsin",
    "GFP",
    "azurin",
    "cytochrome-c",
    "urease",
    "catalase",
    "xylanase",
    "cutinase",
    "lipaseB",
    "elastase",
    "chymotrypsin",
    "subtilisin",
    "RNaseA",
    "ubiquitin",
    "calmodulin",
    "SOD1",
];

/// The site names of a spec (`DLS`, `ESRF`, … then `SITE7`, `SITE8`, …).
pub fn site_names(sites: usize) -> Vec<String> {
    (0..sites)
        .map(|i| match SITES.get(i) {
            Some((n, _)) => (*n).to_owned(),
            None => format!("SITE{}", i + 1),
        })
        .collect()
}

/// One site's ingest runs, each a list of validated messages (with bulk SSX frames).
pub fn site_runs(
    spec: Spec,
    site: usize,
) -> impl Iterator<Item = Result<Vec<Fragment>, ReadError>> {
    let k = spec.sites.max(1) as u64;
    let my_sweeps = spec.sweeps / k + u64::from((site as u64) < spec.sweeps % k);
    let runs = ssx_runs(spec);
    let my_runs: Vec<(u64, u64)> = runs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 % k == site as u64)
        .map(|(_, r)| r)
        .collect();
    let mut site_gen = SiteGen::new(spec, site);
    let mut sweeps_left = my_sweeps;
    let mut ssx_iter = my_runs.into_iter().peekable();
    std::iter::from_fn(move || {
        if sweeps_left > 0 {
            let mut fragments = Vec::new();
            let mut in_chunk = 0;
            while sweeps_left > 0 && in_chunk < CHUNK_SWEEPS {
                let (value, n) = site_gen.session(sweeps_left);
                sweeps_left -= n;
                in_chunk += n;
                match mxpipe_ingest::validated(&site_gen.origin(), value) {
                    Ok(f) => fragments.extend(f),
                    Err(e) => return Some(Err(e)),
                }
            }
            return Some(Ok(fragments));
        }
        let mut fragments = Vec::new();
        let mut frames = 0;
        while let Some(&(run, n)) = ssx_iter.peek() {
            if frames > 0 && frames + n > CHUNK_FRAMES {
                break;
            }
            ssx_iter.next();
            frames += n;
            match site_gen.ssx_run(run, n) {
                Ok(f) => fragments.push(f),
                Err(e) => return Some(Err(e)),
            }
        }
        (!fragments.is_empty()).then_some(Ok(fragments))
    })
}

/// All SSX runs of a spec: (run number, frames).
fn ssx_runs(spec: Spec) -> Vec<(u64, u64)> {
    let mut rng = Rng::new(spec.seed ^ 0x5353_5852_554e_5300);
    let mut left = spec.ssx_frames;
    let mut runs = Vec::new();
    while left > 0 {
        let n = rng.range(10_000, 100_000).min(left);
        runs.push((runs.len() as u64, n));
        left -= n;
    }
    runs
}

/// A uuid (version 4 layout) from the generator.
fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next_u64(), rng.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Per-site generator state.
struct SiteGen {
    spec: Spec,
    name: String,
    beamlines: Vec<String>,
    rng: Rng,
    session_no: u64,
    pins: u64,
    barcodes: Vec<String>,
}

/// A shell's statistics (MXLIMS ReflectionStatistics).
fn shell(rng: &mut Rng, low: f64, high: f64, kind: &str) -> Value {
    let (r_merge, isig, cc, compl) = match kind {
        "inner" => (
            0.02 + 0.03 * rng.unit(),
            30.0 + 30.0 * rng.unit(),
            0.998,
            99.0 + rng.unit(),
        ),
        "outer" => (
            0.5 + 0.9 * rng.unit(),
            0.8 + 1.5 * rng.unit(),
            0.3 + 0.4 * rng.unit(),
            85.0 + 14.0 * rng.unit(),
        ),
        _ => (
            0.05 + 0.08 * rng.unit(),
            8.0 + 12.0 * rng.unit(),
            0.990 + 0.009 * rng.unit(),
            97.0 + 2.9 * rng.unit(),
        ),
    };
    let mult = 3.0 + 10.0 * rng.unit();
    let unique = rng.range(500, 60_000) as i64;
    json!({"resolutionLimits": [round(low, 2), round(high, 2)], "numberObservations": (unique as f64 * mult) as i64,
        "numberObservationsUnique": unique, "R_merge": round(r_merge, 3), "R_meas": round(r_merge * 1.07, 3),
        "R_pim": round(r_merge * 0.4, 3), "I_over_SigI": round(isig, 1), "CC_one_half": round(cc, 3),
        "Completeness": round(compl, 1), "Redundancy": round(mult, 1)})
}

impl SiteGen {
    fn new(spec: Spec, site: usize) -> SiteGen {
        let name = site_names(site + 1).pop().expect("one name");
        let beamlines = SITES
            .get(site)
            .map(|(_, b)| b.iter().map(|s| (*s).to_owned()).collect())
            .unwrap_or_else(|| vec!["bl1".into(), "bl2".into()]);
        SiteGen {
            spec,
            name,
            beamlines,
            rng: Rng::new(
                spec.seed
                    .wrapping_mul(0x9E37_79B9)
                    .wrapping_add(site as u64 * 7919 + 1),
            ),
            session_no: 0,
            pins: 0,
            barcodes: Vec::new(),
        }
    }

    fn origin(&self) -> std::path::PathBuf {
        format!("generated:{}/seed-{}", self.name, self.spec.seed).into()
    }

    /// A session start (2025-01-01 … 2026-10-31, 08:00 UTC) and its `session` extension.
    fn session_ext(&mut self, beamline: &str) -> (chrono::DateTime<chrono::Utc>, Value) {
        self.session_no += 1;
        let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T08:00:00Z").expect("date");
        let start = base.to_utc() + chrono::Duration::days(self.rng.range(0, 668) as i64);
        let proposal = format!("mx{}", 10_000 + self.rng.range(0, 8999));
        let ext = json!({"proposalCode": proposal, "visitNumber": self.session_no, "facility": self.name,
            "beamline": beamline, "startTime": start.to_rfc3339(), "endTime": (start + chrono::Duration::days(1)).to_rfc3339()});
        (start, ext)
    }

    /// One session message with at most `max_sweeps` sweeps; returns it and its sweep count.
    fn session(&mut self, max_sweeps: u64) -> (Value, u64) {
        let beamline =
            self.beamlines[self.rng.range(0, self.beamlines.len() as u64 - 1) as usize].clone();
        let (start, session) = self.session_ext(&beamline);
        let target = self.rng.range(10, 60).min(max_sweeps);
        let mut msg = json!({"version": mxpipe_model::MXLIMS_VERSION});
        let mut n_sweeps = 0;
        let mut e = 0;
        let mut t = start + chrono::Duration::minutes(30);
        while n_sweeps < target {
            e += 1;
            let kind = self.rng.unit();
            let (strategy, sweeps, wedges) = match kind {
                k if k < 0.62 => ("OSC", 1, 1),
                k if k < 0.72 => ("SAD", 1, 1),
                k if k < 0.85 => ("MultiSweep", self.rng.range(2, 3), 1),
                _ => ("MAD.interleaved", 2, 4),
            };
            let sweeps = sweeps.min(target - n_sweeps);
            let wedges = if sweeps == 2 && wedges == 4 { 4 } else { 1 };
            n_sweeps += sweeps;
            t = self.experiment(
                &mut msg, e, strategy, sweeps, wedges, t, &session, &beamline,
            );
        }
        (msg, n_sweeps)
    }

    /// Add experiment `e` (sample, crystal, pin, sweeps, maybe processing); returns its end time.
    #[allow(clippy::too_many_arguments)]
    fn experiment(
        &mut self,
        msg: &mut Value,
        e: usize,
        strategy: &str,
        sweeps: u64,
        wedges: u64,
        start: chrono::DateTime<chrono::Utc>,
        session: &Value,
        beamline: &str,
    ) -> chrono::DateTime<chrono::Utc> {
        let r = &mut self.rng;
        let target = TARGETS[r.range(0, TARGETS.len() as u64 - 1) as usize];
        let sample_name = format!("{target}-{}", r.range(1, 400));
        let (exp, smp, xtal, pin) = (uuid(r), uuid(r), uuid(r), uuid(r));
        let (ek, sk, xk, pk) = (
            format!("MxExperiment{e}"),
            format!("MacromoleculeSample{e}"),
            format!("Crystal{e}"),
            format!("Pin{e}"),
        );
        let barcode = if !self.barcodes.is_empty() && r.unit() < 0.04 {
            self.barcodes[r.range(0, self.barcodes.len() as u64 - 1) as usize].clone()
        } else {
            self.pins += 1;
            let b = format!("{}-PIN-{:06}", self.name, self.pins);
            self.barcodes.push(b.clone());
            b
        };
        let r = &mut self.rng;
        let image_width = [0.1, 0.1, 0.2, 0.5][r.range(0, 3) as usize];
        let exposure = round(0.002 + 0.05 * r.unit() * r.unit(), 4);
        let wedge_images = (if wedges > 1 {
            45.0
        } else {
            180.0 + 180.0 * r.range(0, 1) as f64
        } / image_width) as u64;
        let duration = (sweeps * wedges * wedge_images) as f64 * exposure + 60.0;
        let end = start + chrono::Duration::milliseconds((duration * 1000.0) as i64);
        let path = format!(
            "/data/{}/{}/{}/{}/{}",
            self.name.to_lowercase(),
            beamline,
            start.format("%Y"),
            session["proposalCode"].as_str().unwrap_or_default(),
            sample_name
        );
        let sref = json!({"$ref": format!("#/MacromoleculeSample/{sk}")});
        let xref = json!({"$ref": format!("#/Crystal/{xk}")});
        msg["MxExperiment"][&ek] = json!({"mxlimsType": "MxExperiment", "uuid": exp, "experimentStrategy": strategy,
            "startTime": start.to_rfc3339(), "endTime": end.to_rfc3339(), "jobStatus": "Completed", "sampleRef": sref,
            "logisticalSampleRef": xref, "extensions": {"mxpipe.org": {"session": session}}});
        msg["MacromoleculeSample"][&sk] = json!({"mxlimsType": "MacromoleculeSample", "uuid": smp, "name": sample_name,
            "components": [{"acronym": target, "role": "target"}],
            "extensions": {"mxpipe.org": {"sampleIdentity": {"pid": format!("urn:uuid:{smp}"), "scheme": "urn"}}}});
        msg["Crystal"][&xk] = json!({"mxlimsType": "Crystal", "uuid": xtal, "name": format!("{sample_name}-x1"),
            "sampleRef": sref, "containerRef": {"$ref": format!("#/Pin/{pk}")},
            "extensions": {"mxpipe.org": {"sampleIdentity": {"pid": format!("urn:uuid:{xtal}"), "scheme": "urn", "barcodeAtAssignment": barcode}}}});
        msg["Pin"][&pk] =
            json!({"mxlimsType": "Pin", "uuid": pin, "barcode": barcode, "sampleRef": sref});
        let base_energy = if strategy == "MAD.interleaved" {
            12_662.0
        } else {
            round(12_400.0 + 1_100.0 * r.unit(), 1)
        };
        let distance = round(150.0 + 250.0 * r.unit(), 1);
        let transmission = round(5.0 + 95.0 * r.unit(), 1);
        let mut refs = Vec::new();
        for s in 0..sweeps {
            let key = format!("CollectionSweep{}", e * 10 + s as usize);
            refs.push(json!({"$ref": format!("#/CollectionSweep/{key}")}));
            let energy = if strategy == "MAD.interleaved" {
                base_energy + 238.0 * s as f64
            } else {
                base_energy
            };
            let scans: Vec<Value> = (0..wedges)
                .map(|w| {
                    json!({"scanPositionStart": w as f64 * wedge_images as f64 * image_width,
                    "firstImageNumber": 1 + w * wedge_images, "numberImages": wedge_images,
                    "ordinal": if wedges > 1 { w * sweeps + s } else { s }})
                })
                .collect();
            let prefix = format!("{sample_name}_{}", s + 1);
            msg["CollectionSweep"][&key] = json!({"mxlimsType": "CollectionSweep", "uuid": uuid(r), "role": "Result",
                "sweepType": "simple", "scanAxis": "omega", "exposureTime": exposure, "imageWidth": image_width,
                "numberImages": wedges * wedge_images, "energy": energy, "transmission": transmission,
                "resolution": round(1.0 + 1.5 * r.unit(), 2), "beamSize": [0.05, 0.02], "detectorType": "PIXEL",
                "axisPositionsStart": {"omega": 0.0, "kappa": 30.0 * s as f64, "phi": 0.0, "detector_distance": distance},
                "scans": scans, "fileType": "HDF5", "prefix": prefix, "filenameTemplate": format!("{prefix}_%06d.h5"),
                "path": path, "logisticalSampleRef": xref, "sourceRef": {"$ref": format!("#/MxExperiment/{ek}")}});
        }
        if r.unit() < 0.85 {
            let program = match r.unit() {
                p if p < 0.35 => "xia2 dials",
                p if p < 0.65 => "autoPROC",
                p if p < 0.9 => "fast_dp",
                _ => "xia2 3dii",
            };
            let high = 1.0 + 2.6 * r.unit().powf(1.6);
            let low = 40.0 + 30.0 * r.unit();
            let cell = 40.0 + 100.0 * r.unit();
            let pk = format!("MxProcessing{e}");
            let pstart = end + chrono::Duration::minutes(2);
            msg["MxProcessing"][&pk] = json!({"mxlimsType": "MxProcessing", "uuid": uuid(r), "programName": program,
                "startTime": pstart.to_rfc3339(), "endTime": (pstart + chrono::Duration::minutes(12)).to_rfc3339(),
                "jobStatus": "Completed", "sampleRef": sref, "logisticalSampleRef": xref, "inputDataRefs": refs,
                "extensions": {"mxpipe.org": {"session": session}}});
            let inner_high = low / 2.5 + high;
            msg["ReflectionSet"][format!("ReflectionSet{e}")] = json!({"mxlimsType": "ReflectionSet", "uuid": uuid(r),
                "role": "Result", "sourceRef": {"$ref": format!("#/MxProcessing/{pk}")}, "spaceGroupName": "P 21 21 21",
                "refinedUnitCell": {"a": round(cell, 2), "b": round(cell * 1.3, 2), "c": round(cell * 1.7, 2), "alpha": 90.0, "beta": 90.0, "gamma": 90.0},
                "reflectionStatisticsOverall": shell(r, low, high, "overall"),
                "reflectionStatisticsShells": [shell(r, low, inner_high, "inner"), shell(r, high * 1.03, high, "outer")]});
        }
        end + chrono::Duration::minutes(5)
    }

    /// One SSX run of `frames` frames: experiment, sweep, sample, processing with bulk frames.
    fn ssx_run(&mut self, run: u64, frames: u64) -> Result<Fragment, ReadError> {
        let beamline =
            self.beamlines[self.rng.range(0, self.beamlines.len() as u64 - 1) as usize].clone();
        let (start, session) = self.session_ext(&beamline);
        let r = &mut self.rng;
        let chip = r.unit() < 0.6;
        let (hit_p, idx_p) = (0.05 + 0.55 * r.unit(), 0.4 + 0.5 * r.unit());
        let frame_seed = r.next_u64();
        let counts = FrameGen::new(frame_seed, frames, hit_p, idx_p, run).count();
        let target = TARGETS[r.range(0, TARGETS.len() as u64 - 1) as usize];
        let rate = if chip { 100.0 } else { 500.0 };
        let end =
            start + chrono::Duration::milliseconds((frames as f64 / rate * 1000.0) as i64 + 60_000);
        let smp = uuid(r);
        let sref = json!({"$ref": "#/MacromoleculeSample/MacromoleculeSample1"});
        let ssx = json!({"deliveryMethod": if chip { "fixed-target" } else { "jet" }, "frameRateHz": rate,
            "framesTotal": frames, "crystalHits": counts.0, "framesIndexed": counts.1, "latticesIndexed": counts.2});
        let reduction = json!({"framesTotal": frames, "frameHits": counts.0, "framesIndexed": counts.1,
            "framesFailedIndex": counts.0 - counts.1, "latticesIndexed": counts.2, "indexingMethods": ["xgandalf"]});
        let value = json!({"version": mxpipe_model::MXLIMS_VERSION,
            "MxExperiment": {"MxExperiment1": {"mxlimsType": "MxExperiment", "uuid": uuid(r),
                "experimentStrategy": if chip { "SSX.fixed-target" } else { "SSX.jet" }, "startTime": start.to_rfc3339(),
                "endTime": end.to_rfc3339(), "jobStatus": "Completed", "sampleRef": sref,
                "extensions": {"mxpipe.org": {"session": session, "ssx": ssx}}}},
            "CollectionSweep": {"CollectionSweep1": {"mxlimsType": "CollectionSweep", "uuid": uuid(r), "role": "Result",
                "sweepType": if chip { "ssx-fixed-target" } else { "ssx-jet" }, "scanAxis": "omega", "exposureTime": round(1.0 / rate, 4),
                "numberImages": frames, "energy": 12_400.0, "transmission": 100.0, "detectorType": "PIXEL",
                "scans": [{"scanPositionStart": 0.0, "firstImageNumber": 1, "numberImages": frames, "ordinal": 0}],
                "fileType": "HDF5", "filenameTemplate": format!("run{run:05}_%06d.h5"),
                "path": format!("/data/{}/{}/ssx/run{run:05}", self.name.to_lowercase(), beamline),
                "sourceRef": {"$ref": "#/MxExperiment/MxExperiment1"}}},
            "MacromoleculeSample": {"MacromoleculeSample1": {"mxlimsType": "MacromoleculeSample", "uuid": smp,
                "name": format!("{target}-microcrystals-{run}"),
                "extensions": {"mxpipe.org": {"sampleIdentity": {"pid": format!("urn:uuid:{smp}"), "scheme": "urn"}}}}},
            "MxProcessing": {"MxProcessing1": {"mxlimsType": "MxProcessing", "uuid": uuid(r), "programName": "CrystFEL indexamajig",
                "programVersion": "0.11.1", "jobStatus": "Completed", "sampleRef": sref,
                "inputDataRefs": [{"$ref": "#/CollectionSweep/CollectionSweep1"}],
                "extensions": {"mxpipe.org": {"session": session, "ssxDataReduction": reduction}}}}});
        let mut fragments = mxpipe_ingest::validated(&self.origin(), value)?;
        let Some(Fragment::Message { bulk, .. }) = fragments.first_mut() else {
            unreachable!("validated returns one message")
        };
        bulk.push(BulkSource {
            owner: ("MxProcessing".into(), "MxProcessing1".into()),
            owner_column: "processing_uuid",
            open: Arc::new(move || {
                Box::new(FrameGen::new(frame_seed, frames, hit_p, idx_p, run).batches())
            }),
        });
        Ok(fragments.remove(0))
    }
}

/// Per-frame rows of one SSX run, reproducible from its seed.
struct FrameGen {
    rng: Rng,
    frames: u64,
    next: u64,
    hit_p: f64,
    idx_p: f64,
    run: u64,
}

impl FrameGen {
    fn new(seed: u64, frames: u64, hit_p: f64, idx_p: f64, run: u64) -> FrameGen {
        FrameGen {
            rng: Rng::new(seed),
            frames,
            next: 0,
            hit_p,
            idx_p,
            run,
        }
    }

    /// (hit, lattices) of the next frame, and its peak count and resolution.
    fn frame(&mut self) -> (bool, u64, u64, f64) {
        let hit = self.rng.unit() < self.hit_p;
        let lattices = if hit && self.rng.unit() < self.idx_p {
            1 + u64::from(self.rng.unit() < 0.1)
        } else {
            0
        };
        let peaks = if hit {
            self.rng.range(15, 80)
        } else {
            self.rng.range(0, 10)
        };
        (hit, lattices, peaks, 1.5 + 2.5 * self.rng.unit())
    }

    /// (hits, indexed frames, lattices) over the whole run.
    fn count(mut self) -> (u64, u64, u64) {
        let mut c = (0, 0, 0);
        for _ in 0..self.frames {
            let (hit, lattices, _, _) = self.frame();
            c.0 += u64::from(hit);
            c.1 += u64::from(lattices > 0);
            c.2 += lattices;
        }
        c
    }

    fn batches(mut self) -> impl Iterator<Item = RowBatch> + Send {
        std::iter::from_fn(move || {
            if self.next >= self.frames {
                return None;
            }
            let n = FRAME_BATCH.min(self.frames - self.next);
            let rows = (0..n)
                .map(|_| {
                    let i = self.next;
                    self.next += 1;
                    let (hit, lattices, peaks, res) = self.frame();
                    json!({"frame_index": i, "image_filename": format!("run{:05}_{:06}.h5", self.run, i / 1000 + 1),
                        "event": format!("//{}", i % 1000), "serial_number": i + 1, "hit": hit,
                        "indexed_by": (lattices > 0).then_some("xgandalf"), "indexing_tries": u64::from(hit),
                        "photon_energy_ev": 12_400.0, "camera_length_mm": 150.0, "num_peaks": peaks,
                        "peak_resolution_a": hit.then_some(round(res, 2)), "num_lattices": lattices, "source_line": 1 + i * 40})
                })
                .collect();
            Some(Ok(("ssx_frames", rows)))
        })
    }
}
