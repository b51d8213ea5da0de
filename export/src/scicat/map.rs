//! The MXLIMS → SciCat `scientificMetadata` map, as data: one row per leaf with where its value
//! comes from, its unit and conversion. Leaves with a unit are written as `{"value", "unit"}`
//! quantities with units mathjs parses (SciCat adds `valueSI`/`unitSI` itself; mxpipe never
//! sends them), the rest as plain values. Keys are snake_case without dots (SciCat stores a dot
//! URL-encoded) and grouped as facilities do: `beam`, `detector`, `scan`, `sample`, `ssx`,
//! `processing` (with `statistics/overall|inner|outer`), `mxpipe` (identity).
//!
//! Percentages are plain numbers whose key ends in `_percent`: mathjs (which SciCat uses to add SI
//! values) has no `%` unit, so a `{"unit": "%"}` quantity makes the backend log a conversion error
//! for every value and store it unconverted.
//!
//! Sources are the same context paths as the ICAT map (see [`crate::icat::map`]): `sweep/…`,
//! `experiment/…`, `sample/…`, `crystal/…`, `pin/…`, `macromolecule/…`, `ssx/…`,
//! `processing/…`, `set/…`, `stats/…` (one shell, for rows under `statistics/{shell}`),
//! `derived/…` (computed by [`crate::icat::graph`]).

use crate::icat::map::{Conv, Level};

/// How a leaf is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    /// A plain value converted with [`Conv`].
    Plain(Conv),
    /// `{"value", "unit"}` with the value converted with [`Conv`].
    Quantity(Conv, &'static str),
    /// The context value as it is (a list or an object, e.g. the wedges in order).
    Json,
}

/// One `scientificMetadata` leaf.
#[derive(Debug, Clone, Copy)]
pub struct FieldMap {
    /// Slash-separated path in `scientificMetadata`; `{shell}` expands to `overall`, `inner`,
    /// `outer`.
    pub path: &'static str,
    /// Raw (one per sweep) or derived (one per ReflectionSet) datasets.
    pub level: Level,
    /// Where the value comes from (module docs).
    pub source: &'static str,
    /// How it is written.
    pub leaf: Leaf,
    /// Meaning.
    pub doc: &'static str,
}

/// The shells a `{shell}` row expands to: (key, which statistics).
pub const SHELLS: &[(&str, &str)] = &[
    ("overall", "overall"),
    ("inner", "innerShell"),
    ("outer", "outerShell"),
];

const fn f(
    path: &'static str,
    level: Level,
    source: &'static str,
    leaf: Leaf,
    doc: &'static str,
) -> FieldMap {
    FieldMap {
        path,
        level,
        source,
        leaf,
        doc,
    }
}

use Conv::*;
use Leaf::*;
use Level::*;

/// Every leaf, in output order.
#[rustfmt::skip]
pub const FIELDS: &[FieldMap] = &[
    f("beam/wavelength", Raw, "sweep/energy", Quantity(EvToAngstrom, "angstrom"), "12398.4198 / energy (eV)"),
    f("beam/energy", Raw, "sweep/energy", Quantity(EvToKev, "keV"), "photon energy (MXLIMS: eV)"),
    f("beam/transmission_percent", Raw, "sweep/transmission", Plain(Number), "transmission (0–100 %)"),
    f("beam/size_x", Raw, "sweep/beamSize/0", Quantity(Number, "mm"), "horizontal beam size"),
    f("beam/size_y", Raw, "sweep/beamSize/1", Quantity(Number, "mm"), "vertical beam size"),
    f("beam/shape", Raw, "sweep/beamShape", Plain(Text), "beam shape"),
    f("detector/type", Raw, "sweep/detectorType", Plain(Text), "detector type"),
    f("detector/distance", Raw, "sweep/axisPositionsStart/detector_distance", Quantity(Number, "mm"), "sample–detector distance"),
    f("detector/beam_center_x", Raw, "derived/xBeam", Quantity(Number, "mm"), "beam centre x = beamPosition[0] (px) × the detector pixel size the files state (`[scicat] pixel_size_mm` only when they state none, with a warning)"),
    f("detector/beam_center_y", Raw, "derived/yBeam", Quantity(Number, "mm"), "beam centre y = beamPosition[1] (px) × pixel size"),
    f("detector/resolution_at_edge", Raw, "sweep/resolution", Quantity(Number, "angstrom"), "resolution at the detector edge"),
    f("scan/strategy", Raw, "experiment/experimentStrategy", Plain(Text), "experimentStrategy (e.g. `MAD.interleaved`)"),
    f("scan/axis", Raw, "sweep/scanAxis", Plain(Text), "scan axis (`omega`, `phi`, …)"),
    f("scan/axis_start", Raw, "derived/axisStart", Quantity(Number, "deg"), "scan-axis position of the first image"),
    f("scan/axis_end", Raw, "derived/axisEnd", Quantity(Number, "deg"), "axisPositionsEnd, else start + images × width"),
    f("scan/image_width", Raw, "sweep/imageWidth", Quantity(Number, "deg"), "rotation per image"),
    f("scan/overlap", Raw, "sweep/overlap", Quantity(Number, "deg"), "overlap between images"),
    f("scan/exposure_time", Raw, "sweep/exposureTime", Quantity(Number, "s"), "exposure per image"),
    f("scan/number_images", Raw, "sweep/numberImages", Plain(Int), "images in the sweep (all wedges)"),
    f("scan/first_image", Raw, "derived/firstImage", Plain(Int), "first image number of the first wedge"),
    f("scan/omega", Raw, "derived/omegaStart", Quantity(Number, "deg"), "omega at the first image"),
    f("scan/kappa", Raw, "sweep/axisPositionsStart/kappa", Quantity(Number, "deg"), "kappa"),
    f("scan/phi", Raw, "derived/phiStart", Quantity(Number, "deg"), "phi at the first image"),
    f("scan/directory", Raw, "sweep/path", Plain(Text), "image directory"),
    f("scan/template", Raw, "sweep/filenameTemplate", Plain(Text), "image file name template"),
    f("scan/wedges", Raw, "derived/wedgeList", Json, "the sweep's wedges in acquisition order: `[{ordinal, firstImage, numberImages, axisStart (deg)}]`"),
    f("sample/name", Raw, "derived/sampleName", Plain(Text), "Crystal.name, else the sample's name"),
    f("sample/protein", Raw, "derived/proteinName", Plain(Text), "Macromolecule.name"),
    f("sample/acronym", Raw, "derived/acronym", Plain(Text), "Macromolecule.acronym, else the first component's"),
    f("sample/pin_position", Raw, "pin/positionInPuck", Plain(Int), "position of the pin in its puck"),
    f("ssx/delivery_method", Raw, "ssx/deliveryMethod", Plain(Text), "SSX delivery method"),
    f("ssx/sample_holding", Raw, "ssx/sampleHolding", Plain(Text), "sample holder (chip)"),
    f("mxpipe/experiment_uuid", Raw, "derived/experimentUuid", Plain(Text), "the MxExperiment the sweep belongs to"),
    f("mxpipe/sweep_uuid", Raw, "derived/sweepUuid", Plain(Text), "the CollectionSweep"),
    f("processing/program", Processed, "processing/programName", Plain(Text), "program"),
    f("processing/version", Processed, "processing/programVersion", Plain(Text), "program version"),
    f("processing/space_group", Processed, "set/spaceGroupName", Plain(Text), "space group"),
    f("processing/cell/a", Processed, "set/refinedUnitCell/a", Quantity(Number, "angstrom"), "refined cell a"),
    f("processing/cell/b", Processed, "set/refinedUnitCell/b", Quantity(Number, "angstrom"), "refined cell b"),
    f("processing/cell/c", Processed, "set/refinedUnitCell/c", Quantity(Number, "angstrom"), "refined cell c"),
    f("processing/cell/alpha", Processed, "set/refinedUnitCell/alpha", Quantity(Number, "deg"), "refined cell α"),
    f("processing/cell/beta", Processed, "set/refinedUnitCell/beta", Quantity(Number, "deg"), "refined cell β"),
    f("processing/cell/gamma", Processed, "set/refinedUnitCell/gamma", Quantity(Number, "deg"), "refined cell γ"),
    f("processing/anomalous", Processed, "set/anomalous", Plain(Bool), "anomalous pairs kept apart (`true`/`false`)"),
    f("processing/start_image", Processed, "derived/startImage", Plain(Int), "first image read (first input)"),
    f("processing/end_image", Processed, "derived/endImage", Plain(Int), "last image read (first input)"),
    f("processing/statistics/{shell}/d_max", Processed, "stats/resolutionLimits/0", Quantity(Number, "angstrom"), "low resolution limit"),
    f("processing/statistics/{shell}/d_min", Processed, "stats/resolutionLimits/1", Quantity(Number, "angstrom"), "high resolution limit"),
    f("processing/statistics/{shell}/completeness_percent", Processed, "stats/Completeness", Plain(Number), "completeness (0–100 %)"),
    f("processing/statistics/{shell}/multiplicity", Processed, "stats/Redundancy", Plain(Number), "multiplicity"),
    f("processing/statistics/{shell}/i_over_sigma", Processed, "stats/I_over_SigI", Plain(Number), "mean I/σ(I)"),
    f("processing/statistics/{shell}/cc_half", Processed, "stats/CC_one_half", Plain(Number), "CC½ (coefficient −1..1, as MXLIMS)"),
    f("processing/statistics/{shell}/cc_ano", Processed, "stats/CC_ano", Plain(Number), "anomalous CC (coefficient)"),
    f("processing/statistics/{shell}/r_merge", Processed, "stats/R_merge", Plain(Number), "Rmerge (fraction, as MXLIMS)"),
    f("processing/statistics/{shell}/r_meas", Processed, "stats/R_meas", Plain(Number), "Rmeas (fraction)"),
    f("processing/statistics/{shell}/r_pim", Processed, "stats/R_pim", Plain(Number), "Rpim (fraction)"),
    f("processing/statistics/{shell}/n_observations", Processed, "stats/numberObservations", Plain(Int), "observations"),
    f("processing/statistics/{shell}/n_unique", Processed, "stats/numberObservationsUnique", Plain(Int), "unique reflections"),
    f("processing/statistics/{shell}/anomalous_completeness_percent", Processed, "stats/CompletenessAno", Plain(Number), "anomalous completeness (0–100 %)"),
    f("processing/statistics/{shell}/anomalous_multiplicity", Processed, "stats/RedundancyAno", Plain(Number), "anomalous multiplicity"),
    f("mxpipe/reflection_set_uuid", Processed, "derived/setUuid", Plain(Text), "the ReflectionSet"),
    f("mxpipe/processing_uuid", Processed, "derived/processingUuid", Plain(Text), "the MxProcessing"),
];

/// Units the map uses (a test checks each is one mathjs parses, as SciCat converts them).
pub fn units() -> Vec<&'static str> {
    let mut u: Vec<&str> = FIELDS
        .iter()
        .filter_map(|m| match m.leaf {
            Quantity(_, unit) => Some(unit),
            _ => None,
        })
        .collect();
    u.sort_unstable();
    u.dedup();
    u
}

/// The map as a Markdown table (`mxpipe export scicat-map`, `docs/scicat.md`).
pub fn markdown() -> String {
    let mut out = String::from(
        "| scientificMetadata | dataset | from | unit | meaning |\n|---|---|---|---|---|\n",
    );
    for m in FIELDS {
        let unit = match m.leaf {
            Quantity(_, u) => format!("`{u}`"),
            Plain(_) => String::new(),
            Json => "list".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            m.path,
            match m.level {
                Raw => "raw",
                Processed => "derived",
            },
            m.source,
            unit,
            m.doc
        ));
    }
    out
}
