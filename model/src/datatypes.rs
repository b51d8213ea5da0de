//! MXLIMS 0.6.13 datatypes: values embedded in objects (scans, cells, statistics, images, people...).
//!
//! Units follow MXLIMS: angles in degrees, lengths in Å unless stated, resolution in Å,
//! completeness in % (0–100), CC½ and CC_ano as correlation coefficients (−1..1).

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};
use serde_with::skip_serializing_none;

use crate::primitives::{AwareDateTime, Domain, HttpUrl, Tag, identifiers_schema, urls_schema};
use crate::space_groups::SPACE_GROUP_NAMES;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] $variant),+ }
        impl $name {
            /// The MXLIMS spelling.
            pub fn as_str(self) -> &'static str { match self { $(Self::$variant => $text),+ } }
            /// Every allowed spelling.
            pub const ALL: &'static [&'static str] = &[$($text),+];
        }
    };
}

string_enum!(/// Status of a Job.
JobStatus { Template = "Template", Ready = "Ready", Running = "Running", Completed = "Completed", Failed = "Failed", Aborted = "Aborted" });
string_enum!(/// Light used for a drop image.
ImageLightType { Visible = "Visible", Uv = "UV", Other = "other" });
string_enum!(/// MIME type of a drop image.
ImageMimeType { Png = "image/png", Jpeg = "image/jpeg" });
string_enum!(/// Units of an image region.
ImageRegionUnit { Mm = "mm", Micron = "micron", Pixel = "pixel" });
string_enum!(/// Units of a plate region.
PlateRegionUnit { Mm = "mm", Micron = "micron" });
string_enum!(/// Role of a dataset used as input of a job (database link table only).
JobInputRole { InputData = "inputData", ReferenceData = "referenceData", TemplateData = "templateData" });
string_enum!(/// PDBx signal type (`reflns.pdbx_signal_type`).
PdbxSignalType { LocalIOverSigmaI = "local <I/sigmaI>", LocalWccHalf = "local wCC_half" });
string_enum!(/// Resolution binning of reflection statistics.
ReflectionBinningMode { EqualVolume = "equalVolume", EqualNumber = "equalNumber", DstarEquidistant = "dstarEquidistant", Dstar2Equidistant = "dstar2Equidistant" });
string_enum!(/// Type of a reflection file.
ReflectionFileType {
    ScaledMergedMtz = "scaled and merged MTZ",
    ScaledUnmergedMtz = "scaled and unmerged MTZ",
    UnmergedMtz = "unmerged MTZ",
    XdsIntegrateHkl = "XDS INTEGRATE.HKL; unmerged (https://xds.mr.mpg.de/html_doc/xds_files.html#INTEGRATE.HKL)",
    XdsAsciiHkl = "XDS XDS_ASCII.HKL; scaled and unmerged (https://xds.mr.mpg.de/html_doc/xds_files.html#XDS_ASCII.HKL)",
});
string_enum!(/// Role of a sample component.
SampleComponentRole { Target = "target", Ligand = "ligand", Cofactor = "cofactor", Solvent = "solvent", Buffer = "buffer", Cryoprotectant = "cryoprotectant", Other = "other" });
string_enum!(/// Kind of shipment tracking device.
TrackingDeviceType { LightBug = "LightBug", AirTag = "AirTag", Other = "other" });

/// A space-group name in one of the 662 spellings MXLIMS accepts, kept as written
/// (`symmetry.space_group_name_H-M`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpaceGroupName(String);

impl SpaceGroupName {
    /// Check a spelling against the MXLIMS list.
    pub fn parse(text: &str) -> Result<Self, String> {
        if SPACE_GROUP_NAMES.contains(&text) {
            Ok(SpaceGroupName(text.to_owned()))
        } else {
            Err(format!(
                "expected a space-group name such as \"P 21 21 21\" or \"C2\" (one of the MXLIMS spellings), found {text:?}"
            ))
        }
    }
    /// The spelling as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl Serialize for SpaceGroupName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for SpaceGroupName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        SpaceGroupName::parse(&text).map_err(D::Error::custom)
    }
}
impl JsonSchema for SpaceGroupName {
    fn schema_name() -> Cow<'static, str> {
        "SpaceGroupName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "enum": SPACE_GROUP_NAMES})
    }
}

/// A contiguously acquired subset (wedge) of a CollectionSweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scan {
    /// Scan-axis position of the first image (degrees for rotations, mm for translations).
    pub scan_position_start: f64,
    /// Number of the first image within the sweep's numbering (numbering may have gaps).
    pub first_image_number: i64,
    /// Number of images in this scan (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_images: i64,
    /// Acquisition order across the whole experiment (encodes interleaving).
    pub ordinal: i64,
}

/// Unit cell: lengths a, b, c in Å, angles in degrees (mmCIF `cell.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitCell {
    /// a (Å)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub a: f64,
    /// b (Å)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub b: f64,
    /// c (Å)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub c: f64,
    /// alpha (degrees)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub alpha: f64,
    /// beta (degrees)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub beta: f64,
    /// gamma (degrees)
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub gamma: f64,
}

/// A 3×3 symmetric tensor given by eigenvalues and eigenvectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tensor {
    /// Three eigenvalues.
    pub eigenvalues: [f64; 3],
    /// Three eigenvectors, each of three components.
    pub eigenvectors: [[f64; 3]; 3],
}

/// Reflection statistics of one resolution shell, or of all data (`reflns` / `reflns_shell`).
/// Completeness values in %, CC½ and CC_ano as correlation coefficients (−1..1).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReflectionStatistics {
    /// [low, high] resolution limits (Å).
    #[serde(rename = "resolutionLimits")]
    pub resolution_limits: [f64; 2],
    /// Observations (`reflns_shell.number_measured_all`).
    #[serde(rename = "numberObservations")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_observations: Option<i64>,
    /// Unique observations (`reflns_shell.number_unique_all`).
    #[serde(rename = "numberObservationsUnique")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_observations_unique: Option<i64>,
    /// Rejected reflections (`reflns_shell.pdbx_rejects`).
    #[serde(rename = "numberReflectionsRejected")]
    #[schemars(range(min = 0))]
    pub number_reflections_rejected: Option<i64>,
    /// Chi squared (`reflns_shell.pdbx_chi_squared`).
    #[serde(rename = "chiSquared")]
    #[schemars(range(min = 0))]
    pub chi_squared: Option<f64>,
    /// R_merge (fraction).
    #[serde(rename = "R_merge")]
    #[schemars(range(min = 0))]
    pub r_merge: Option<f64>,
    /// R_meas (fraction).
    #[serde(rename = "R_meas")]
    #[schemars(range(min = 0))]
    pub r_meas: Option<f64>,
    /// R_pim (fraction).
    #[serde(rename = "R_pim")]
    #[schemars(range(min = 0))]
    pub r_pim: Option<f64>,
    /// Mean I/σ(I).
    #[serde(rename = "I_over_SigI")]
    pub i_over_sig_i: Option<f64>,
    /// CC½ as a correlation coefficient (−1..1; upstream's schema wrongly allows only −1).
    #[serde(rename = "CC_one_half")]
    #[schemars(range(min = -1, max = 1))]
    pub cc_one_half: Option<f64>,
    /// Anomalous CC as a correlation coefficient (−1..1; upstream's schema wrongly allows only −1).
    #[serde(rename = "CC_ano")]
    #[schemars(range(min = -1, max = 1))]
    pub cc_ano: Option<f64>,
    /// Mean anomalous difference over its sigma.
    #[serde(rename = "SigAno")]
    pub sig_ano: Option<f64>,
    /// Completeness (%).
    #[serde(rename = "Completeness")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness: Option<f64>,
    /// Spherical completeness (%).
    #[serde(rename = "CompletenessSpherical")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness_spherical: Option<f64>,
    /// Ellipsoidal completeness (%).
    #[serde(rename = "CompletenessEllipsoidal")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness_ellipsoidal: Option<f64>,
    /// Multiplicity.
    #[serde(rename = "Redundancy")]
    #[schemars(range(min = 0))]
    pub redundancy: Option<f64>,
    /// Anomalous completeness (%).
    #[serde(rename = "CompletenessAno")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness_ano: Option<f64>,
    /// Spherical anomalous completeness (%).
    #[serde(rename = "CompletenessAnoSpherical")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness_ano_spherical: Option<f64>,
    /// Ellipsoidal anomalous completeness (%).
    #[serde(rename = "CompletenessAnoEllipsoidal")]
    #[schemars(range(min = 0, max = 100))]
    pub completeness_ano_ellipsoidal: Option<f64>,
    /// Anomalous multiplicity.
    #[serde(rename = "RedundancyAno")]
    #[schemars(range(min = 0))]
    pub redundancy_ano: Option<f64>,
}

/// Values of the criteria used to choose the resolution cutoff (as in MRFANA).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionCutoffs {
    /// R_merge cutoff.
    #[serde(rename = "R_merge")]
    #[schemars(range(min = 0))]
    pub r_merge: Option<f64>,
    /// R_meas cutoff.
    #[serde(rename = "R_meas")]
    #[schemars(range(min = 0))]
    pub r_meas: Option<f64>,
    /// R_pim cutoff.
    #[serde(rename = "R_pim")]
    #[schemars(range(min = 0))]
    pub r_pim: Option<f64>,
    /// I/σ(I) cutoff.
    #[serde(rename = "I_over_SigI")]
    pub i_over_sig_i: Option<f64>,
    /// CC½ cutoff (−1..1).
    #[serde(rename = "CC_one_half")]
    #[schemars(range(min = -1, max = 1))]
    pub cc_one_half: Option<f64>,
    /// CC_ano cutoff (−1..1).
    #[serde(rename = "CC_ano")]
    #[schemars(range(min = -1, max = 1))]
    pub cc_ano: Option<f64>,
    /// SigAno cutoff.
    #[serde(rename = "SigAno")]
    pub sig_ano: Option<f64>,
}

/// Result of a volume scan as parallel per-point arrays (open type: unknown keys are kept).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointCloud {
    /// Acquisition point, axis name → position (absolute reference).
    pub position: IndexMap<String, f64>,
    /// Overall score (0..1).
    #[schemars(range(min = 0, max = 1))]
    pub score: Option<f64>,
    /// Per-point [x, y, z] relative to `position`, in centring-motor axes.
    pub coordinates: Option<Vec<[f64; 3]>>,
    /// Per-point group (0 = background, 1..n = objects/crystals).
    pub grouping: Option<Vec<i64>>,
    /// Per-point intensity.
    pub intensities: Option<Vec<f64>>,
    /// Per-point resolution estimate (Å, > 0).
    pub resolutions: Option<Vec<f64>>,
    /// Per-point number of reflections (≥ 0).
    pub reflection_counts: Option<Vec<i64>>,
    /// Per-point Dozor score.
    pub dozor_scores: Option<Vec<f64>>,
    /// Unknown keys, preserved (PointCloud is open in MXLIMS).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl PointCloud {
    /// The parallel per-point arrays present, with their lengths.
    pub fn array_lengths(&self) -> Vec<(&'static str, usize)> {
        let mut out = Vec::new();
        if let Some(v) = &self.coordinates {
            out.push(("coordinates", v.len()));
        }
        if let Some(v) = &self.grouping {
            out.push(("grouping", v.len()));
        }
        if let Some(v) = &self.intensities {
            out.push(("intensities", v.len()));
        }
        if let Some(v) = &self.resolutions {
            out.push(("resolutions", v.len()));
        }
        if let Some(v) = &self.reflection_counts {
            out.push(("reflectionCounts", v.len()));
        }
        if let Some(v) = &self.dozor_scores {
            out.push(("dozorScores", v.len()));
        }
        out
    }
}

/// An image of a crystallisation drop: exactly one of `data` and `url`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["data"]}, {"required": ["url"]}]))]
pub struct DropImage {
    /// MIME type.
    pub mime_type: ImageMimeType,
    /// Light used.
    pub light_type: Option<ImageLightType>,
    /// When the image was taken.
    pub timestamp: Option<AwareDateTime>,
    /// Inline data (UU-encoded).
    pub data: Option<String>,
    /// URL of the image.
    pub url: Option<HttpUrl>,
}

impl DropImage {
    /// Exactly one of `data`/`url` must be present.
    pub fn source_error(&self) -> Option<&'static str> {
        match (&self.data, &self.url) {
            (Some(_), Some(_)) => Some("both `data` and `url` are set; exactly one is allowed"),
            (None, None) => Some("neither `data` nor `url` is set; exactly one is required"),
            _ => None,
        }
    }
}

/// Marker types for the `regionType` tag of each shape.
pub mod shape_kind {
    use crate::primitives::TypeName;
    macro_rules! kinds { ($($name:ident = $text:literal),*) => {$(
        /// `regionType` marker.
        pub struct $name;
        impl TypeName for $name { const NAME: &'static str = $text; }
    )*}; }
    kinds!(
        PointKind = "point",
        CircleKind = "circle",
        LineKind = "line",
        RectangleKind = "rectangle",
        PolygonKind = "polygon"
    );
}
use shape_kind::*;

/// A point (x, y), tagged `regionType: "point"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Point {
    /// Always `"point"`.
    pub region_type: Tag<PointKind>,
    /// x
    pub x: f64,
    /// y
    pub y: f64,
}

/// A circle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Circle {
    /// Always `"circle"`.
    pub region_type: Tag<CircleKind>,
    /// Centre.
    pub center: Point,
    /// Radius (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub radius: f64,
}

/// A line between two points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Line {
    /// Always `"line"`.
    pub region_type: Tag<LineKind>,
    /// Two end points.
    pub points: [Point; 2],
}

/// A rectangle given by two corners (open upstream: unknown keys are kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rectangle {
    /// Always `"rectangle"`.
    pub region_type: Tag<RectangleKind>,
    /// Two opposite corners.
    pub points: [Point; 2],
    /// Unknown keys, preserved.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A polygon of at least three points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Polygon {
    /// Always `"polygon"`.
    pub region_type: Tag<PolygonKind>,
    /// Corners (at least 3).
    #[schemars(length(min = 3))]
    pub points: Vec<Point>,
}

/// A region shape, discriminated by `regionType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Shape {
    /// A point.
    Point(Point),
    /// A circle.
    Circle(Circle),
    /// A line.
    Line(Line),
    /// A polygon.
    Polygon(Polygon),
    /// A rectangle (last: it is open, so it must not shadow the others).
    Rectangle(Rectangle),
}

/// A region of a drop image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRegion {
    /// The shape.
    pub region: Shape,
    /// The image the shape is drawn on.
    pub image: DropImage,
    /// Units of the coordinates.
    pub units: ImageRegionUnit,
}

/// A region of a plate (for plates with fiducial marks and a clear origin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlateRegion {
    /// The shape.
    pub region: Shape,
    /// Units of the coordinates.
    pub units: PlateRegionUnit,
}

/// Region of a DropRegion: on an image, or on the plate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Region {
    /// Region on a drop image.
    Image(ImageRegion),
    /// Region in plate coordinates.
    Plate(PlateRegion),
}

/// A chemical component of a sample.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleComponent {
    /// Short name.
    pub acronym: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Role in the sample.
    pub role: Option<SampleComponentRole>,
    /// SMILES string.
    pub smiles: Option<String>,
    /// SELFIES string.
    pub selfies: Option<String>,
    /// Sequence.
    pub sequence: Option<String>,
    /// Identifiers keyed by domain.
    #[serde(default)]
    #[schemars(schema_with = "identifiers_schema")]
    pub identifiers: Option<IndexMap<Domain, String>>,
    /// URLs keyed by domain.
    #[serde(default)]
    #[schemars(schema_with = "urls_schema")]
    pub urls: Option<IndexMap<Domain, HttpUrl>>,
}

/// A contact person (name plus e-mail and/or phone).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("anyOf" = [{"required": ["emailAddress"]}, {"required": ["phoneNumber"]}]))]
pub struct Person {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email_address: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
}

/// A shipment tracking device.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackingDevice {
    /// Device identifier.
    pub identifier: String,
    /// Kind of device.
    pub device_type: TrackingDeviceType,
    /// URL for people.
    pub human_tracking_url: Option<HttpUrl>,
    /// URL for programs.
    pub api_tracking_url: Option<HttpUrl>,
}

/// Geometry of a crystallisation plate.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlateType {
    /// Name of the plate type.
    pub name: Option<String>,
    /// Rows (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_rows: i64,
    /// Columns (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_columns: i64,
    /// Drop positions per well (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub number_sub_positions: i64,
    /// Drop mapping within a well, e.g. "12,3R".
    pub drop_mapping: String,
}
