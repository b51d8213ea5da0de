//! The 19 concrete MXLIMS 0.6.13 object types and the four abstract stubs.
//!
//! Every object carries the common header (`mxlimsType`, `mxlimsBaseType`, `uuid`, `extensions`,
//! `identifiers`, `urls`, `annotation`), the fields of its core class (Job, Dataset, Sample,
//! LogisticalSample) and its own fields. Objects are closed: unknown keys are rejected.
//! Units: exposure in s, angles in degrees, energy in eV (MXLIMS text; some producers write keV),
//! transmission in %, beam size in mm, beam position in pixels, resolution in Å, dose in MGy.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::datatypes::*;
use crate::links::*;
use crate::primitives::*;

/// The four MXLIMS core classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreClass {
    /// Something that is done (experiment, processing, scan).
    Job,
    /// Data produced by a job (sweep, reflection set).
    Dataset,
    /// What is in the sample (macromolecule, medium, mixture).
    Sample,
    /// A physical thing handled by a facility (shipment, dewar, puck, pin, plate, crystal...).
    LogisticalSample,
}

impl CoreClass {
    /// Name as used for stubs and generic refs.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreClass::Job => "Job",
            CoreClass::Dataset => "Dataset",
            CoreClass::Sample => "Sample",
            CoreClass::LogisticalSample => "LogisticalSample",
        }
    }
}

/// One link field of an object, for generic processing (validation, storage).
#[derive(Debug, Clone, Copy)]
pub struct LinkField<'a> {
    /// JSON field name, e.g. `sampleRef`.
    pub field: &'static str,
    /// Position in a list field (`inputDataRefs[2]`), `None` for single links.
    pub index: Option<usize>,
    /// Types the link may point to.
    pub allowed: &'static [&'static str],
    /// The link.
    pub link: &'a Link,
}

/// Common behaviour of every MXLIMS object.
pub trait MxlimsObject {
    /// The MXLIMS type name.
    fn type_name(&self) -> &'static str;
    /// The core class.
    fn core_class(&self) -> CoreClass;
    /// The uuid, if given.
    fn uuid(&self) -> Option<MxUuid>;
    /// Set the uuid.
    fn set_uuid(&mut self, uuid: MxUuid);
    /// Extensions keyed by domain.
    fn extensions(&self) -> Option<&Extensions>;
    /// Mutable extensions.
    fn extensions_mut(&mut self) -> &mut Option<Extensions>;
    /// All links of the object.
    fn links(&self) -> Vec<LinkField<'_>>;
    /// All links, mutable (for resolution).
    fn links_mut(&mut self) -> Vec<&mut Link>;
}

macro_rules! mxlims_object {
    (
        $(#[$m:meta])* $name:ident : $core:ident
        links [$($lf:ident = $ljson:literal),*]
        lists [$($ll:ident = $lljson:literal),*]
        { $($body:tt)* }
    ) => {
        #[skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        $(#[$m])*
        pub struct $name {
            /// Always the type name.
            pub mxlims_type: Tag<$name>,
            /// Core class name as written by some producers (free text, kept verbatim).
            pub mxlims_base_type: Option<String>,
            /// Permanent unique identifier.
            pub uuid: Option<MxUuid>,
            /// Extension fields keyed by the owning organisation's domain (ours: `mxpipe.org`).
            #[serde(default)]
            #[schemars(schema_with = "extensions_schema")]
            pub extensions: Option<Extensions>,
            /// Identifiers keyed by domain.
            #[serde(default)]
            #[schemars(schema_with = "identifiers_schema")]
            pub identifiers: Option<Identifiers>,
            /// URLs keyed by domain.
            #[serde(default)]
            #[schemars(schema_with = "urls_schema")]
            pub urls: Option<Urls>,
            /// Free-text comment.
            pub annotation: Option<String>,
            $($body)*
        }

        impl TypeName for $name {
            const NAME: &'static str = stringify!($name);
        }

        impl MxlimsObject for $name {
            fn type_name(&self) -> &'static str { stringify!($name) }
            fn core_class(&self) -> CoreClass { CoreClass::$core }
            fn uuid(&self) -> Option<MxUuid> { self.uuid }
            fn set_uuid(&mut self, uuid: MxUuid) { self.uuid = Some(uuid); }
            fn extensions(&self) -> Option<&Extensions> { self.extensions.as_ref() }
            fn extensions_mut(&mut self) -> &mut Option<Extensions> { &mut self.extensions }
            #[allow(unused_mut)]
            fn links(&self) -> Vec<LinkField<'_>> {
                let mut out = Vec::new();
                $(if let Some(r) = &self.$lf {
                    out.push(LinkField { field: $ljson, index: None, allowed: r.allowed_types(), link: &r.link });
                })*
                $(if let Some(list) = &self.$ll {
                    for (i, r) in list.iter().enumerate() {
                        out.push(LinkField { field: $lljson, index: Some(i), allowed: r.allowed_types(), link: &r.link });
                    }
                })*
                out
            }
            #[allow(unused_mut)]
            fn links_mut(&mut self) -> Vec<&mut Link> {
                let mut out: Vec<&mut Link> = Vec::new();
                $(if let Some(r) = &mut self.$lf { out.push(&mut r.link); })*
                $(if let Some(list) = &mut self.$ll { out.extend(list.iter_mut().map(|r| &mut r.link)); })*
                out
            }
        }
    };
}

mxlims_object! {
    /// An MX experiment (Job): what was asked for and how the crystal was measured.
    MxExperiment: Job
    links [sample_ref = "sampleRef", started_from_ref = "startedFromRef", logistical_sample_ref = "logisticalSampleRef"]
    lists [reference_data_refs = "referenceDataRefs", template_data_refs = "templateDataRefs"]
    {
        /// Start (with time zone).
        pub start_time: Option<AwareDateTime>,
        /// End (with time zone).
        pub end_time: Option<AwareDateTime>,
        /// Status.
        pub job_status: Option<JobStatus>,
        /// Sample measured.
        pub sample_ref: Option<Ref<AnySampleT>>,
        /// Parent job.
        pub started_from_ref: Option<Ref<ExperimentOrJobT>>,
        /// Where the sample sits (crystal, pin...).
        pub logistical_sample_ref: Option<Ref<MountableOrStub>>,
        /// Reference data (ReflectionSets).
        pub reference_data_refs: Option<Vec<Ref<ReflectionSetOrDatasetT>>>,
        /// Template data (CollectionSweeps describing the plan).
        pub template_data_refs: Option<Vec<Ref<SweepOrDatasetT>>>,
        /// Strategy, e.g. `gphl.native.minimal`, `MXPressE`.
        pub experiment_strategy: Option<String>,
        /// Where the experiment runs.
        pub experiment_location: Option<String>,
        /// Expected resolution (Å, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub expected_resolution: Option<f64>,
        /// Required resolution (Å, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub required_resolution: Option<f64>,
        /// Target completeness (%, (0, 100]).
        #[schemars(extend("exclusiveMinimum" = 0), range(max = 100))]
        pub target_completeness: Option<f64>,
        /// Target multiplicity (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub target_multiplicity: Option<f64>,
        /// Total rotation to collect (degrees, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub aimed_total_range: Option<f64>,
        /// Priority (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub priority: Option<i64>,
        /// Group of samples this belongs to.
        pub sample_group: Option<String>,
        /// Dose budget (MGy, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub dose_budget: Option<f64>,
        /// Radiation sensitivity ((0, 1]).
        #[schemars(extend("exclusiveMinimum" = 0), range(max = 1))]
        pub radiation_sensitivity: Option<f64>,
        /// Number of snapshots (≥ 0).
        #[schemars(range(min = 0))]
        pub snapshot_count: Option<i64>,
        /// Wedge width (degrees, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub wedge_width: Option<f64>,
        /// Measured flux (photons/s, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub measured_flux: Option<f64>,
        /// Radiation dose (MGy, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub radiation_dose: Option<f64>,
        /// Expected space group.
        pub expected_space_group_name: Option<SpaceGroupName>,
        /// Expected unit cell.
        pub expected_unit_cell: Option<UnitCell>,
        /// Selected space group.
        pub selected_space_group_name: Option<SpaceGroupName>,
        /// Selected unit cell.
        pub selected_unit_cell: Option<UnitCell>,
    }
}

mxlims_object! {
    /// A data-processing job (Job): turns CollectionSweeps into ReflectionSets.
    MxProcessing: Job
    links [sample_ref = "sampleRef", started_from_ref = "startedFromRef", logistical_sample_ref = "logisticalSampleRef"]
    lists [reference_data_refs = "referenceDataRefs", template_data_refs = "templateDataRefs", input_data_refs = "inputDataRefs"]
    {
        /// Start (with time zone).
        pub start_time: Option<AwareDateTime>,
        /// End (with time zone).
        pub end_time: Option<AwareDateTime>,
        /// Status.
        pub job_status: Option<JobStatus>,
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Parent processing job.
        pub started_from_ref: Option<Ref<MxProcessingT>>,
        /// Where the sample sits.
        pub logistical_sample_ref: Option<Ref<Mountable>>,
        /// Reference data.
        pub reference_data_refs: Option<Vec<Ref<ReflectionSetT>>>,
        /// Template data.
        pub template_data_refs: Option<Vec<Ref<ReflectionSetT>>>,
        /// Input sweeps.
        pub input_data_refs: Option<Vec<Ref<CollectionSweepT>>>,
        /// Program name, e.g. `autoPROC`.
        pub program_name: Option<String>,
        /// Program version.
        pub program_version: Option<String>,
        /// Space group given as input.
        pub space_group_name: Option<SpaceGroupName>,
        /// Unit cell given as input.
        pub unit_cell: Option<UnitCell>,
    }
}

mxlims_object! {
    /// A volume scan (Job), e.g. X-ray centring; its result lives inline in `resultVolume`.
    VolumeScan: Job
    links [sample_ref = "sampleRef", started_from_ref = "startedFromRef", logistical_sample_ref = "logisticalSampleRef"]
    lists [template_data_refs = "templateDataRefs"]
    {
        /// Start (with time zone).
        pub start_time: Option<AwareDateTime>,
        /// End (with time zone).
        pub end_time: Option<AwareDateTime>,
        /// Status.
        pub job_status: Option<JobStatus>,
        /// Sample.
        pub sample_ref: Option<Ref<AnySampleT>>,
        /// Parent job.
        pub started_from_ref: Option<Ref<ExperimentOrJobT>>,
        /// Where the sample sits.
        pub logistical_sample_ref: Option<Ref<MountableOrStub>>,
        /// Template data.
        pub template_data_refs: Option<Vec<Ref<SweepOrDatasetT>>>,
        /// Kind, e.g. `Xray.centring`.
        pub experiment_type: Option<String>,
        /// Rotation angles used (degrees).
        pub rotation_angles: Option<Vec<f64>>,
        /// Volume searched.
        pub search_volume: Option<PointCloud>,
        /// Bounding box size [x, y, z] (mm).
        pub bounding_box_size: Option<[f64; 3]>,
        /// Bounding box shape (default `Box`).
        pub bounding_box_shape: Option<String>,
        /// Result.
        pub result_volume: Option<PointCloud>,
    }
}

mxlims_object! {
    /// A crystallographic sweep (Dataset): one rotation (or mesh/line) with its scans.
    #[schemars(extend("not" = {"required": ["sourceRef", "derivedFromRef"]}))]
    CollectionSweep: Dataset
    links [source_ref = "sourceRef", derived_from_ref = "derivedFromRef", logistical_sample_ref = "logisticalSampleRef"]
    lists []
    {
        /// Role, e.g. `Result`, `Characterisation`, `Centring`.
        pub role: Option<String>,
        /// The experiment that produced it (XOR `derivedFromRef`).
        pub source_ref: Option<Ref<MxExperimentT>>,
        /// The sweep it was derived from (XOR `sourceRef`).
        pub derived_from_ref: Option<Ref<CollectionSweepT>>,
        /// Where the sample sat.
        pub logistical_sample_ref: Option<Ref<Mountable>>,
        /// Scan axis name, e.g. `omega` (required).
        pub scan_axis: String,
        /// `simple`, `mesh`, `line`, `helical`, `xray_centring`...
        pub sweep_type: Option<String>,
        /// Exposure per image (s, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub exposure_time: Option<f64>,
        /// Rotation per image (degrees, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub image_width: Option<f64>,
        /// Number of images (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub number_images: Option<i64>,
        /// Overlap between images (degrees).
        pub overlap: Option<f64>,
        /// Triggers (≥ 0).
        #[schemars(range(min = 0))]
        pub number_triggers: Option<i64>,
        /// Images per trigger (≥ 0).
        #[schemars(range(min = 0))]
        pub number_images_per_trigger: Option<i64>,
        /// Lines of a mesh (≥ 0).
        #[schemars(range(min = 0))]
        pub number_lines: Option<i64>,
        /// Mesh size [horizontal, vertical] (mm).
        pub mesh_range: Option<[f64; 2]>,
        /// Beam energy (eV per MXLIMS text; upstream examples carry keV such as 12.4).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub energy: Option<f64>,
        /// Transmission (%, (0, 100]).
        #[schemars(extend("exclusiveMinimum" = 0), range(max = 100))]
        pub transmission: Option<f64>,
        /// Resolution at the detector edge (Å, > 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub resolution: Option<f64>,
        /// Detector ROI mode.
        pub detector_roi_mode: Option<String>,
        /// Beam position on the detector [x, y] (pixels).
        pub beam_position: Option<[f64; 2]>,
        /// Beam size [horizontal, vertical] (mm).
        pub beam_size: Option<[f64; 2]>,
        /// Beam shape, e.g. `ellipse`.
        pub beam_shape: Option<String>,
        /// Detector type (mmCIF `diffrn_detector.type`).
        pub detector_type: Option<String>,
        /// Detector binning mode.
        pub detector_binning_mode: Option<String>,
        /// Axis positions at the start, axis name → value (degrees or mm).
        pub axis_positions_start: Option<IndexMap<String, f64>>,
        /// Axis positions at the end, axis name → value.
        pub axis_positions_end: Option<IndexMap<String, f64>>,
        /// Scans (wedges); their ordinals give the acquisition order across the experiment.
        pub scans: Option<Vec<Scan>>,
        /// File type, e.g. `cbf`, `HDF5`.
        pub file_type: Option<String>,
        /// File prefix.
        pub prefix: Option<String>,
        /// File name template, e.g. `x_1_%04d.cbf`.
        pub filename_template: Option<String>,
        /// Directory.
        pub path: Option<String>,
    }
}

mxlims_object! {
    /// Processed reflections with their statistics (Dataset).
    #[schemars(extend("not" = {"required": ["sourceRef", "derivedFromRef"]}))]
    ReflectionSet: Dataset
    links [source_ref = "sourceRef", derived_from_ref = "derivedFromRef", logistical_sample_ref = "logisticalSampleRef"]
    lists []
    {
        /// Role, e.g. `Result`.
        pub role: Option<String>,
        /// The processing job that produced it (XOR `derivedFromRef`).
        pub source_ref: Option<Ref<MxProcessingT>>,
        /// The reflection set it was derived from (XOR `sourceRef`).
        pub derived_from_ref: Option<Ref<ReflectionSetT>>,
        /// Where the sample sat.
        pub logistical_sample_ref: Option<Ref<Mountable>>,
        /// Anisotropic diffraction (default false).
        pub anisotropic_diffraction: Option<bool>,
        /// Space group.
        pub space_group_name: Option<SpaceGroupName>,
        /// Refined unit cell.
        pub refined_unit_cell: Option<UnitCell>,
        /// Operational resolution (Å).
        pub operational_resolution: Option<f64>,
        /// Diffraction-limit ellipsoid (Å).
        pub diffraction_limits_estimated: Option<Tensor>,
        /// Wavelengths (Å, > 0).
        pub wavelengths: Option<Vec<f64>>,
        /// Wilson B (Å²).
        pub iso_b_wilson_estimate: Option<f64>,
        /// Anisotropic B tensor.
        pub aniso_btensor: Option<Tensor>,
        /// Number of reflections (≥ 0).
        #[schemars(range(min = 0))]
        pub number_reflections: Option<i64>,
        /// Unique reflections (≥ 0).
        #[schemars(range(min = 0))]
        pub number_reflections_unique: Option<i64>,
        /// h range [min, max].
        pub h_index_range: Option<[i64; 2]>,
        /// k range [min, max].
        pub k_index_range: Option<[i64; 2]>,
        /// l range [min, max].
        pub l_index_range: Option<[i64; 2]>,
        /// Possible twinning (default false).
        pub possible_twinning: Option<bool>,
        /// Twin fraction (0..1).
        #[schemars(range(min = 0, max = 1))]
        pub twin_fraction: Option<f64>,
        /// Statistics over all data.
        pub reflection_statistics_overall: Option<ReflectionStatistics>,
        /// Statistics per shell, low to high resolution by convention.
        pub reflection_statistics_shells: Option<Vec<ReflectionStatistics>>,
        /// Signal type.
        pub signal_type: Option<PdbxSignalType>,
        /// Signal cutoff.
        pub signal_cutoff: Option<f64>,
        /// Cutoff criteria.
        pub resolution_cutoffs: Option<ResolutionCutoffs>,
        /// Binning mode.
        pub binning_mode: Option<ReflectionBinningMode>,
        /// Number of bins (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub number_bins: Option<i64>,
        /// Reflections per bin (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub reflections_per_bin: Option<i64>,
        /// Reflections per bin per sweep (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub reflections_per_bin_per_sweep: Option<i64>,
        /// Ice rings etc. detected, [low, high] Å pairs.
        pub resolution_rings_detected: Option<Vec<[f64; 2]>>,
        /// Rings excluded, [low, high] Å pairs.
        pub resolution_rings_excluded: Option<Vec<[f64; 2]>>,
        /// File type.
        pub file_type: Option<ReflectionFileType>,
        /// File name.
        pub filename: Option<String>,
        /// Directory.
        pub path: Option<String>,
    }
}

mod logistics;
pub use logistics::*;
