//! JSON Schemas generated from the typed model (with schemars), one per message, object type,
//! datatype and mxpipe extension, named like the upstream files (`messages/MxlimsMessage`, ...).
//!
//! `mxpipe schema --out schemas` writes them; a test fails when the checked-in copies are stale.

use std::sync::{LazyLock, OnceLock};

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::datatypes::*;
use crate::extensions::MxpipeExtension;
use crate::messages::*;
use crate::objects::*;
use crate::validate::{Finding, path_to_pointer, semantic};

/// Base URI of the generated schemas' `$id`s.
pub const SCHEMA_BASE_URI: &str = "https://mxpipe.org/schemas/mxlims-0.6.13/";

type CheckFn = fn(&Value) -> Result<Vec<Finding>, (String, String)>;

/// One generated schema and the typed check that goes with it.
pub struct SchemaEntry {
    /// Name, e.g. `objects/CollectionSweep`.
    pub name: &'static str,
    generate: fn() -> Value,
    /// Parse into the typed model and run the semantic rules.
    pub check: CheckFn,
    compiled: OnceLock<(Value, jsonschema::Validator)>,
}

impl SchemaEntry {
    /// The generated schema document.
    pub fn schema_value(&self) -> &Value {
        &self.compiled().0
    }
    /// The compiled validator.
    pub fn validator(&self) -> &jsonschema::Validator {
        &self.compiled().1
    }
    fn compiled(&self) -> &(Value, jsonschema::Validator) {
        self.compiled.get_or_init(|| {
            let schema = (self.generate)();
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&schema)
                .unwrap_or_else(|e| panic!("generated schema {} does not compile: {e}", self.name));
            (schema, validator)
        })
    }
    /// Generate the schema document afresh.
    pub fn generate(&self) -> Value {
        (self.generate)()
    }
}

fn generate<T: JsonSchema>(name: &str) -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<T>();
    let mut value = root.to_value();
    strip_null(&mut value);
    if let Value::Object(map) = &mut value {
        let mut out = serde_json::Map::new();
        out.insert(
            "$schema".into(),
            Value::from("https://json-schema.org/draft/2020-12/schema"),
        );
        out.insert(
            "$id".into(),
            Value::from(format!("{SCHEMA_BASE_URI}{name}.json")),
        );
        for (k, v) in std::mem::take(map) {
            if k != "$schema" {
                out.insert(k, v);
            }
        }
        *map = out;
    }
    value
}

/// MXLIMS never allows `null`; schemars marks `Option` fields nullable, so remove that.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(alts)) = map.get_mut("anyOf") {
                alts.retain(|a| {
                    a.get("type") != Some(&Value::from("null"))
                        || a.as_object().is_some_and(|o| o.len() > 1)
                });
                if alts.len() == 1 {
                    let only = alts.remove(0);
                    map.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, v) in inner {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| (path_to_pointer(e.path()), e.inner().to_string()))
}

fn check_message<const KIND: u8>(value: &Value) -> Result<Vec<Finding>, (String, String)> {
    let kind = match KIND {
        0 => MessageKind::Full,
        1 => MessageKind::Strict,
        _ => MessageKind::Shipment,
    };
    let message = AnyMessage::from_value(kind, value)?;
    Ok(semantic::check_message(&message))
}

fn check_object<T: DeserializeOwned + AsAnyObject>(
    value: &Value,
) -> Result<Vec<Finding>, (String, String)> {
    let object: T = parse(value)?;
    Ok(semantic::check_object(object.as_any_object(), ""))
}

fn check_datatype<T: DeserializeOwned>(value: &Value) -> Result<Vec<Finding>, (String, String)> {
    parse::<T>(value).map(|_| Vec::new())
}

fn check_drop_image(value: &Value) -> Result<Vec<Finding>, (String, String)> {
    let image: DropImage = parse(value)?;
    Ok(semantic::check_drop_image(&image, ""))
}

fn check_image_region(value: &Value) -> Result<Vec<Finding>, (String, String)> {
    let region: ImageRegion = parse(value)?;
    Ok(semantic::check_drop_image(&region.image, "/image"))
}

fn check_extension(value: &Value) -> Result<Vec<Finding>, (String, String)> {
    let ext: MxpipeExtension = parse(value)?;
    Ok(semantic::check_mxpipe_extension(&ext, ""))
}

macro_rules! entries {
    ($($name:literal => $ty:ty, $check:expr;)*) => {
        vec![$(SchemaEntry { name: $name, generate: || generate::<$ty>($name), check: $check, compiled: OnceLock::new() }),*]
    };
}

static ENTRIES: LazyLock<Vec<SchemaEntry>> = LazyLock::new(|| {
    entries! {
        "messages/MxlimsMessage" => MxlimsMessage, check_message::<0>;
        "messages/MxlimsMessageStrict" => MxlimsMessageStrict, check_message::<1>;
        "messages/ShipmentMessage" => ShipmentMessage, check_message::<2>;
        "objects/MxExperiment" => MxExperiment, check_object::<MxExperiment>;
        "objects/MxProcessing" => MxProcessing, check_object::<MxProcessing>;
        "objects/VolumeScan" => VolumeScan, check_object::<VolumeScan>;
        "objects/CollectionSweep" => CollectionSweep, check_object::<CollectionSweep>;
        "objects/ReflectionSet" => ReflectionSet, check_object::<ReflectionSet>;
        "objects/MacromoleculeSample" => MacromoleculeSample, check_object::<MacromoleculeSample>;
        "objects/Macromolecule" => Macromolecule, check_object::<Macromolecule>;
        "objects/Medium" => Medium, check_object::<Medium>;
        "objects/Shipment" => Shipment, check_object::<Shipment>;
        "objects/Dewar" => Dewar, check_object::<Dewar>;
        "objects/Puck" => Puck, check_object::<Puck>;
        "objects/Pin" => Pin, check_object::<Pin>;
        "objects/MultiPin" => MultiPin, check_object::<MultiPin>;
        "objects/PinPosition" => PinPosition, check_object::<PinPosition>;
        "objects/Plate" => Plate, check_object::<Plate>;
        "objects/PlateWell" => PlateWell, check_object::<PlateWell>;
        "objects/WellDrop" => WellDrop, check_object::<WellDrop>;
        "objects/DropRegion" => DropRegion, check_object::<DropRegion>;
        "objects/Crystal" => Crystal, check_object::<Crystal>;
        "datatypes/Scan" => Scan, check_datatype::<Scan>;
        "datatypes/UnitCell" => UnitCell, check_datatype::<UnitCell>;
        "datatypes/Tensor" => Tensor, check_datatype::<Tensor>;
        "datatypes/ReflectionStatistics" => ReflectionStatistics, check_datatype::<ReflectionStatistics>;
        "datatypes/ResolutionCutoffs" => ResolutionCutoffs, check_datatype::<ResolutionCutoffs>;
        "datatypes/PointCloud" => PointCloud, check_datatype::<PointCloud>;
        "datatypes/DropImage" => DropImage, check_drop_image;
        "datatypes/ImageRegion" => ImageRegion, check_image_region;
        "datatypes/PlateRegion" => PlateRegion, check_datatype::<PlateRegion>;
        "datatypes/Point" => Point, check_datatype::<Point>;
        "datatypes/Circle" => Circle, check_datatype::<Circle>;
        "datatypes/Line" => Line, check_datatype::<Line>;
        "datatypes/Rectangle" => Rectangle, check_datatype::<Rectangle>;
        "datatypes/Polygon" => Polygon, check_datatype::<Polygon>;
        "datatypes/SampleComponent" => SampleComponent, check_datatype::<SampleComponent>;
        "datatypes/Person" => Person, check_datatype::<Person>;
        "datatypes/TrackingDevice" => TrackingDevice, check_datatype::<TrackingDevice>;
        "datatypes/PlateType" => PlateType, check_datatype::<PlateType>;
        "datatypes/JobStub" => JobStub, check_datatype::<JobStub>;
        "datatypes/DatasetStub" => DatasetStub, check_datatype::<DatasetStub>;
        "datatypes/SampleStub" => SampleStub, check_datatype::<SampleStub>;
        "datatypes/LogisticalSampleStub" => LogisticalSampleStub, check_datatype::<LogisticalSampleStub>;
        "mxpipe/MxpipeExtension" => MxpipeExtension, check_extension;
    }
});

/// Every generated schema.
pub fn entries() -> &'static [SchemaEntry] {
    &ENTRIES
}

/// Look up a schema by its full name.
pub fn entry(name: &str) -> Option<&'static SchemaEntry> {
    ENTRIES.iter().find(|e| e.name == name)
}

/// Accept `objects/Shipment`, `Shipment`, `objects/Shipment.json`; return the full name.
pub fn canonical_name(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches(".json");
    if let Some(e) = entry(trimmed) {
        return Some(e.name.to_owned());
    }
    let matches: Vec<_> = ENTRIES
        .iter()
        .filter(|e| e.name.rsplit('/').next() == Some(trimmed))
        .collect();
    (matches.len() == 1).then(|| matches[0].name.to_owned())
}

/// Generated schemas as (relative file path, pretty JSON text).
pub fn generated_files() -> Vec<(String, String)> {
    ENTRIES
        .iter()
        .map(|e| {
            let mut text = serde_json::to_string_pretty(&e.generate()).expect("schema serialises");
            text.push('\n');
            (format!("{}.json", e.name), text)
        })
        .collect()
}
