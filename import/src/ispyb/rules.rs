//! The normalisation rules a legacy ISPyB needs, as a registry: each has a name, what it does and
//! the real rows that call for it (`docs/ispyb-import.md` is generated from this list). Every
//! application is counted ([`Tally`]) and reported; a value no rule fits is kept out and listed
//! with its table, key and value — never guessed.

use std::collections::BTreeMap;

use serde::Serialize;

/// One rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Name (as in the report).
    pub name: &'static str,
    /// Condition → conversion.
    pub does: &'static str,
    /// The rows that call for it.
    pub evidence: &'static str,
}

const fn r(name: &'static str, does: &'static str, evidence: &'static str) -> Rule {
    Rule {
        name,
        does,
        evidence,
    }
}

/// Every rule, in the order of `docs/ispyb-import.md`.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    r("dc-axis-end", "a rotation's scan is `axisStart` + images × `axisRange`; `axisEnd` is not read (legacy rows hold the range there)", "every DataCollection: 993677 start 45, end 0.1, range 0.1"),
    r("dc-characterisation-wedges", "`overlap` ≠ 0 → kept as the sweep's `overlap` (image i at `axisStart + i·(axisRange − overlap)`), one scan per DataCollection, sweep role `Characterisation`", "1052494 (−89.6), 1052503 (−44.7: images at 93, 138, 183), 1066786"),
    r("dc-mesh", "a GridInfo row, a Mesh group or `axisRange` 0 with several images → sweep type `mesh` (lines and size from GridInfo), never a rotation", "DataCollection 6017405 / group 5440739 / GridInfo 1281212: 30 × 16 images, 0.02 mm steps"),
    r("experiment-type-by-name", "the group's `experimentType` read by name, case-insensitively, into the experiment strategy (the exporter's table read backwards)", "Mesh (group 5440739) vs the lookup's MESH"),
    r("regroup-wedges", "DataCollections of one group with the same directory, template, wavelength and axis are the wedges of one sweep, in acquisition order (mxpipe's own `mxpipe sweep <uuid> scan <n>` comments name sweep and ordinal exactly)", "interleaved MAD exported by mxpipe: 24 DataCollections → 7 sweeps"),
    r("dc-beamsize-mm", "`DataCollection.beamSizeAtSample*` are mm, kept as mm (rows mxpipe exported before it wrote mm hold µm: above 1 mm they are read as µm)", "993677 0.05, 6017405 0.02 = GridInfo dx_mm"),
    r("dc-beam-centre-mm", "`xBeam`/`yBeam` (mm) → `beamPosition` (pixels) with `[ispyb] pixel_size_mm`; without it the beam centre is kept out", "993677 215.62 / 208.978 mm"),
    r("wavelength-to-energy", "`wavelength` (Å) → `energy` (eV) = 12398.4198 / Å", "993677 1.28255 Å = 9667.1 eV"),
    r("transmission-percent", "`transmission` is % and kept when in (0, 100]; else kept out (a fraction ≤ 1 stays as written: the column holds percent)", "993677 40.19, 1002287 0.999"),
    r("cc-percent-by-program", "`ccHalf`/`ccAnomalous` of fast_dp (and any statistics block with |CC| > 1) are % → ÷ 100; xia2 and autoPROC write coefficients", "scaling 596133 fast_dp 91.7/99.9 vs 596138 xia2 0.584/0.999"),
    r("r-factors-fraction", "`rMerge`, `rMeasAllIPlusIMinus`, `rPimAllIPlusIMinus` are fractions for every program (no \"> 1 means %\")", "596145 outer shell Rmerge 3.758"),
    r("shell-by-type", "statistics by `scalingStatisticsType` (overall / innerShell / outerShell), never by row order", "every scaling stores outerShell first"),
    r("anomalous-flag-ignored", "`anomalous` = 0 does not hide the anomalous statistics", "all 33 statistics rows"),
    r("pipeline-from-programs", "`processingPrograms` names the program (`fast_dp`, `xia2 dials`, `xia2 3dii`, `autoPROC 1.0.4 …`, `dimple`) and its version when written there", "56425963 autoPROC 1.0.4; processingPipelineId NULL everywhere"),
    r("integration-identity", "one input per AutoProcIntegration (its DataCollection and image range); several integrations of one program on one DataCollection are all kept", "program 56426286: integrations 592522 (1–3600) and 592523 (1–1800) on 993677"),
    r("downstream-parent", "`parentAutoProcProgramId`, else the program of the scaling an MXMRRun names → the job it started from", "dimple 56986674 → xia2 dials 56986673 (MXMRRun 672897)"),
    r("spacegroup-one-spelling", "space groups in the model's one spelling (`P 61 2 2`)", "AutoProc `P 61 2 2` vs Crystal `P6122`"),
    r("null-placeholders", "`''`, `NR`, `null _FLAG_`, zero dates, and 0 where 0 means \"not measured\" (exposure, flux, wavelength) → absent", "group 5440739 barcode `NR`"),
    r("local-time", "DATETIME columns are facility local time (`[ispyb] timezone`) → UTC", "2016-01-14 12:40:34 Europe/London"),
    r("visit-from-keys", "the visit from the foreign keys (session → proposal); another visit named in `imageDirectory` is a warning", "6017405 in cm14451-1 with path …/cm28170-1/…"),
    r("sample-consistency", "a group barcode other than its sample's code is a warning; the foreign key wins", "group 1054243 CA00AG9993 vs sample code"),
    r("dangling-keys", "a key to a row that is not there (sample, session, program) is absent and counted", "detectorId 78 (foreign-key checks were off at load)"),
    r("truncated-text", "a 255-character command line is marked truncated", "56425963, 56985589, 56986674"),
    r("mxpipe-comments", "rows mxpipe exported carry their object's uuid in `comments` (and `jobUuid`, `crystalUUID`): the uuid is taken back, not derived", "any ISPyB mxpipe exported to"),
];

/// A value kept out of the model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeptOut {
    /// Table.
    pub table: &'static str,
    /// Primary key.
    pub key: i64,
    /// Column.
    pub column: &'static str,
    /// The value as read.
    pub value: String,
    /// Why.
    pub reason: String,
}

/// Counts of rule applications, warnings and values kept out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Rule → rows it applied to.
    pub applied: BTreeMap<&'static str, u64>,
    /// Values kept out (the first 1 000; `kept_out_total` counts all).
    pub kept_out: Vec<KeptOut>,
    /// All values kept out.
    pub kept_out_total: u64,
    /// Warnings (the first 1 000; `warnings_total` counts all).
    pub warnings: Vec<String>,
    /// All warnings.
    pub warnings_total: u64,
}

/// How many kept-out values and warnings are listed one by one.
const LISTED: usize = 1000;

impl Tally {
    /// Count one application of `rule` (which must be in [`RULES`]).
    pub fn applied(&mut self, rule: &'static str) {
        debug_assert!(RULES.iter().any(|r| r.name == rule), "unknown rule {rule}");
        *self.applied.entry(rule).or_default() += 1;
    }
    /// Keep a value out, with why.
    pub fn keep_out(
        &mut self,
        table: &'static str,
        key: i64,
        column: &'static str,
        value: &str,
        reason: impl Into<String>,
    ) {
        self.kept_out_total += 1;
        if self.kept_out.len() < LISTED {
            self.kept_out.push(KeptOut {
                table,
                key,
                column,
                value: value.to_owned(),
                reason: reason.into(),
            });
        }
    }
    /// Add another tally's counts and lists (one group's, mapped on another core).
    pub fn merge(&mut self, other: Tally) {
        for (k, n) in other.applied {
            *self.applied.entry(k).or_default() += n;
        }
        self.kept_out_total += other.kept_out_total;
        self.warnings_total += other.warnings_total;
        let room = LISTED.saturating_sub(self.kept_out.len());
        self.kept_out.extend(other.kept_out.into_iter().take(room));
        let room = LISTED.saturating_sub(self.warnings.len());
        self.warnings.extend(other.warnings.into_iter().take(room));
    }
    /// A warning under `rule`.
    pub fn warn(&mut self, rule: &'static str, message: String) {
        self.applied(rule);
        self.warnings_total += 1;
        if self.warnings.len() < LISTED {
            self.warnings.push(format!("{rule}: {message}"));
        }
    }
}

/// The rules as the Markdown table of `docs/ispyb-import.md`.
pub fn markdown() -> String {
    let mut out = String::from("| rule | condition → conversion | evidence |\n|---|---|---|\n");
    for r in RULES {
        out.push_str(&format!("| `{}` | {} | {} |\n", r.name, r.does, r.evidence));
    }
    out
}
