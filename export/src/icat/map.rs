//! The MXLIMS → ICAT parameter map, as data: one row per ICAT parameter with where its value
//! comes from, its units and value type. The names are the ESRF ICAT definitions
//! (`icat-esrf-definitions` 3.8.0, `hdf5_cfg.xml`: the one published MX vocabulary for ICAT), so
//! the generic icatdata output, the REST output and the ESRF messages share one map; units are the
//! ones that file declares (a test reads it). Names marked `mxpipe` are mxpipe's own (identity and
//! wedge order, which the ESRF names cannot carry) and are left out of ESRF messages.
//!
//! Sources are paths into the dataset's context (see [`super::graph`]):
//! `sweep/…`, `experiment/…`, `sample/…`, `crystal/…`, `pin/…`, `macromolecule/…`, `ssx/…`
//! (mxpipe.org ssx extension), `processing/…`, `set/…` (ReflectionSet), `stats/…` (one shell's
//! ReflectionStatistics, for every row whose name holds `{shell}`: `overall`, `inner`, `outer`),
//! `derived/…` (computed by the builder, documented on the row).

/// How a value is converted on its way to ICAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    /// A number, unchanged.
    Number,
    /// A whole number.
    Int,
    /// Text.
    Text,
    /// A number written as text (the ESRF definitions type some numbers as strings).
    NumberAsText,
    /// Energy in eV (values below 1000 read as keV) → keV.
    EvToKev,
    /// Energy in eV → wavelength in Å (12398.4198 / eV).
    EvToAngstrom,
    /// A boolean → `true`/`false` text.
    Bool,
}

/// What kind of dataset a parameter belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Raw dataset (one per sweep).
    Raw,
    /// Processed dataset (one per ReflectionSet).
    Processed,
}

/// One ICAT parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamMap {
    /// Parameter (ParameterType) name; `{shell}` expands to `overall`, `inner`, `outer`.
    pub name: &'static str,
    /// Raw or processed datasets.
    pub level: Level,
    /// Where the value comes from (module docs).
    pub source: &'static str,
    /// Conversion.
    pub conv: Conv,
    /// ParameterType units (`N/A` when unitless).
    pub units: &'static str,
    /// True for mxpipe's own names (not in the ESRF definitions; left out of ESRF messages).
    pub mxpipe: bool,
    /// Meaning.
    pub doc: &'static str,
}

impl ParamMap {
    /// ICAT valueType of the ParameterType.
    pub fn value_type(&self) -> &'static str {
        match self.conv {
            Conv::Number | Conv::Int | Conv::EvToKev | Conv::EvToAngstrom => "NUMERIC",
            Conv::Text | Conv::NumberAsText | Conv::Bool => "STRING",
        }
    }
}

const fn p(
    name: &'static str,
    level: Level,
    source: &'static str,
    conv: Conv,
    units: &'static str,
    doc: &'static str,
) -> ParamMap {
    ParamMap {
        name,
        level,
        source,
        conv,
        units,
        mxpipe: false,
        doc,
    }
}

const fn own(
    name: &'static str,
    level: Level,
    source: &'static str,
    doc: &'static str,
) -> ParamMap {
    ParamMap {
        name,
        level,
        source,
        conv: Conv::Text,
        units: "N/A",
        mxpipe: true,
        doc,
    }
}

use Conv::*;
use Level::*;

/// The shells a `{shell}` row expands to: (ICAT name part, which statistics).
pub const SHELLS: &[(&str, &str)] = &[
    ("overall", "overall"),
    ("inner", "innerShell"),
    ("outer", "outerShell"),
];

/// Every parameter, in output order.
#[rustfmt::skip]
pub const PARAMS: &[ParamMap] = &[
    p("Sample_name", Raw, "derived/sampleName", Text, "N/A", "Crystal.name, else the sample's name"),
    p("SampleProtein_name", Raw, "derived/proteinName", Text, "N/A", "Macromolecule.name"),
    p("SampleProtein_acronym", Raw, "derived/acronym", Text, "N/A", "Macromolecule.acronym, else the first component's"),
    p("SampleTrackingContainer_position", Raw, "pin/positionInPuck", NumberAsText, "N/A", "position of the pin in its puck"),
    p("MX_scanType", Raw, "experiment/experimentStrategy", Text, "N/A", "experimentStrategy (e.g. `MAD.interleaved`)"),
    p("MX_directory", Raw, "sweep/path", Text, "N/A", "image directory"),
    p("MX_template", Raw, "sweep/filenameTemplate", Text, "N/A", "image file name template"),
    p("MX_startImageNumber", Raw, "derived/firstImage", Int, "N/A", "first image number of the sweep's first wedge"),
    p("MX_numberOfImages", Raw, "sweep/numberImages", Int, "N/A", "images in the sweep (all wedges)"),
    p("MX_exposureTime", Raw, "sweep/exposureTime", Number, "s", "exposure per image"),
    p("MX_oscillationStart", Raw, "derived/axisStart", Number, "deg", "scan-axis position of the first image"),
    p("MX_oscillationRange", Raw, "sweep/imageWidth", Number, "deg", "rotation per image"),
    p("MX_oscillationOverlap", Raw, "sweep/overlap", Number, "deg", "overlap between images"),
    p("MX_axis_start", Raw, "derived/axisStart", Number, "deg", "scan-axis start (first image)"),
    p("MX_axis_end", Raw, "derived/axisEnd", Number, "deg", "scan-axis end: axisPositionsEnd, else start + images × width"),
    p("MX_axis_range", Raw, "sweep/imageWidth", Number, "deg", "rotation per image (a range in degrees, never an axis name)"),
    p("MX_rotation_axis", Raw, "sweep/scanAxis", Text, "N/A", "scan axis (`omega`, `phi`, …)"),
    p("MX_omega", Raw, "derived/omegaStart", Number, "deg", "omega at the first image"),
    p("MX_kappa", Raw, "sweep/axisPositionsStart/kappa", Number, "deg", "kappa"),
    p("MX_phi", Raw, "derived/phiStart", Number, "deg", "phi at the first image"),
    p("MX_detectorDistance", Raw, "sweep/axisPositionsStart/detector_distance", Number, "mm", "sample–detector distance"),
    p("MX_xBeam", Raw, "derived/xBeam", Number, "mm", "beam centre x = beamPosition[0] (px) × the detector pixel size the files state (mm; `[icat] pixel_size_mm` only when they state none, with a warning)"),
    p("MX_yBeam", Raw, "derived/yBeam", Number, "mm", "beam centre y = beamPosition[1] (px) × pixel size"),
    p("MX_wavelength", Raw, "sweep/energy", EvToAngstrom, "Å", "12398.4198 / energy (eV)"),
    p("InstrumentMonochromator_wavelength", Raw, "sweep/energy", EvToAngstrom, "Å", "as MX_wavelength"),
    p("InstrumentMonochromator_energy", Raw, "sweep/energy", EvToKev, "keV", "photon energy (MXLIMS: eV)"),
    p("MX_resolution", Raw, "sweep/resolution", Number, "Å", "resolution at the detector edge"),
    p("MX_transmission", Raw, "sweep/transmission", Number, "%", "transmission (0–100)"),
    p("MX_beamShape", Raw, "sweep/beamShape", Text, "N/A", "beam shape"),
    p("MX_beamSizeAtSampleX", Raw, "sweep/beamSize/0", Number, "mm", "horizontal beam size"),
    p("MX_beamSizeAtSampleY", Raw, "sweep/beamSize/1", Number, "mm", "vertical beam size"),
    p("InstrumentDetector01_type", Raw, "sweep/detectorType", Text, "N/A", "detector type"),
    p("SSX_experiment_type", Raw, "ssx/deliveryMethod", Text, "N/A", "SSX delivery method"),
    p("SSXChip_model", Raw, "ssx/sampleHolding", Text, "N/A", "sample holder (chip)"),
    own("mxpipe_experiment_uuid", Raw, "derived/experimentUuid", "the MxExperiment the sweep belongs to"),
    own("mxpipe_sweep_uuid", Raw, "derived/sweepUuid", "the CollectionSweep"),
    own("mxpipe_wedges", Raw, "derived/wedges", "the sweep's wedges in acquisition order, JSON `[{\"ordinal\",\"firstImage\",\"numberImages\",\"axisStart\"}]`"),
    p("Process_program", Processed, "processing/programName", Text, "N/A", "program"),
    p("Process_version", Processed, "processing/programVersion", Text, "N/A", "program version"),
    p("Sample_name", Processed, "derived/sampleName", Text, "N/A", "the sample of the first input"),
    p("MXAutoprocIntegration_space_group", Processed, "set/spaceGroupName", Text, "N/A", "space group"),
    p("MXAutoprocIntegration_cell_a", Processed, "set/refinedUnitCell/a", NumberAsText, "N/A", "refined cell a (Å; text, as the ESRF definitions type it)"),
    p("MXAutoprocIntegration_cell_b", Processed, "set/refinedUnitCell/b", NumberAsText, "N/A", "Å"),
    p("MXAutoprocIntegration_cell_c", Processed, "set/refinedUnitCell/c", NumberAsText, "N/A", "Å"),
    p("MXAutoprocIntegration_cell_alpha", Processed, "set/refinedUnitCell/alpha", NumberAsText, "N/A", "degrees"),
    p("MXAutoprocIntegration_cell_beta", Processed, "set/refinedUnitCell/beta", NumberAsText, "N/A", "degrees"),
    p("MXAutoprocIntegration_cell_gamma", Processed, "set/refinedUnitCell/gamma", NumberAsText, "N/A", "degrees"),
    p("MXAutoprocIntegration_anomalous", Processed, "set/anomalous", Bool, "N/A", "anomalous pairs kept apart"),
    p("MXAutoprocIntegration_start_image_number", Processed, "derived/startImage", Int, "N/A", "first image read (first input)"),
    p("MXAutoprocIntegration_end_image_number", Processed, "derived/endImage", Int, "N/A", "last image read (first input)"),
    p("MXAutoprocIntegrationScaling_{shell}_resolution_limit_low", Processed, "stats/resolutionLimits/0", Number, "Å", "low resolution limit"),
    p("MXAutoprocIntegrationScaling_{shell}_resolution_limit_high", Processed, "stats/resolutionLimits/1", Number, "Å", "high resolution limit"),
    p("MXAutoprocIntegrationScaling_{shell}_r_merge", Processed, "stats/R_merge", Number, "N/A", "Rmerge (fraction, as MXLIMS)"),
    p("MXAutoprocIntegrationScaling_{shell}_r_meas_all_IPlus_IMinus", Processed, "stats/R_meas", Number, "N/A", "Rmeas (fraction)"),
    p("MXAutoprocIntegrationScaling_{shell}_r_pim_all_IPlus_IMinus", Processed, "stats/R_pim", Number, "N/A", "Rpim (fraction)"),
    p("MXAutoprocIntegrationScaling_{shell}_n_total_observations", Processed, "stats/numberObservations", Int, "N/A", "observations"),
    p("MXAutoprocIntegrationScaling_{shell}_n_total_unique_observations", Processed, "stats/numberObservationsUnique", Int, "N/A", "unique reflections"),
    p("MXAutoprocIntegrationScaling_{shell}_mean_I_over_sigI", Processed, "stats/I_over_SigI", Number, "N/A", "mean I/σ(I)"),
    p("MXAutoprocIntegrationScaling_{shell}_completeness", Processed, "stats/Completeness", Number, "%", "completeness"),
    p("MXAutoprocIntegrationScaling_{shell}_multiplicity", Processed, "stats/Redundancy", Number, "N/A", "multiplicity"),
    p("MXAutoprocIntegrationScaling_{shell}_anomalous_completeness", Processed, "stats/CompletenessAno", Number, "%", "anomalous completeness"),
    p("MXAutoprocIntegrationScaling_{shell}_anomalous_multiplicity", Processed, "stats/RedundancyAno", Number, "N/A", "anomalous multiplicity"),
    p("MXAutoprocIntegrationScaling_{shell}_cc_half", Processed, "stats/CC_one_half", Number, "N/A", "CC½ (coefficient −1..1, as MXLIMS; ISPyB stores percent)"),
    p("MXAutoprocIntegrationScaling_{shell}_ccAno", Processed, "stats/CC_ano", Number, "N/A", "anomalous CC (coefficient)"),
    own("mxpipe_reflection_set_uuid", Processed, "derived/setUuid", "the ReflectionSet"),
    own("mxpipe_processing_uuid", Processed, "derived/processingUuid", "the MxProcessing"),
];

/// Names every `{shell}` row expands to, with the row (in output order).
pub fn expanded(level: Level) -> Vec<(String, &'static ParamMap, Option<&'static str>)> {
    let mut out = Vec::new();
    for m in PARAMS.iter().filter(|m| m.level == level) {
        if m.name.contains("{shell}") {
            for (part, shell) in SHELLS {
                out.push((m.name.replace("{shell}", part), m, Some(*shell)));
            }
        } else {
            out.push((m.name.to_owned(), m, None));
        }
    }
    out
}

/// The description of a ParameterType: the doc of the first row producing `name` (a name used at
/// both levels, such as `Sample_name`, gets one description, so re-exports change nothing).
pub fn description(name: &str) -> &'static str {
    PARAMS
        .iter()
        .find(|m| {
            m.name == name
                || (m.name.contains("{shell}")
                    && SHELLS
                        .iter()
                        .any(|(part, _)| m.name.replace("{shell}", part) == name))
        })
        .map_or("", |m| m.doc)
}

/// The map as a Markdown table (`mxpipe export icat-map`, `docs/icat.md`).
pub fn markdown() -> String {
    let mut out = String::from(
        "| parameter | dataset | from | units | type | meaning |\n|---|---|---|---|---|---|\n",
    );
    for m in PARAMS {
        out.push_str(&format!(
            "| `{}`{} | {} | `{}` | {} | {} | {} |\n",
            m.name,
            if m.mxpipe { " (mxpipe)" } else { "" },
            match m.level {
                Raw => "raw",
                Processed => "processed",
            },
            m.source,
            m.units,
            m.value_type(),
            m.doc
        ));
    }
    out
}
