//! mxpipe's own typed extensions, written under `extensions["mxpipe.org"]` of an MXLIMS object.
//!
//! MXLIMS 0.6.13 has no Session/visit object, no SSX description and no persistent sample
//! identifier beyond `uuid`; these small types fill those gaps. They are namespaced, so any MXLIMS
//! reader can ignore them and mxpipe can read them back without loss.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::objects::MxlimsObject;
use crate::primitives::{AwareDateTime, Domain};

/// The extension domain of mxpipe.
pub const MXPIPE_DOMAIN: &str = "mxpipe.org";

/// Everything mxpipe adds to one object (all parts optional).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MxpipeExtension {
    /// The beamline session (visit) the object belongs to; used on MxExperiment, MxProcessing and Shipment.
    pub session: Option<Session>,
    /// Serial-crystallography run description; used on an MxExperiment.
    pub ssx: Option<SsxRun>,
    /// Persistent sample identity; used on samples and logistical samples.
    pub sample_identity: Option<SampleIdentity>,
    /// Files of each scan of a CollectionSweep whose scans are stored in different files (e.g. one
    /// NXmx master file per wedge of an interleaved collection).
    pub scan_files: Option<Vec<ScanFile>>,
    /// Images a processing job read, as the processing program reports them (used to link the
    /// job to stored sweeps by directory + template + image range); used on MxProcessing.
    pub input_images: Option<Vec<InputImages>>,
    /// Command line of a processing job.
    pub command_line: Option<String>,
    /// Serial-crystallography hit finding and indexing counts of a processing job (PDBx
    /// `pdbx_serial_crystallography_data_reduction`); used on MxProcessing.
    pub ssx_data_reduction: Option<SsxDataReduction>,
    /// Detector pixel size, x then y (mm), as the collection files state it (CBF `Pixel_size`,
    /// NXmx `x_pixel_size`/`y_pixel_size`): what turns `beamPosition` (pixels) into mm. MXLIMS
    /// 0.6.13 has no field for it; used on CollectionSweep.
    pub pixel_size_mm: Option<[f64; 2]>,
    /// Facility and beamline as the collection files name them (NXmx `/entry/source/name`,
    /// `/entry/instrument/name`), used when the experiment's session names none; used on
    /// MxExperiment.
    pub instrument: Option<Instrument>,
    /// The catalogue rows an imported object came from (`mxpipe import ispyb`): its provenance,
    /// as `sources` records the files of an ingest; used on any object.
    pub legacy_source: Option<LegacySource>,
    /// Files a processing job names as its results (AutoProcContainer
    /// `AutoProcProgramAttachment`: logs, MTZ files, tables), by directory and name; the
    /// `result_files` view links each to the ReflectionSet read from it; used on MxProcessing.
    pub result_files: Option<Vec<ResultFile>>,
    /// What an MTZ file's header says beyond the ReflectionSet's own fields (columns, datasets,
    /// batch ranges, history); used on a ReflectionSet read from an MTZ file.
    pub mtz: Option<MtzFile>,
}

/// A file a processing job names as one of its results.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultFile {
    /// Directory, as the job wrote it.
    pub path: String,
    /// File name.
    pub file_name: String,
    /// Kind as the job says, e.g. `Result`, `Log`.
    pub file_type: Option<String>,
}

/// The header of an MTZ file (CCP4 reflection file), as far as a ReflectionSet does not hold it.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MtzFile {
    /// Merged (no batch headers) or unmerged (one batch header per image).
    pub merged: bool,
    /// Columns in file order.
    pub columns: Vec<MtzColumn>,
    /// Project / crystal / dataset hierarchy (dataset 0 is the base dataset of H, K, L).
    pub datasets: Vec<MtzDataset>,
    /// Runs of consecutive batch numbers per dataset (unmerged files): the images a sweep gave.
    pub batch_ranges: Option<Vec<MtzBatchRange>>,
    /// History lines, newest first (e.g. `From AIMLESS, version 0.7.4, run on …`).
    pub history: Option<Vec<String>>,
}

/// One column of an MTZ file.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MtzColumn {
    /// Label, e.g. `IMEAN`.
    pub label: String,
    /// CCP4 column type, e.g. `H` (index), `J` (intensity), `Q` (σ), `B` (batch).
    pub column_type: String,
    /// Smallest value (header), none when the header says NaN.
    pub min: Option<f64>,
    /// Largest value (header).
    pub max: Option<f64>,
    /// Dataset the column belongs to.
    pub dataset_id: i64,
}

/// One dataset of an MTZ file (`PROJECT`, `CRYSTAL`, `DATASET`, `DCELL`, `DWAVEL`).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MtzDataset {
    /// Dataset id.
    pub id: i64,
    /// Project name.
    pub project: String,
    /// Crystal name.
    pub crystal: String,
    /// Dataset name.
    pub dataset: String,
    /// Cell a, b, c (Å), α, β, γ (degrees).
    pub cell: Option<[f64; 6]>,
    /// Wavelength (Å); none when the file says 0.
    pub wavelength_a: Option<f64>,
}

/// A run of consecutive batches (images) of one dataset in an unmerged MTZ file.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MtzBatchRange {
    /// Dataset id of the batches.
    pub dataset_id: i64,
    /// First batch number.
    pub first_batch: i64,
    /// Last batch number.
    pub last_batch: i64,
    /// Rotation at the start of the first batch (degrees).
    pub phi_start_deg: Option<f64>,
    /// Rotation at the end of the last batch (degrees).
    pub phi_end_deg: Option<f64>,
    /// Wavelength of the first batch (Å).
    pub wavelength_a: Option<f64>,
}

/// Where an imported object came from: catalogue, database and the rows' primary keys.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacySource {
    /// Catalogue kind, e.g. `ispyb`.
    pub catalogue: String,
    /// The database, `host:port/database`.
    pub instance: String,
    /// Table, e.g. `DataCollection`.
    pub table: String,
    /// Primary keys of the rows (several DataCollections for one sweep of several wedges).
    pub keys: Vec<i64>,
}

/// Where a collection was made, as its files say.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instrument {
    /// Facility short name (e.g. `DLS` for "Diamond Light Source"): the source's `short_name`
    /// attribute, else the known (or configured) short name of the source name.
    pub facility: Option<String>,
    /// Beamline (e.g. `I04` from "DIAMOND BEAMLINE I04").
    pub beamline: Option<String>,
    /// The source name as written (e.g. `Diamond Light Source`).
    pub source_name: Option<String>,
    /// The instrument name as written (e.g. `DIAMOND BEAMLINE I04`).
    pub instrument_name: Option<String>,
}

/// Hit-finding and indexing counts of a serial-crystallography processing job, with the PDBx
/// `pdbx_serial_crystallography_data_reduction` item each field maps to.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsxDataReduction {
    /// Frames (images or events) processed (`frames_total`).
    #[schemars(range(min = 0))]
    pub frames_total: Option<i64>,
    /// Frames classified as hits (`frame_hits`).
    #[schemars(range(min = 0))]
    pub frame_hits: Option<i64>,
    /// Frames with at least one indexed lattice (`frames_indexed`).
    #[schemars(range(min = 0))]
    pub frames_indexed: Option<i64>,
    /// Hits that failed to index (`frames_failed_index`).
    #[schemars(range(min = 0))]
    pub frames_failed_index: Option<i64>,
    /// Lattices indexed, several per frame possible (`lattices_indexed`).
    #[schemars(range(min = 0))]
    pub lattices_indexed: Option<i64>,
    /// Lattices merged into the final data (`lattices_merged`).
    #[schemars(range(min = 0))]
    pub lattices_merged: Option<i64>,
    /// Indexing methods used, as the program names them (e.g. `xgandalf`).
    pub indexing_methods: Option<Vec<String>>,
    /// The per-frame file the counts were taken from (e.g. a CrystFEL stream); its frames are in
    /// the store's `ssx_frames` and `ssx_lattices` tables.
    pub frames_file: Option<String>,
}

impl SsxDataReduction {
    /// Hit rate as a fraction (0..1): frame hits / frames.
    pub fn hit_rate(&self) -> Option<f64> {
        match (self.frame_hits, self.frames_total) {
            (Some(h), Some(t)) if t > 0 => Some(h as f64 / t as f64),
            _ => None,
        }
    }
    /// Indexing rate as a fraction of hits (0..1): indexed frames / frame hits.
    pub fn indexing_rate(&self) -> Option<f64> {
        match (self.frames_indexed, self.frame_hits) {
            (Some(i), Some(h)) if h > 0 => Some(i as f64 / h as f64),
            _ => None,
        }
    }
}

/// A range of images read by a processing job.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputImages {
    /// Image directory.
    pub path: String,
    /// File name template, e.g. `x_1_%05d.cbf` (or the master file name).
    pub filename_template: String,
    /// First image number read.
    pub first_image_number: i64,
    /// Last image number read.
    pub last_image_number: i64,
    /// ISPyB dataCollectionId, when the program reports one.
    pub data_collection_id: Option<i64>,
}

/// Where the images of one scan are stored.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanFile {
    /// Ordinal of the scan (as in `scans[].ordinal`).
    pub ordinal: i64,
    /// Directory.
    pub path: String,
    /// File name or template, e.g. `wedge_3_master.h5`.
    pub filename_template: String,
    /// Number of the scan's first image within that file (1-based).
    #[schemars(range(min = 1))]
    pub first_image_in_file: i64,
    /// The image data files the file's frames are in, in order (an NXmx master's `/entry/data`
    /// links), when known.
    pub data_files: Option<Vec<DataFile>>,
}

/// One image data file of an NXmx master.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataFile {
    /// File name, relative to the master's directory (as the link names it).
    pub file_name: String,
    /// Frames it holds (unknown when the file was missing at ingest).
    #[schemars(range(min = 0))]
    pub frames: Option<i64>,
}

/// A beamline session (ISPyB BLSession, ICAT Investigation visit, SciCat proposal + visit).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Session {
    /// Proposal code and number as the facility writes it, e.g. `mx23694`, `MX-2345`.
    pub proposal_code: String,
    /// Visit (session) number within the proposal (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub visit_number: Option<i64>,
    /// Facility, e.g. `DLS`, `ESRF`, `MAX IV`.
    pub facility: Option<String>,
    /// Beamline, e.g. `i03`, `ID30A-1`, `BioMAX`.
    pub beamline: Option<String>,
    /// Session start (with time zone).
    pub start_time: Option<AwareDateTime>,
    /// Session end (with time zone).
    pub end_time: Option<AwareDateTime>,
}

impl Session {
    /// Parse a visit label: `mx23694-12` → proposal `mx23694`, visit 12; a label without a
    /// numeric suffix is a proposal only.
    pub fn parse_label(text: &str) -> Result<Session, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("expected a visit such as mx23694-12".into());
        }
        let (proposal, visit) = match text.rsplit_once('-') {
            Some((p, v))
                if !p.is_empty() && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) =>
            {
                (p, v.parse::<i64>().ok())
            }
            _ => (text, None),
        };
        Ok(Session {
            proposal_code: proposal.to_owned(),
            visit_number: visit,
            facility: None,
            beamline: None,
            start_time: None,
            end_time: None,
        })
    }

    /// The visit label used by ISPyB and ICAT, e.g. `mx23694-12`.
    pub fn visit_label(&self) -> String {
        match self.visit_number {
            Some(n) => format!("{}-{}", self.proposal_code, n),
            None => self.proposal_code.clone(),
        }
    }
}

/// How serial crystals were brought into the beam (PDBx
/// `pdbx_serial_crystallography_sample_delivery.method`: `fixed target`, `injection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeliveryMethod {
    /// Crystals on a chip or other fixed target (PDBx `fixed target`).
    #[serde(rename = "fixed-target")]
    FixedTarget,
    /// Liquid jet injection (PDBx `injection`).
    #[serde(rename = "jet")]
    Jet,
    /// High-viscosity (lipidic cubic phase) extrusion (PDBx `injection`).
    #[serde(rename = "lcp")]
    Lcp,
}

impl DeliveryMethod {
    /// The PDBx `pdbx_serial_crystallography_sample_delivery.method` value.
    pub fn pdbx_method(self) -> &'static str {
        match self {
            DeliveryMethod::FixedTarget => "fixed target",
            DeliveryMethod::Jet | DeliveryMethod::Lcp => "injection",
        }
    }
}

/// A serial-crystallography run, with the PDBx `pdbx_serial_crystallography_*` items that describe it.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsxRun {
    /// Delivery method.
    pub delivery_method: DeliveryMethod,
    /// Free description of the delivery (`..._sample_delivery.description`).
    pub delivery_description: Option<String>,
    /// Fixed-target support, e.g. chip type (`..._fixed_target.sample_holding`).
    pub sample_holding: Option<String>,
    /// Sample unit (aperture/well) size in µm (`..._fixed_target.sample_unit_size`).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub sample_unit_size_um: Option<f64>,
    /// Injector nozzle (`..._injection.injector_nozzle`).
    pub injector_nozzle: Option<String>,
    /// Jet diameter in µm (`..._injection.jet_diameter`).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub jet_diameter_um: Option<f64>,
    /// Flow rate in µl/min (`..._injection.flow_rate`).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub flow_rate_ul_per_min: Option<f64>,
    /// Carrier solvent (`..._injection.carrier_solvent`).
    pub carrier_solvent: Option<String>,
    /// Detector frame rate in Hz (`diffrn_detector.pdbx_frequency`).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub frame_rate_hz: Option<f64>,
    /// Total collection time in s (`..._measurement.collection_time_total`).
    #[schemars(range(min = 0))]
    pub collection_time_total_s: Option<f64>,
    /// Frames recorded (`..._data_reduction.frames_total`).
    #[schemars(range(min = 0))]
    pub frames_total: Option<i64>,
    /// Frames with a hit (`..._data_reduction.crystal_hits`).
    #[schemars(range(min = 0))]
    pub crystal_hits: Option<i64>,
    /// Frames indexed (`..._data_reduction.frames_indexed`).
    #[schemars(range(min = 0))]
    pub frames_indexed: Option<i64>,
    /// Lattices indexed (`..._data_reduction.lattices_indexed`).
    #[schemars(range(min = 0))]
    pub lattices_indexed: Option<i64>,
    /// Lattices merged (`..._data_reduction.lattices_merged`).
    #[schemars(range(min = 0))]
    pub lattices_merged: Option<i64>,
}

impl SsxRun {
    /// Hit rate as a fraction (0..1), if frames and hits are known.
    pub fn hit_rate(&self) -> Option<f64> {
        match (self.crystal_hits, self.frames_total) {
            (Some(h), Some(t)) if t > 0 => Some(h as f64 / t as f64),
            _ => None,
        }
    }
    /// Indexing rate as a fraction of hits (0..1), if known.
    pub fn indexing_rate(&self) -> Option<f64> {
        match (self.frames_indexed, self.crystal_hits) {
            (Some(i), Some(h)) if h > 0 => Some(i as f64 / h as f64),
            _ => None,
        }
    }
}

/// Persistent identity of a sample, distinct from its (reusable) barcode.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampleIdentity {
    /// Persistent identifier, e.g. an IGSN (`10.58052/IEXXX0001`), a handle or `urn:uuid:...`.
    /// Never reused, unlike a barcode.
    #[schemars(length(min = 1))]
    pub pid: String,
    /// Scheme of the PID: `igsn`, `handle`, `doi`, `urn`, or a facility name.
    pub scheme: Option<String>,
    /// The barcode seen on the physical item when this identity was assigned.
    pub barcode_at_assignment: Option<String>,
}

/// Read the mxpipe extension of an object: `Ok(None)` when absent, `Err` with a message when the
/// extension is present but does not match the typed layout.
pub fn mxpipe_extension(object: &dyn MxlimsObject) -> Result<Option<MxpipeExtension>, String> {
    let Some(ext) = object.extensions() else {
        return Ok(None);
    };
    let Some((_, fields)) = ext
        .iter()
        .find(|(d, _)| d.as_str().eq_ignore_ascii_case(MXPIPE_DOMAIN))
    else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::Object(fields.clone()))
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Write (or with `None`, remove) the mxpipe extension of an object.
pub fn set_mxpipe_extension(object: &mut dyn MxlimsObject, value: Option<&MxpipeExtension>) {
    let domain = Domain::parse(MXPIPE_DOMAIN).expect("mxpipe.org is a domain");
    let slot = object.extensions_mut();
    match value {
        Some(v) => {
            let serde_json::Value::Object(fields) = serde_json::to_value(v).expect("serialisable")
            else {
                unreachable!("a struct serialises to an object")
            };
            slot.get_or_insert_with(Default::default)
                .insert(domain, fields);
        }
        None => {
            if let Some(map) = slot {
                map.shift_remove(&domain);
                if map.is_empty() {
                    *slot = None;
                }
            }
        }
    }
}
