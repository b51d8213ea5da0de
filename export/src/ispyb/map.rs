//! The MXLIMS → ISPyB field map, as data: one list of columns per ISPyB table, each with where its
//! value comes from and the unit conversion. `docs/ispyb.md` lists the same table (a test keeps
//! them in sync). Sources are paths into the row's context object:
//!
//! - `sweep/…`, `scan/…`, `experiment/…`, `sample/…`, `macromolecule/…`, `crystal/…`, `pin/…`,
//!   `processing/…`, `set/…` (ReflectionSet), `stats/…` (one ReflectionStatistics), `ssx/…`
//!   (mxpipe.org ssx extension), `reduction/…` (mxpipe.org ssxDataReduction), `session/…`:
//!   JSON pointers into those MXLIMS objects;
//! - `derived/…`: values computed by the row builder (documented on each column);
//! - `ref/TABLE`: the primary key of the row of TABLE this row belongs to.

/// How a value is converted on its way to ISPyB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    /// A number, unchanged.
    Number,
    /// An integer.
    Int,
    /// Text (truncated to the column's width where ISPyB is narrower).
    Text(usize),
    /// Energy in eV (values below 1000 read as keV) → wavelength in Å (12398.4198 / eV).
    EvToAngstrom,
    /// A correlation coefficient (−1..1) → percent (ISPyB `ccHalf`, `ccAnomalous`).
    CoefficientToPercent,
    /// An RFC 3339 time → naive local time of the facility (`YYYY-MM-DD HH:MM:SS`).
    LocalTime,
    /// A uuid → 16 bytes (`BINARY(16)` columns such as `AutoProcProgram.jobUuid`).
    UuidBytes,
    /// The primary key of another row.
    Ref,
}

/// One column of an ISPyB table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnMap {
    /// ISPyB column.
    pub column: &'static str,
    /// Where the value comes from (see the module docs).
    pub source: &'static str,
    /// Conversion.
    pub conv: Conv,
    /// Meaning and unit in ISPyB.
    pub doc: &'static str,
}

/// An ISPyB table mxpipe writes.
#[derive(Debug, Clone, Copy)]
pub struct TableMap {
    /// Table.
    pub table: &'static str,
    /// Primary-key column.
    pub key: &'static str,
    /// True when the key is not auto-increment but one of the mapped columns (1:1 extensions).
    pub key_is_mapped: bool,
    /// What one row is.
    pub doc: &'static str,
    /// Columns.
    pub columns: &'static [ColumnMap],
}

const fn c(column: &'static str, source: &'static str, conv: Conv, doc: &'static str) -> ColumnMap {
    ColumnMap {
        column,
        source,
        conv,
        doc,
    }
}

use Conv::*;

/// Every table, parents before children (the order rows are written in).
#[rustfmt::skip]
pub const TABLES: &[TableMap] = &[
    TableMap { table: "Person", key: "personId", key_is_mapped: false, doc: "the owner of proposals mxpipe creates (only with --create-session)", columns: &[
            c("login", "derived/login", Text(45), "`mxpipe`"),
            c("familyName", "derived/familyName", Text(100), "`mxpipe exporter`"),
        ]},
    TableMap { table: "Proposal", key: "proposalId", key_is_mapped: false, doc: "a proposal (only with --create-session)", columns: &[
            c("personId", "ref/Person", Ref, "owner"),
            c("proposalCode", "derived/proposalCode", Text(45), "letters of the session's proposalCode (`mx23694` → `mx`)"),
            c("proposalNumber", "derived/proposalNumber", Text(45), "digits of the session's proposalCode (`mx23694` → `23694`)"),
            c("proposalType", "derived/proposalType", Text(2), "`MX`"),
            c("title", "derived/title", Text(200), "`created by mxpipe export`"),
        ]},
    TableMap { table: "BLSession", key: "sessionId", key_is_mapped: false, doc: "a visit (only with --create-session; otherwise found by proposal code + number + visit number)", columns: &[
            c("proposalId", "ref/Proposal", Ref, "proposal"),
            c("visit_number", "session/visitNumber", Int, "visit number"),
            c("beamLineName", "session/beamline", Text(45), "beamline"),
            c("startDate", "session/startTime", LocalTime, "session start, facility local time"),
            c("endDate", "session/endTime", LocalTime, "session end, facility local time"),
        ]},
    TableMap { table: "Protein", key: "proteinId", key_is_mapped: false, doc: "the macromolecule of the experiment's sample", columns: &[
            c("proposalId", "ref/Proposal", Ref, "proposal of the session"),
            c("name", "derived/proteinName", Text(255), "Macromolecule.name, else MacromoleculeSample.name"),
            c("acronym", "derived/acronym", Text(45), "Macromolecule.acronym, else the first component's acronym"),
            c("sequence", "derived/sequence", Text(65535), "the first component's sequence"),
        ]},
    TableMap { table: "Crystal", key: "crystalId", key_is_mapped: false, doc: "the experiment's crystal (or its sample when no Crystal is given)", columns: &[
            c("proteinId", "ref/Protein", Ref, "protein"),
            c("crystalUUID", "derived/crystalUuid", Text(45), "mxpipe uuid of the Crystal (of the sample when none)"),
            c("name", "derived/crystalName", Text(255), "Crystal.name, else the sample's name"),
            c("spaceGroup", "experiment/expectedSpaceGroupName", Text(20), "expected space group"),
            c("cell_a", "experiment/expectedUnitCell/a", Number, "expected cell a (Å)"),
            c("cell_b", "experiment/expectedUnitCell/b", Number, "Å"),
            c("cell_c", "experiment/expectedUnitCell/c", Number, "Å"),
            c("cell_alpha", "experiment/expectedUnitCell/alpha", Number, "degrees"),
            c("cell_beta", "experiment/expectedUnitCell/beta", Number, "degrees"),
            c("cell_gamma", "experiment/expectedUnitCell/gamma", Number, "degrees"),
        ]},
    TableMap { table: "BLSample", key: "blSampleId", key_is_mapped: false, doc: "the sample as mounted", columns: &[
            c("crystalId", "ref/Crystal", Ref, "crystal"),
            c("name", "derived/sampleName", Text(45), "MacromoleculeSample.name"),
            c("code", "pin/barcode", Text(45), "pin barcode (barcodes are reused: the persistent id is kept in comments and crystalUUID)"),
            c("location", "pin/positionInPuck", Text(45), "position in the puck"),
            c("loopType", "pin/loopType", Text(45), "loop type"),
            c("holderLength", "pin/holderLength", Number, "holder length (mm)"),
            c("comments", "derived/sampleComments", Text(1024), "`mxpipe sample <uuid> pid <persistent id>`"),
        ]},
    TableMap { table: "DataCollectionGroup", key: "dataCollectionGroupId", key_is_mapped: false, doc: "one MxExperiment", columns: &[
            c("sessionId", "ref/BLSession", Ref, "session"),
            c("blSampleId", "ref/BLSample", Ref, "sample"),
            c("experimentType", "derived/experimentType", Text(27), "from experimentStrategy / SSX delivery (table below)"),
            c("experimentTypeId", "derived/experimentTypeId", Int, "ExperimentType row of that name"),
            c("startTime", "experiment/startTime", LocalTime, "facility local time"),
            c("endTime", "experiment/endTime", LocalTime, "facility local time"),
            c("actualSampleBarcode", "pin/barcode", Text(45), "pin barcode"),
            c("comments", "derived/experimentComments", Text(1024), "`mxpipe experiment <uuid>` + annotation"),
        ]},
    TableMap { table: "DataCollection", key: "dataCollectionId", key_is_mapped: false, doc: "one contiguous Scan (wedge) of a CollectionSweep: ISPyB holds one oscillation per row", columns: &[
            c("dataCollectionGroupId", "ref/DataCollectionGroup", Ref, "group = experiment"),
            c("SESSIONID", "ref/BLSession", Ref, "session"),
            c("BLSAMPLEID", "ref/BLSample", Ref, "sample"),
            c("dataCollectionNumber", "derived/number", Int, "1, 2, … in acquisition order (scan ordinal) within the experiment"),
            c("startTime", "derived/startTime", LocalTime, "experiment start + exposure of the wedges acquired before (MXLIMS has no per-wedge times)"),
            c("endTime", "derived/endTime", LocalTime, "startTime + this wedge's images × exposure"),
            c("runStatus", "derived/runStatus", Text(45), "`DataCollection Successful` when the experiment Completed, else its jobStatus"),
            c("axisStart", "scan/scanPositionStart", Number, "scan-axis position of the first image (degrees)"),
            c("axisEnd", "derived/axisEnd", Number, "axisStart + images × axisRange (degrees)"),
            c("axisRange", "derived/axisRange", Number, "rotation per image (degrees); 0 for stills/SSX"),
            c("overlap", "derived/overlap", Number, "sweep overlap (degrees), 0 when absent"),
            c("numberOfImages", "scan/numberImages", Int, "images in the wedge"),
            c("startImageNumber", "scan/firstImageNumber", Int, "first image number"),
            c("numberOfPasses", "derived/one", Int, "1"),
            c("exposureTime", "sweep/exposureTime", Number, "seconds per image"),
            c("imageDirectory", "derived/directory", Text(255), "sweep path, ending with `/`"),
            c("imagePrefix", "sweep/prefix", Text(45), "file prefix"),
            c("imageSuffix", "derived/suffix", Text(45), "extension of the file template (`h5`, `cbf`)"),
            c("fileTemplate", "derived/fileTemplate", Text(255), "filenameTemplate with `%06d` written as `######`"),
            c("wavelength", "sweep/energy", EvToAngstrom, "Å = 12398.4198 / energy (eV)"),
            c("resolution", "sweep/resolution", Number, "resolution at the detector edge (Å)"),
            c("detectorDistance", "sweep/axisPositionsStart/detector_distance", Number, "mm"),
            c("xBeam", "derived/xBeam", Number, "beam centre x (mm) = beamPosition[0] (px) × the detector pixel size the files state (`[ispyb] pixel_size_mm` only when they state none, with a warning)"),
            c("yBeam", "derived/yBeam", Number, "beam centre y (mm) = beamPosition[1] (px) × pixel size"),
            c("transmission", "sweep/transmission", Number, "percent (0–100)"),
            c("rotationAxis", "derived/rotationAxis", Text(5), "`Omega`, `Kappa` or `Phi` from scanAxis"),
            c("omegaStart", "derived/omegaStart", Number, "omega at the wedge's first image (degrees)"),
            c("kappaStart", "sweep/axisPositionsStart/kappa", Number, "degrees"),
            c("phiStart", "derived/phiStart", Number, "degrees"),
            c("chiStart", "sweep/axisPositionsStart/chi", Number, "degrees"),
            c("beamSizeAtSampleX", "sweep/beamSize/0", Number, "mm, as MXLIMS beamSize (DLS rows: 0.05 = 50 µm; GridInfo.dx_mm beside it agrees)"),
            c("beamSizeAtSampleY", "sweep/beamSize/1", Number, "mm"),
            c("beamShape", "sweep/beamShape", Text(24), "beam shape"),
            c("comments", "derived/dcComments", Text(1024), "`mxpipe sweep <uuid> scan <ordinal>`"),
        ]},
    TableMap { table: "SSXDataCollection", key: "dataCollectionId", key_is_mapped: true, doc: "the SSX extension of an SSX run's DataCollection", columns: &[
            c("dataCollectionId", "ref/DataCollection", Ref, "= DataCollection"),
            c("repetitionRate", "ssx/frameRateHz", Number, "frames per second (Hz)"),
            c("chipModel", "ssx/sampleHolding", Text(255), "sample holder (chip)"),
            c("chipPattern", "ssx/deliveryDescription", Text(255), "delivery description"),
            c("experimentName", "derived/ssxName", Text(255), "experimentStrategy"),
        ]},
    TableMap { table: "EventChain", key: "eventChainId", key_is_mapped: false, doc: "the exposure sequence of an SSX DataCollection", columns: &[
            c("dataCollectionId", "ref/DataCollection", Ref, "data collection"),
            c("name", "derived/chainName", Text(255), "`exposure sequence`"),
        ]},
    TableMap { table: "Event", key: "eventId", key_is_mapped: false, doc: "one event of the sequence: XrayExposure and XrayDetection, repeated once per frame", columns: &[
            c("eventChainId", "ref/EventChain", Ref, "chain"),
            c("eventTypeId", "derived/eventTypeId", Int, "EventType row (XrayExposure, XrayDetection)"),
            c("name", "derived/eventName", Text(255), "event type name"),
            c("offset", "derived/offset", Number, "s after the data collection start (0)"),
            c("duration", "sweep/exposureTime", Number, "s"),
            c("period", "derived/period", Number, "s between frames = 1 / frameRateHz"),
            c("repetition", "derived/repetition", Number, "number of frames"),
        ]},
    TableMap { table: "ProcessingJob", key: "processingJobId", key_is_mapped: false, doc: "one MxProcessing", columns: &[
            c("dataCollectionId", "ref/DataCollection", Ref, "the first input wedge"),
            c("displayName", "processing/programName", Text(80), "program"),
            c("comments", "derived/processingComments", Text(255), "`mxpipe processing <uuid>`"),
            c("recipe", "derived/recipe", Text(50), "program name"),
            c("automatic", "derived/one", Int, "1"),
        ]},
    TableMap { table: "ProcessingJobImageSweep", key: "processingJobImageSweepId", key_is_mapped: false, doc: "one input wedge of a processing job with the image range it read", columns: &[
            c("processingJobId", "ref/ProcessingJob", Ref, "job"),
            c("dataCollectionId", "ref/DataCollection", Ref, "the wedge"),
            c("startImage", "derived/startImage", Int, "first image read (the reported range clipped to the wedge)"),
            c("endImage", "derived/endImage", Int, "last image read"),
        ]},
    TableMap { table: "AutoProcProgram", key: "autoProcProgramId", key_is_mapped: false, doc: "the program run of an MxProcessing (or the SSX run summary of an SSX experiment)", columns: &[
            c("processingJobId", "ref/ProcessingJob", Ref, "job"),
            c("processingPipelineId", "derived/pipelineId", Int, "ProcessingPipeline by program (table below)"),
            c("processingCommandLine", "derived/commandLine", Text(255), "mxpipe.org commandLine"),
            c("processingPrograms", "derived/programs", Text(255), "program and version"),
            c("processingStatus", "derived/status", Int, "1 Completed, 0 Failed/Aborted, NULL otherwise"),
            c("processingStartTime", "processing/startTime", LocalTime, "facility local time"),
            c("processingEndTime", "processing/endTime", LocalTime, "facility local time"),
            c("jobUuid", "derived/jobUuid", UuidBytes, "the MxProcessing uuid (schema ≥ 5.2)"),
        ]},
    TableMap { table: "AutoProcProgramAttachment", key: "autoProcProgramAttachmentId", key_is_mapped: false, doc: "SSX run-level counts and rates as a JSON file (no ISPyB columns exist for them)", columns: &[
            c("autoProcProgramId", "ref/AutoProcProgram", Ref, "program"),
            c("fileType", "derived/fileType", Text(6), "`Result`"),
            c("fileName", "derived/fileName", Text(255), "`mxpipe-ssx-<uuid>.json`"),
            c("filePath", "derived/filePath", Text(255), "the configured attachment folder"),
        ]},
    TableMap { table: "AutoProc", key: "autoProcId", key_is_mapped: false, doc: "one ReflectionSet: space group and refined cell", columns: &[
            c("autoProcProgramId", "ref/AutoProcProgram", Ref, "program"),
            c("spaceGroup", "set/spaceGroupName", Text(45), "space group"),
            c("refinedCell_a", "set/refinedUnitCell/a", Number, "Å"),
            c("refinedCell_b", "set/refinedUnitCell/b", Number, "Å"),
            c("refinedCell_c", "set/refinedUnitCell/c", Number, "Å"),
            c("refinedCell_alpha", "set/refinedUnitCell/alpha", Number, "degrees"),
            c("refinedCell_beta", "set/refinedUnitCell/beta", Number, "degrees"),
            c("refinedCell_gamma", "set/refinedUnitCell/gamma", Number, "degrees"),
        ]},
    TableMap { table: "AutoProcScaling", key: "autoProcScalingId", key_is_mapped: false, doc: "the scaling of one ReflectionSet", columns: &[c("autoProcId", "ref/AutoProc", Ref, "AutoProc")]},
    TableMap { table: "AutoProcScalingStatistics", key: "autoProcScalingStatisticsId", key_is_mapped: false, doc: "exactly three per scaling: overall (reflectionStatisticsOverall), innerShell (lowest-resolution shell), outerShell (highest-resolution shell)", columns: &[
            c("autoProcScalingId", "ref/AutoProcScaling", Ref, "scaling"),
            c("scalingStatisticsType", "derived/shell", Text(10), "`overall`, `innerShell`, `outerShell`"),
            c("resolutionLimitLow", "stats/resolutionLimits/0", Number, "Å"),
            c("resolutionLimitHigh", "stats/resolutionLimits/1", Number, "Å"),
            c("rMerge", "stats/R_merge", Number, "fraction"),
            c("rMeasAllIPlusIMinus", "stats/R_meas", Number, "fraction"),
            c("rPimAllIPlusIMinus", "stats/R_pim", Number, "fraction"),
            c("nTotalObservations", "stats/numberObservations", Int, "observations"),
            c("nTotalUniqueObservations", "stats/numberObservationsUnique", Int, "unique reflections"),
            c("meanIOverSigI", "stats/I_over_SigI", Number, "mean I/σ(I)"),
            c("completeness", "stats/Completeness", Number, "percent"),
            c("multiplicity", "stats/Redundancy", Number, "multiplicity"),
            c("anomalousCompleteness", "stats/CompletenessAno", Number, "percent"),
            c("anomalousMultiplicity", "stats/RedundancyAno", Number, "multiplicity"),
            c("ccHalf", "stats/CC_one_half", CoefficientToPercent, "percent (MXLIMS: coefficient)"),
            c("ccAnomalous", "stats/CC_ano", CoefficientToPercent, "percent (MXLIMS: coefficient)"),
            c("anomalous", "derived/zero", Int, "0"),
        ]},
    TableMap { table: "AutoProcIntegration", key: "autoProcIntegrationId", key_is_mapped: false, doc: "one input wedge of a processing job (multi-crystal: wedges of several groups and samples)", columns: &[
            c("dataCollectionId", "ref/DataCollection", Ref, "the wedge"),
            c("autoProcProgramId", "ref/AutoProcProgram", Ref, "program"),
            c("startImageNumber", "derived/startImage", Int, "first image integrated"),
            c("endImageNumber", "derived/endImage", Int, "last image integrated"),
            c("cell_a", "derived/cell_a", Number, "Å (first ReflectionSet's refined cell)"),
            c("cell_b", "derived/cell_b", Number, "Å"),
            c("cell_c", "derived/cell_c", Number, "Å"),
            c("cell_alpha", "derived/cell_alpha", Number, "degrees"),
            c("cell_beta", "derived/cell_beta", Number, "degrees"),
            c("cell_gamma", "derived/cell_gamma", Number, "degrees"),
            c("anomalous", "derived/zero", Int, "0"),
        ]},
    TableMap { table: "AutoProcScaling_has_Int", key: "autoProcScaling_has_IntId", key_is_mapped: false, doc: "links each scaling of a job to each of its integrations", columns: &[
            c("autoProcScalingId", "ref/AutoProcScaling", Ref, "scaling"),
            c("autoProcIntegrationId", "ref/AutoProcIntegration", Ref, "integration"),
        ]},
];

/// The map of one table.
pub fn table(name: &str) -> &'static TableMap {
    TABLES
        .iter()
        .find(|t| t.table == name)
        .unwrap_or_else(|| panic!("no ISPyB table map for {name}"))
}

/// DataCollectionGroup.experimentType from the experiment: first match of (needle in
/// experimentStrategy, case-insensitive, → type); SSX by delivery method; else `OSC`.
pub const EXPERIMENT_TYPES: &[(&str, &str)] = &[
    ("ssx.fixed", "SSX-Chip"),
    ("ssx.jet", "SSX-Jet"),
    ("ssx.lcp", "SSX-Jet"),
    ("inverse", "SAD - Inverse Beam"),
    ("mad", "MAD"),
    ("sad", "SAD"),
    ("characteri", "Characterization"),
    ("helical", "Helical"),
    ("mesh", "Mesh"),
    ("multisweep", "Collect - Multiwedge"),
    ("multi-sweep", "Collect - Multiwedge"),
    ("screen", "Screening"),
    ("osc", "OSC"),
];

/// ProcessingPipeline ids (DLS lookups) by program name: first match of (needle, single-sweep id,
/// multi-sweep id).
pub const PIPELINES: &[(&str, i64, i64)] = &[
    ("multiplex", 5, 5),
    ("staraniso", 14, 14),
    ("fast_dp", 3, 3),
    ("fast-dp", 3, 3),
    ("3dii", 7, 16),
    ("xia2", 6, 15),
    ("dials", 6, 15),
    ("autoproc", 8, 8),
    ("dimple", 10, 10),
];

/// DataCollectionGroup.experimentType for an experiment strategy and SSX delivery method.
pub fn experiment_type(strategy: Option<&str>, ssx_delivery: Option<&str>) -> &'static str {
    match ssx_delivery {
        Some("fixed-target") => return "SSX-Chip",
        Some(_) => return "SSX-Jet",
        None => {}
    }
    let s = strategy.unwrap_or("").to_ascii_lowercase();
    EXPERIMENT_TYPES
        .iter()
        .find(|(needle, _)| s.contains(needle))
        .map_or("OSC", |(_, t)| t)
}

/// ProcessingPipeline id for a program and number of input sweeps.
pub fn pipeline_id(program: &str, input_sweeps: usize) -> Option<i64> {
    let p = program.to_ascii_lowercase();
    PIPELINES
        .iter()
        .find(|(needle, _, _)| p.contains(needle))
        .map(|(_, one, many)| if input_sweeps > 1 { *many } else { *one })
}

/// The field map as Markdown (the section of `docs/ispyb.md` a test keeps in sync).
pub fn markdown() -> String {
    let conv = |c: Conv| match c {
        Conv::Number => "number",
        Conv::Int => "integer",
        Conv::Text(_) => "text",
        Conv::EvToAngstrom => "eV → Å",
        Conv::CoefficientToPercent => "coefficient → %",
        Conv::LocalTime => "UTC → local time",
        Conv::UuidBytes => "uuid → 16 bytes",
        Conv::Ref => "primary key",
    };
    let mut out = String::new();
    for t in TABLES {
        out.push_str(&format!(
            "### `{}`\n\nOne row = {}.\n\n| column | from | conversion | meaning |\n|---|---|---|---|\n",
            t.table, t.doc
        ));
        for c in t.columns {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                c.column,
                c.source,
                conv(c.conv),
                c.doc
            ));
        }
        out.push('\n');
    }
    out.push_str("### experimentType\n\n| experimentStrategy contains | DataCollectionGroup.experimentType |\n|---|---|\n");
    for (needle, t) in EXPERIMENT_TYPES {
        out.push_str(&format!("| `{needle}` | {t} |\n"));
    }
    out.push_str("| (SSX delivery `fixed-target` / `jet`, `lcp`) | SSX-Chip / SSX-Jet |\n| (anything else) | OSC |\n\n");
    out.push_str("### processingPipelineId\n\n| program name contains | one input sweep | several |\n|---|---|---|\n");
    for (needle, one, many) in PIPELINES {
        out.push_str(&format!("| `{needle}` | {one} | {many} |\n"));
    }
    out
}
