//! Every table of the store, with its columns, types and documentation — the one place the store
//! layout is defined. `docs/store.md` is generated from here (`mxpipe store describe --markdown`).
//!
//! Every row carries `site` and `ingest_id`; a row is visible only when its ingest's record in
//! `ingests` has committed. Units are in column names (`_s`, `_deg`, `_ev`, `_a` = Å, `_mm`, `_px`,
//! `_pct`, `_um`, `_hz`) or stated in the column's documentation.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column type in a table definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// UTF-8 text.
    Text,
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// UTC timestamp, microseconds.
    Time,
    /// Binary.
    Bytes,
    /// List of text.
    TextList,
}

/// A column: name, type, nullable, documentation.
pub type Column = (&'static str, Col, bool, &'static str);

/// A table of the store.
pub struct TableDef {
    /// Folder name under the store root.
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// Columns after the common `site` and `ingest_id`.
    pub columns: &'static [Column],
}

const SITE: Column = (
    "site",
    Col::Text,
    false,
    "facility / site the row belongs to (set by `--site`)",
);
const INGEST: Column = (
    "ingest_id",
    Col::Text,
    false,
    "ingest run that wrote the row; visible once that run is in `ingests`",
);

impl TableDef {
    /// All columns including `site` and `ingest_id`.
    pub fn all_columns(&self) -> Vec<Column> {
        let mut out = vec![SITE, INGEST];
        out.extend_from_slice(self.columns);
        out
    }
    /// The Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .all_columns()
            .into_iter()
            .map(|(name, col, nullable, _)| {
                let ty = match col {
                    Col::Text => DataType::Utf8,
                    Col::Int => DataType::Int64,
                    Col::Float => DataType::Float64,
                    Col::Bool => DataType::Boolean,
                    Col::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    Col::Bytes => DataType::Binary,
                    Col::TextList => {
                        DataType::List(Arc::new(Field::new("element", DataType::Utf8, true)))
                    }
                };
                Field::new(name, ty, nullable)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

use Col::*;

/// The commit record of each ingest run; written last, so it is the visibility switch.
#[rustfmt::skip]
pub const INGESTS: TableDef = TableDef {
    name: "ingests",
    doc: "one committed ingest run",
    columns: &[
        ("started_at", Time, false, "when the run started (UTC)"),
        ("committed_at", Time, false, "when the run committed (UTC); later commits are newer versions"),
        ("user_name", Text, true, "operating-system user that ran the ingest"),
        ("host", Text, true, "host name"),
        ("tool_version", Text, false, "mxpipe version"),
        ("command", Text, true, "command line"),
        ("n_sources", Int, false, "source files read"),
        ("n_objects_new", Int, false, "objects stored for the first time"),
        ("n_objects_changed", Int, false, "objects stored as a new version (same uuid, new content)"),
        ("n_objects_unchanged", Int, false, "objects already stored with the same content (not written again)"),
    ],
};

/// Source files of each ingest.
#[rustfmt::skip]
pub const SOURCES: TableDef = TableDef {
    name: "sources",
    doc: "one source file read by an ingest run",
    columns: &[
        ("path", Text, false, "path as given to `mxpipe ingest`, made absolute"),
        ("sha256", Text, false, "SHA-256 of the file content (hex)"),
        ("bytes", Int, false, "file size in bytes"),
        ("format", Text, false, "reader that read it (`mxpipe formats` lists them: mxlims, nxmx, cbf, autoproc-xml, …)"),
        ("message_id", Text, false, "message the file contributed to"),
    ],
};

/// The MXLIMS message of each ingest, compressed: the lossless fallback.
#[rustfmt::skip]
pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    doc: "one MXLIMS message as stored (read from a file or assembled from collection files)",
    columns: &[
        ("message_id", Text, false, "SHA-256 of the message JSON (hex)"),
        ("kind", Text, false, "MxlimsMessage, MxlimsMessageStrict or ShipmentMessage"),
        ("source_paths", TextList, false, "files the message came from"),
        ("json_bytes", Int, false, "size of the uncompressed JSON in bytes"),
        ("json_zstd", Bytes, false, "the message JSON exactly as ingested, zstd-compressed"),
    ],
};

/// Every MXLIMS object, all types, with its exact JSON.
#[rustfmt::skip]
pub const OBJECTS: TableDef = TableDef {
    name: "objects",
    doc: "one version of one MXLIMS object (any type)",
    columns: &[
        ("uuid", Text, false, "object uuid (minted deterministically when the message had none)"),
        ("uuid_minted", Bool, false, "true when mxpipe minted the uuid (it is left out again on export)"),
        ("mxlims_type", Text, false, "concrete type, e.g. CollectionSweep"),
        ("core_class", Text, false, "Job, Dataset, Sample or LogisticalSample"),
        ("message_id", Text, false, "message the version came from"),
        ("message_key", Text, false, "key in that message, e.g. CollectionSweep2"),
        ("content_sha256", Text, false, "SHA-256 of the object's canonical JSON; with uuid the idempotency key"),
        ("name", Text, true, "name, if the type has one"),
        ("annotation", Text, true, "free-text annotation"),
        ("object_json", Text, false, "the object exactly as in the message (links as `#/Type/Key`)"),
    ],
};

/// Links between objects.
#[rustfmt::skip]
pub const LINKS: TableDef = TableDef {
    name: "links",
    doc: "one link (`$ref`) from an object version to another object",
    columns: &[
        ("from_uuid", Text, false, "object holding the link"),
        ("from_type", Text, false, "its type"),
        ("field", Text, false, "link field: sampleRef, containerRef, sourceRef, inputDataRefs, ..."),
        ("list_index", Int, true, "position in a list field (inputDataRefs[i]); null for single links"),
        ("to_uuid", Text, true, "target uuid (null only if the target had no uuid and was not in the message)"),
        ("to_type", Text, false, "target type from the reference"),
        ("to_key", Text, false, "target key in the message"),
    ],
};

/// Identifiers and URLs.
#[rustfmt::skip]
pub const IDENTIFIERS: TableDef = TableDef {
    name: "identifiers",
    doc: "one identifier or URL of an object, keyed by the issuing domain",
    columns: &[
        ("object_uuid", Text, false, "object"),
        ("kind", Text, false, "identifier or url"),
        ("domain", Text, false, "issuing organisation's domain, as written"),
        ("value", Text, false, "identifier or URL"),
    ],
};

/// Extensions by domain.
#[rustfmt::skip]
pub const EXTENSIONS: TableDef = TableDef {
    name: "extensions",
    doc: "one extension block of an object (all domains, including mxpipe.org)",
    columns: &[
        ("object_uuid", Text, false, "object"),
        ("domain", Text, false, "owning organisation's domain, as written"),
        ("fields_json", Text, false, "the extension fields as JSON"),
    ],
};

/// Jobs: experiments, processing, volume scans.
#[rustfmt::skip]
pub const JOBS: TableDef = TableDef {
    name: "jobs",
    doc: "one version of a Job (MxExperiment, MxProcessing, VolumeScan)",
    columns: &[
        ("uuid", Text, false, "job uuid"),
        ("mxlims_type", Text, false, "MxExperiment, MxProcessing or VolumeScan"),
        ("start_time", Time, true, "start (UTC)"),
        ("end_time", Time, true, "end (UTC)"),
        ("start_time_text", Text, true, "start as written, with its original offset"),
        ("job_status", Text, true, "Template, Ready, Running, Completed, Failed, Aborted"),
        ("experiment_strategy", Text, true, "MxExperiment.experimentStrategy"),
        ("experiment_type", Text, true, "VolumeScan.experimentType"),
        ("program_name", Text, true, "MxProcessing.programName"),
        ("program_version", Text, true, "MxProcessing.programVersion"),
        ("sample_uuid", Text, true, "sample (sampleRef)"),
        ("logistical_sample_uuid", Text, true, "crystal/pin/... (logisticalSampleRef)"),
        ("started_from_uuid", Text, true, "parent job (startedFromRef)"),
        ("space_group", Text, true, "expected (experiment) or input (processing) space group, in one spelling (as reflection_sets.space_group)"),
        ("expected_resolution_a", Float, true, "MxExperiment.expectedResolution (Å)"),
        ("cell_a_a", Float, true, "expected (experiment) or input/indexed (processing) cell a (Å)"),
        ("cell_b_a", Float, true, "cell b (Å)"),
        ("cell_c_a", Float, true, "cell c (Å)"),
        ("cell_alpha_deg", Float, true, "cell alpha (degrees)"),
        ("cell_beta_deg", Float, true, "cell beta (degrees)"),
        ("cell_gamma_deg", Float, true, "cell gamma (degrees)"),
        ("visit", Text, true, "session label proposal-visit from the mxpipe.org session extension"),
        ("file_facility", Text, true, "facility as the collection files name it (NXmx source; mxpipe.org instrument extension)"),
        ("file_beamline", Text, true, "beamline as the collection files name it (NXmx instrument name)"),
    ],
};

/// Collection sweeps with typed columns.
#[rustfmt::skip]
pub const SWEEPS: TableDef = TableDef {
    name: "sweeps",
    doc: "one version of a CollectionSweep",
    columns: &[
        ("uuid", Text, false, "sweep uuid"),
        ("experiment_uuid", Text, true, "experiment that produced it (sourceRef)"),
        ("derived_from_uuid", Text, true, "sweep it was derived from (derivedFromRef)"),
        ("logistical_sample_uuid", Text, true, "crystal/pin/... (logisticalSampleRef)"),
        ("role", Text, true, "Result, Characterisation, Centring, ..."),
        ("sweep_type", Text, true, "simple, mesh, line, helical, ..."),
        ("scan_axis", Text, false, "scan axis name, e.g. omega"),
        ("exposure_time_s", Float, true, "exposure per image (s)"),
        ("image_width_deg", Float, true, "rotation per image (degrees)"),
        ("overlap_deg", Float, true, "overlap (degrees)"),
        ("number_images", Int, true, "images in the sweep"),
        ("energy_as_written", Float, true, "`energy` exactly as in the message (MXLIMS says eV; examples use keV)"),
        ("energy_ev", Float, true, "beam energy in eV (values below 1000 are read as keV and converted)"),
        ("wavelength_a", Float, true, "wavelength in Å = 12398.4198 / energy_ev"),
        ("transmission_pct", Float, true, "transmission (%)"),
        ("resolution_a", Float, true, "resolution at the detector edge (Å)"),
        ("detector_distance_mm", Float, true, "axisPositionsStart.detector_distance (mm) when present"),
        ("beam_position_x_px", Float, true, "beam centre x (pixels)"),
        ("beam_position_y_px", Float, true, "beam centre y (pixels)"),
        ("beam_size_h_mm", Float, true, "beam size, horizontal (mm)"),
        ("beam_size_v_mm", Float, true, "beam size, vertical (mm)"),
        ("detector_type", Text, true, "detector type (mmCIF diffrn_detector.type)"),
        ("file_type", Text, true, "file type, e.g. HDF5, cbf"),
        ("prefix", Text, true, "file prefix"),
        ("filename_template", Text, true, "file name template, e.g. x_1_%04d.cbf"),
        ("path", Text, true, "image directory"),
        ("number_scans", Int, false, "scans (wedges) in the sweep"),
        ("pixel_size_x_mm", Float, true, "detector pixel size x (mm) as the files state it (mxpipe.org extension)"),
        ("pixel_size_y_mm", Float, true, "detector pixel size y (mm)"),
    ],
};

/// Scans (wedges) in acquisition order.
#[rustfmt::skip]
pub const SCANS: TableDef = TableDef {
    name: "scans",
    doc: "one scan (wedge) of a sweep version",
    columns: &[
        ("sweep_uuid", Text, false, "sweep"),
        ("experiment_uuid", Text, true, "experiment of the sweep; ordinals are unique within it"),
        ("list_index", Int, false, "position in the sweep's scans list"),
        ("ordinal", Int, false, "acquisition order across the experiment"),
        ("scan_position_start", Float, false, "scan-axis position of the first image (degrees or mm)"),
        ("first_image_number", Int, false, "first image number"),
        ("number_images", Int, false, "images in the scan"),
        ("last_image_number", Int, false, "first_image_number + number_images - 1"),
    ],
};

/// The file holding each scan, for sweeps whose scans are in different files.
#[rustfmt::skip]
pub const SCAN_FILES: TableDef = TableDef {
    name: "scan_files",
    doc: "the file holding one scan of a sweep whose scans are in different files (e.g. one NXmx master per wedge), from the mxpipe.org scanFiles extension",
    columns: &[
        ("sweep_uuid", Text, false, "sweep"),
        ("ordinal", Int, false, "acquisition ordinal of the scan"),
        ("path", Text, false, "directory"),
        ("filename_template", Text, false, "file name or template, e.g. wedge_3_master.h5"),
        ("first_image_in_file", Int, false, "number (1-based) of the scan's first image within that file"),
    ],
};

/// The image data files of each scan's file (NXmx `/entry/data` links).
#[rustfmt::skip]
pub const DATA_FILES: TableDef = TableDef {
    name: "data_files",
    doc: "one image data file linked from the master that holds a scan (NXmx /entry/data/data_NNNNNN), with the frames of the master it holds",
    columns: &[
        ("sweep_uuid", Text, false, "sweep"),
        ("ordinal", Int, false, "acquisition ordinal of the scan"),
        ("list_index", Int, false, "position among the master's data files (0-based)"),
        ("file_name", Text, false, "data file name, relative to the master's directory"),
        ("first_frame", Int, true, "master frame (1-based) of the file's first frame; unknown after a file of unknown size"),
        ("frames", Int, true, "frames in the file (unknown when it was missing at ingest)"),
    ],
};

/// Axis positions with free axis names.
#[rustfmt::skip]
pub const AXIS_POSITIONS: TableDef = TableDef {
    name: "axis_positions",
    doc: "one axis position at the start or end of a sweep version",
    columns: &[
        ("sweep_uuid", Text, false, "sweep"),
        ("which", Text, false, "start or end"),
        ("axis", Text, false, "axis name as written (omega, kappa, kappa_phi, sampx, detector_distance, ...)"),
        ("value", Float, false, "position (degrees for rotations, mm for translations)"),
    ],
};

/// Image files, one row per contiguous run of images.
#[rustfmt::skip]
pub const IMAGE_SERIES: TableDef = TableDef {
    name: "image_series",
    doc: "one contiguous run of image numbers of a file series used by a scan; a series (path + template) may span several sweeps and have gaps",
    columns: &[
        ("series_id", Text, false, "first 16 hex digits of SHA-256(path + NUL + template)"),
        ("path", Text, true, "directory"),
        ("filename_template", Text, false, "template, e.g. x_%06d.h5"),
        ("sweep_uuid", Text, false, "sweep"),
        ("scan_list_index", Int, false, "scan within the sweep"),
        ("ordinal", Int, false, "acquisition ordinal of the scan"),
        ("first_image_number", Int, false, "first image number of the run"),
        ("last_image_number", Int, false, "last image number of the run"),
    ],
};

/// Samples with persistent identifiers.
#[rustfmt::skip]
pub const SAMPLES: TableDef = TableDef {
    name: "samples",
    doc: "one version of a Sample (MacromoleculeSample, Macromolecule, Medium)",
    columns: &[
        ("uuid", Text, false, "sample uuid"),
        ("mxlims_type", Text, false, "MacromoleculeSample, Macromolecule or Medium"),
        ("name", Text, true, "name"),
        ("acronym", Text, true, "acronym"),
        ("parent_uuid", Text, true, "macromolecule (parentSampleRef)"),
        ("medium_uuid", Text, true, "medium (mediumRef)"),
        ("pid", Text, true, "persistent identifier (mxpipe.org sampleIdentity), never reused"),
        ("pid_scheme", Text, true, "igsn, handle, doi, urn, ..."),
    ],
};

/// Logistical samples with barcodes and positions.
#[rustfmt::skip]
pub const LOGISTICAL_SAMPLES: TableDef = TableDef {
    name: "logistical_samples",
    doc: "one version of a LogisticalSample (Shipment, Dewar, Puck, Pin, MultiPin, PinPosition, Plate, PlateWell, WellDrop, DropRegion, Crystal)",
    columns: &[
        ("uuid", Text, false, "uuid"),
        ("mxlims_type", Text, false, "type"),
        ("name", Text, true, "name"),
        ("barcode", Text, true, "barcode (may be reused over time; see pid)"),
        ("container_uuid", Text, true, "container (containerRef)"),
        ("sample_uuid", Text, true, "sample (sampleRef)"),
        ("position", Int, true, "positionInDewar / positionInPuck / positionInPin / dropNumber"),
        ("row_number", Int, true, "PlateWell row"),
        ("column_number", Int, true, "PlateWell column"),
        ("proposal_code", Text, true, "Shipment proposal code"),
        ("pid", Text, true, "persistent identifier (mxpipe.org sampleIdentity)"),
        ("pid_scheme", Text, true, "PID scheme"),
    ],
};

/// Sessions (visits) from the mxpipe.org extension.
#[rustfmt::skip]
pub const SESSIONS: TableDef = TableDef {
    name: "sessions",
    doc: "one session (visit) attached to an object through the mxpipe.org extension",
    columns: &[
        ("object_uuid", Text, false, "object carrying the session (experiment, processing, shipment)"),
        ("proposal_code", Text, false, "proposal"),
        ("visit_number", Int, true, "visit number"),
        ("visit", Text, false, "label proposal-visit"),
        ("facility", Text, true, "facility"),
        ("beamline", Text, true, "beamline"),
        ("start_time", Time, true, "session start (UTC)"),
        ("end_time", Time, true, "session end (UTC)"),
    ],
};

/// SSX runs from the mxpipe.org extension.
#[rustfmt::skip]
pub const SSX_RUNS: TableDef = TableDef {
    name: "ssx_runs",
    doc: "one serial-crystallography run (mxpipe.org ssx extension of an MxExperiment)",
    columns: &[
        ("experiment_uuid", Text, false, "experiment"),
        ("delivery_method", Text, false, "fixed-target, jet or lcp"),
        ("pdbx_method", Text, false, "PDBx sample_delivery.method: fixed target or injection"),
        ("sample_holding", Text, true, "chip / support"),
        ("sample_unit_size_um", Float, true, "aperture/well size (µm)"),
        ("jet_diameter_um", Float, true, "jet diameter (µm)"),
        ("flow_rate_ul_per_min", Float, true, "flow rate (µl/min)"),
        ("frame_rate_hz", Float, true, "detector frame rate (Hz)"),
        ("collection_time_total_s", Float, true, "total collection time (s)"),
        ("frames_total", Int, true, "frames recorded"),
        ("crystal_hits", Int, true, "frames with a hit"),
        ("frames_indexed", Int, true, "frames indexed"),
        ("lattices_indexed", Int, true, "lattices indexed"),
        ("lattices_merged", Int, true, "lattices merged"),
        ("hit_rate", Float, true, "crystal_hits / frames_total (fraction 0..1)"),
        ("indexing_rate", Float, true, "frames_indexed / crystal_hits (fraction 0..1)"),
    ],
};

/// Reflection sets (processing results).
#[rustfmt::skip]
pub const REFLECTION_SETS: TableDef = TableDef {
    name: "reflection_sets",
    doc: "one version of a ReflectionSet",
    columns: &[
        ("uuid", Text, false, "reflection set uuid"),
        ("processing_uuid", Text, true, "processing job that produced it (sourceRef)"),
        ("space_group", Text, true, "space group in one spelling (the PDB's for chiral groups, e.g. `P 3 2 1` for `P321`; others as written; the object JSON keeps it as written)"),
        ("cell_a_a", Float, true, "refined cell a (Å)"),
        ("cell_b_a", Float, true, "refined cell b (Å)"),
        ("cell_c_a", Float, true, "refined cell c (Å)"),
        ("cell_alpha_deg", Float, true, "refined cell alpha (degrees)"),
        ("cell_beta_deg", Float, true, "refined cell beta (degrees)"),
        ("cell_gamma_deg", Float, true, "refined cell gamma (degrees)"),
        ("wavelength_a", Float, true, "first wavelength (Å)"),
        ("operational_resolution_a", Float, true, "operational resolution (Å)"),
        ("number_reflections", Int, true, "reflections measured"),
        ("number_reflections_unique", Int, true, "unique reflections"),
        ("file_type", Text, true, "reflection file type"),
        ("filename", Text, true, "reflection file name"),
        ("path", Text, true, "reflection file directory"),
        ("anisotropic", Bool, true, "anisotropicDiffraction: true for an anisotropic (e.g. STARANISO) result, false for the isotropic one beside it"),
        ("position", Int, true, "the set's place among its program's results (ReflectionSet<n> of the message: autoPROC's scaling-container order)"),
        ("diffraction_limit_1_a", Float, true, "diffraction-limit ellipsoid, first eigenvalue (Å; diffractionLimitsEstimated)"),
        ("diffraction_limit_2_a", Float, true, "second eigenvalue (Å)"),
        ("diffraction_limit_3_a", Float, true, "third eigenvalue (Å)"),
    ],
};

/// Reflection statistics per shell.
#[rustfmt::skip]
pub const REFLECTION_STATISTICS: TableDef = TableDef {
    name: "reflection_statistics",
    doc: "one statistics block (overall or one resolution shell) of a ReflectionSet version",
    columns: &[
        ("reflection_set_uuid", Text, false, "reflection set"),
        ("shell", Text, false, "overall, inner (first shell), outer (last shell) or shell (any other)"),
        ("shell_index", Int, true, "position in reflectionStatisticsShells (low to high resolution); null for overall"),
        ("resolution_low_a", Float, false, "low-resolution limit (Å)"),
        ("resolution_high_a", Float, false, "high-resolution limit (Å)"),
        ("number_observations", Int, true, "observations"),
        ("number_observations_unique", Int, true, "unique observations"),
        ("r_merge", Float, true, "R_merge (fraction)"),
        ("r_meas", Float, true, "R_meas (fraction)"),
        ("r_pim", Float, true, "R_pim (fraction)"),
        ("i_over_sigma", Float, true, "mean I/σ(I)"),
        ("cc_half", Float, true, "CC½ as a correlation coefficient (-1..1)"),
        ("cc_ano", Float, true, "anomalous CC as a correlation coefficient (-1..1)"),
        ("sig_ano", Float, true, "mean |ΔF|/σ (SigAno)"),
        ("completeness_pct", Float, true, "completeness (%)"),
        ("multiplicity", Float, true, "multiplicity (Redundancy)"),
        ("completeness_ano_pct", Float, true, "anomalous completeness (%)"),
        ("multiplicity_ano", Float, true, "anomalous multiplicity"),
        ("completeness_spherical_pct", Float, true, "completeness within a sphere (%; STARANISO)"),
        ("completeness_ellipsoidal_pct", Float, true, "completeness within the diffraction-limit ellipsoid (%; STARANISO)"),
        ("completeness_ano_spherical_pct", Float, true, "anomalous completeness, spherical (%)"),
        ("completeness_ano_ellipsoidal_pct", Float, true, "anomalous completeness, ellipsoidal (%)"),
    ],
};

/// Inputs of processing jobs.
#[rustfmt::skip]
pub const PROCESSING_INPUTS: TableDef = TableDef {
    name: "processing_inputs",
    doc: "one input of a processing job version: a linked sweep (inputDataRefs) or an image range the program reported (mxpipe.org inputImages); image ranges are matched to sweeps through image_series at query time, so a collection ingested later links automatically",
    columns: &[
        ("processing_uuid", Text, false, "processing job"),
        ("list_index", Int, false, "position among the job's inputs"),
        ("kind", Text, false, "sweep (inputDataRefs) or images (inputImages)"),
        ("sweep_uuid", Text, true, "linked sweep (inputDataRefs)"),
        ("path", Text, true, "image directory (images)"),
        ("filename_template", Text, true, "file name template (images)"),
        ("first_image_number", Int, true, "first image read (images)"),
        ("last_image_number", Int, true, "last image read (images)"),
        ("data_collection_id", Int, true, "ISPyB dataCollectionId, if reported"),
    ],
};

/// Files processing jobs name as their results.
#[rustfmt::skip]
pub const RESULT_FILES: TableDef = TableDef {
    name: "result_files",
    doc: "one file a processing job version names as its result (AutoProcContainer AutoProcProgramAttachment: MTZ files, logs); the result_files view links each to the ReflectionSet read from that file (same directory and name), whenever either was ingested",
    columns: &[
        ("processing_uuid", Text, false, "processing job"),
        ("list_index", Int, false, "position among the job's result files"),
        ("path", Text, false, "directory, as the job wrote it"),
        ("file_name", Text, false, "file name"),
        ("file_type", Text, true, "kind as the job says (Result, Log, …)"),
    ],
};

/// SSX hit-finding/indexing counts of processing jobs.
#[rustfmt::skip]
pub const SSX_DATA_REDUCTION: TableDef = TableDef {
    name: "ssx_data_reduction",
    doc: "the serial-crystallography counts of one processing job version (mxpipe.org ssxDataReduction of an MxProcessing; PDBx pdbx_serial_crystallography_data_reduction)",
    columns: &[
        ("processing_uuid", Text, false, "processing job"),
        ("frames_total", Int, true, "frames (images or events) processed"),
        ("frame_hits", Int, true, "frames classified as hits"),
        ("frames_indexed", Int, true, "frames with at least one indexed lattice"),
        ("frames_failed_index", Int, true, "hits that failed to index"),
        ("lattices_indexed", Int, true, "lattices indexed"),
        ("lattices_merged", Int, true, "lattices merged"),
        ("hit_rate", Float, true, "frame_hits / frames_total (fraction 0..1)"),
        ("indexing_rate", Float, true, "frames_indexed / frame_hits (fraction 0..1)"),
        ("indexing_methods", TextList, true, "indexing methods as the program names them"),
        ("frames_file", Text, true, "per-frame file the counts come from (rows in ssx_frames)"),
    ],
};

/// One frame (image or event) of an SSX processing run.
#[rustfmt::skip]
pub const SSX_FRAMES: TableDef = TableDef {
    name: "ssx_frames",
    doc: "one frame (image or detector event) of a serial-crystallography processing job, from its per-frame output (e.g. one CrystFEL stream chunk); written in bulk, not part of the MXLIMS message",
    columns: &[
        ("processing_uuid", Text, false, "processing job"),
        ("frame_index", Int, false, "position of the frame in the file (0-based)"),
        ("image_filename", Text, false, "image file as the program names it"),
        ("event", Text, true, "event within a multi-frame file (e.g. CrystFEL `//12`)"),
        ("serial_number", Int, true, "program's serial number of the frame"),
        ("hit", Bool, false, "classified as a hit"),
        ("indexed_by", Text, true, "indexing method that succeeded; null when not indexed"),
        ("indexing_tries", Int, true, "indexing attempts"),
        ("photon_energy_ev", Float, true, "photon energy (eV)"),
        ("camera_length_mm", Float, true, "average camera length (mm)"),
        ("num_peaks", Int, true, "peaks found"),
        ("peak_resolution_a", Float, true, "resolution of the highest-resolution peak (Å)"),
        ("num_lattices", Int, false, "lattices (crystals) indexed on this frame"),
        ("source_line", Int, false, "line of the frame's start in the file (1-based)"),
    ],
};

/// One indexed lattice of an SSX frame.
#[rustfmt::skip]
pub const SSX_LATTICES: TableDef = TableDef {
    name: "ssx_lattices",
    doc: "one indexed lattice (crystal) of an SSX frame",
    columns: &[
        ("processing_uuid", Text, false, "processing job"),
        ("frame_index", Int, false, "frame (ssx_frames.frame_index)"),
        ("lattice_index", Int, false, "position of the lattice within its frame (0-based)"),
        ("cell_a_a", Float, false, "cell a (Å; CrystFEL writes nm)"),
        ("cell_b_a", Float, false, "cell b (Å)"),
        ("cell_c_a", Float, false, "cell c (Å)"),
        ("cell_alpha_deg", Float, false, "cell alpha (degrees)"),
        ("cell_beta_deg", Float, false, "cell beta (degrees)"),
        ("cell_gamma_deg", Float, false, "cell gamma (degrees)"),
        ("lattice_type", Text, true, "lattice type, e.g. tetragonal"),
        ("centering", Text, true, "centering letter, e.g. P"),
        ("resolution_limit_a", Float, true, "diffraction resolution limit estimate (Å)"),
        ("num_reflections", Int, true, "reflections integrated"),
        ("profile_radius_nm_inv", Float, true, "profile radius (nm⁻¹)"),
    ],
};

/// Every table, `ingests` last (it is committed last).
#[rustfmt::skip]
pub const ALL: &[&TableDef] = &[
    &SOURCES,
    &MESSAGES,
    &OBJECTS,
    &LINKS,
    &IDENTIFIERS,
    &EXTENSIONS,
    &JOBS,
    &SWEEPS,
    &SCANS,
    &SCAN_FILES,
    &DATA_FILES,
    &AXIS_POSITIONS,
    &IMAGE_SERIES,
    &SAMPLES,
    &LOGISTICAL_SAMPLES,
    &SESSIONS,
    &SSX_RUNS,
    &REFLECTION_SETS,
    &REFLECTION_STATISTICS,
    &PROCESSING_INPUTS,
    &RESULT_FILES,
    &SSX_DATA_REDUCTION,
    &SSX_FRAMES,
    &SSX_LATTICES,
    &CATALOGUE_IDS,
    &CATALOGUE_PIDS,
    &SAMPLE_PIDS,
    &SUPERSEDED,
    &INGESTS,
];

/// Look a table up by name.
pub fn by_name(name: &str) -> Option<&'static TableDef> {
    ALL.iter().copied().find(|t| t.name == name)
}

/// The store layout as Markdown (the content of docs/store.md's table section).
pub fn markdown() -> String {
    let mut out = String::new();
    for t in ALL {
        out.push_str(&format!(
            "### `{}`\n\nOne row = {}.\n\n| column | type | null | meaning |\n|---|---|---|---|\n",
            t.name, t.doc
        ));
        for (name, col, nullable, doc) in t.all_columns() {
            let ty = match col {
                Text => "text",
                Int => "int64",
                Float => "float64",
                Bool => "bool",
                Time => "timestamp (UTC, µs)",
                Bytes => "binary",
                TextList => "list<text>",
            };
            out.push_str(&format!(
                "| `{name}` | {ty} | {} | {doc} |\n",
                if nullable { "yes" } else { "no" }
            ));
        }
        out.push('\n');
    }
    out
}

/// One mapped object (or part of one) in one catalogue.
#[rustfmt::skip]
pub const CATALOGUE_IDS: TableDef = TableDef {
    name: "catalogue_ids",
    doc: "one object (or part of one, e.g. one wedge of a sweep) exported to a catalogue, with the primary key the catalogue gave it; re-exports update that row instead of inserting",
    columns: &[
        ("target", Col::Text, false, "catalogue kind, e.g. ispyb"),
        ("instance", Col::Text, false, "which catalogue: e.g. host:port/database"),
        ("object_key", Col::Text, false, "catalogue table + mxpipe key: `DataCollection:<sweep uuid>#<scan ordinal>`, `AutoProcScalingStatistics:<reflection set uuid>#outerShell`, …"),
        ("catalogue_table", Col::Text, false, "table in the catalogue"),
        ("catalogue_id", Col::Int, false, "primary key in that table"),
        ("content_sha256", Col::Text, false, "SHA-256 of the values last written (tells unchanged from updated)"),
        ("exported_at", Col::Time, false, "when the export committed (UTC)"),
    ],
};

/// The persistent identifier a catalogue gave an object, for catalogues whose keys are text
/// (SciCat pids and sample ids); written with the object's `catalogue_ids` row.
#[rustfmt::skip]
pub const CATALOGUE_PIDS: TableDef = TableDef {
    name: "catalogue_pids",
    doc: "the text identifier (pid) a catalogue gave one exported object, e.g. a SciCat dataset pid; beside its catalogue_ids row",
    columns: &[
        ("target", Col::Text, false, "catalogue kind, e.g. scicat"),
        ("instance", Col::Text, false, "which catalogue: e.g. host:port"),
        ("object_key", Col::Text, false, "the key of the catalogue_ids row"),
        ("pid", Col::Text, false, "the identifier in the catalogue, e.g. `20.500.12345/0b7f…`"),
    ],
};

/// One state of one minted PID.
#[rustfmt::skip]
pub const SAMPLE_PIDS: TableDef = TableDef {
    name: "sample_pids",
    doc: "one state of a persistent identifier mxpipe minted for a sample or crystal that had none (the latest committed row of an object is its current state; a PID is never reused)",
    columns: &[
        ("object_uuid", Col::Text, false, "the sample (MacromoleculeSample) or Crystal"),
        ("mxlims_type", Col::Text, false, "MacromoleculeSample or Crystal"),
        ("pid", Col::Text, false, "the identifier: a URL for the local scheme, a DOI name (10.x/…) for DataCite"),
        ("scheme", Col::Text, false, "local or datacite"),
        ("state", Col::Text, false, "minted (local), draft / registered / findable (accepted by DataCite), or pending (chosen and kept, not yet accepted: `mxpipe pid retry`)"),
        ("detail", Col::Text, true, "for pending: the registry's answer or the error"),
        ("recorded_at", Col::Time, false, "when this state was recorded (UTC)"),
    ],
};

/// Which object versions are no longer current: written by the run that stores a newer version,
/// in the same run (so visible exactly when that version is). The current state of an object
/// table is its committed rows minus these (`crate::current`).
#[rustfmt::skip]
pub const SUPERSEDED: TableDef = TableDef {
    name: "superseded",
    doc: "one object version replaced by a newer one: written by the run that stores the newer version (its `ingest_id`), so the current state of every object table is its committed rows without these",
    columns: &[
        ("uuid", Col::Text, false, "the object (any type: job, sweep, sample, …)"),
        ("superseded_ingest_id", Col::Text, false, "the run whose version of it is no longer current"),
    ],
};
