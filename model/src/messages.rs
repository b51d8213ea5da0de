//! The three MXLIMS 0.6.13 messages: flat `{Type: {Key: object}}` maps.
//!
//! * [`MxlimsMessage`]: every concrete type plus the four stub dictionaries; closed.
//! * [`MxlimsMessageStrict`]: every concrete type, no stubs; open upstream, so unknown top-level
//!   keys are kept in `extra` (and reported by mxpipe's semantic layer unless `--strict-upstream`).
//! * [`ShipmentMessage`]: logistical and sample types only; closed.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use crate::objects::*;
use crate::primitives::{MxUuid, Version};

/// `{key → object}` dictionary of one type, in input order.
pub type ObjectMap<T> = IndexMap<String, T>;

/// Call `$m!` with the 19 concrete MXLIMS object types (the one list of them).
macro_rules! for_each_object_type {
    (items $m:ident) => {
        $m! {
            MxExperiment, MxProcessing, VolumeScan, CollectionSweep, ReflectionSet, MacromoleculeSample, Macromolecule,
            Medium, Shipment, Dewar, Puck, Pin, MultiPin, PinPosition, Plate, PlateWell, WellDrop, DropRegion, Crystal
        }
    };
    ($m:ident) => {
        $m!(
            MxExperiment,
            MxProcessing,
            VolumeScan,
            CollectionSweep,
            ReflectionSet,
            MacromoleculeSample,
            Macromolecule,
            Medium,
            Shipment,
            Dewar,
            Puck,
            Pin,
            MultiPin,
            PinPosition,
            Plate,
            PlateWell,
            WellDrop,
            DropRegion,
            Crystal
        )
    };
}

/// A borrowed object of any concrete type.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum AnyObject<'a> {
    MxExperiment(&'a MxExperiment),
    MxProcessing(&'a MxProcessing),
    VolumeScan(&'a VolumeScan),
    CollectionSweep(&'a CollectionSweep),
    ReflectionSet(&'a ReflectionSet),
    MacromoleculeSample(&'a MacromoleculeSample),
    Macromolecule(&'a Macromolecule),
    Medium(&'a Medium),
    Shipment(&'a Shipment),
    Dewar(&'a Dewar),
    Puck(&'a Puck),
    Pin(&'a Pin),
    MultiPin(&'a MultiPin),
    PinPosition(&'a PinPosition),
    Plate(&'a Plate),
    PlateWell(&'a PlateWell),
    WellDrop(&'a WellDrop),
    DropRegion(&'a DropRegion),
    Crystal(&'a Crystal),
}

impl<'a> AnyObject<'a> {
    /// The object behind its common trait.
    pub fn as_object(&self) -> &'a dyn MxlimsObject {
        macro_rules! dyn_object {
            ($($v:ident),*) => { match *self { $(AnyObject::$v(o) => o,)* } };
        }
        for_each_object_type!(dyn_object)
    }
}

/// One object of a message with its place in it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The dictionary (type) name, e.g. `CollectionSweep`.
    pub dict: &'static str,
    /// The key within the dictionary, e.g. `CollectionSweep2`.
    pub key: &'a str,
    /// The object.
    pub object: AnyObject<'a>,
}

impl Entry<'_> {
    /// JSON pointer of the object in the message.
    pub fn pointer(&self) -> String {
        format!(
            "/{}/{}",
            self.dict,
            crate::pointer::escape_pointer(self.key)
        )
    }
}

/// A stub entry of an [`MxlimsMessage`].
#[derive(Debug, Clone, Copy)]
pub struct StubEntry<'a> {
    /// Core class dictionary name (`Job`, `Dataset`, `Sample`, `LogisticalSample`).
    pub dict: &'static str,
    /// Key in the dictionary.
    pub key: &'a str,
    /// Uuid of the known object.
    pub uuid: MxUuid,
}

macro_rules! message {
    (
        $(#[$m:meta])* $name:ident [$($extra_attr:tt)*]
        objects { $($field:ident : $json:literal => $ty:ident),* $(,)? }
        stubs { $($sfield:ident : $sjson:literal => $sty:ident),* $(,)? }
        $($tail:tt)*
    ) => {
        $(#[$m])*
        #[skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        $($extra_attr)*
        pub struct $name {
            /// MXLIMS version (`0.6.13`).
            pub version: Version,
            $(
                #[doc = concat!("`", $json, "` objects by key (`", $json, "1`, `", $json, "2`, ...).")]
                #[serde(rename = $json)]
                #[schemars(extend("minProperties" = 1))]
                pub $field: Option<ObjectMap<$ty>>,
            )*
            $(
                #[doc = concat!("`", $sjson, "` stubs: objects known to the receiver by uuid.")]
                #[serde(rename = $sjson)]
                #[schemars(extend("minProperties" = 1))]
                pub $sfield: Option<ObjectMap<$sty>>,
            )*
            $($tail)*
        }

        impl $name {
            /// Every object with its dictionary and key, dictionaries in declaration order.
            pub fn entries(&self) -> Vec<Entry<'_>> {
                let mut out = Vec::new();
                $(if let Some(map) = &self.$field {
                    for (key, object) in map {
                        out.push(Entry { dict: $json, key, object: AnyObject::$ty(object) });
                    }
                })*
                out
            }
            /// Every object, mutable, with its dictionary and key.
            pub fn entries_mut(&mut self) -> Vec<(&'static str, &str, &mut dyn MxlimsObject)> {
                let mut out: Vec<(&'static str, &str, &mut dyn MxlimsObject)> = Vec::new();
                $(if let Some(map) = &mut self.$field {
                    for (key, object) in map.iter_mut() {
                        out.push(($json, key.as_str(), object as &mut dyn MxlimsObject));
                    }
                })*
                out
            }
            /// Every stub.
            #[allow(unused_mut)]
            pub fn stubs(&self) -> Vec<StubEntry<'_>> {
                let mut out = Vec::new();
                $(if let Some(map) = &self.$sfield {
                    for (key, stub) in map {
                        out.push(StubEntry { dict: $sjson, key, uuid: stub.uuid });
                    }
                })*
                out
            }
            /// Dictionaries present but empty (upstream requires at least one entry).
            #[allow(unused_mut)]
            pub fn empty_dicts(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$field.as_ref().is_some_and(|m| m.is_empty()) { out.push($json); })*
                $(if self.$sfield.as_ref().is_some_and(|m| m.is_empty()) { out.push($sjson); })*
                out
            }
        }
    };
}

macro_rules! all_concrete {
    ($(#[$m:meta])* $name:ident [$($extra_attr:tt)*] stubs { $($s:tt)* } $($tail:tt)*) => {
        message! {
            $(#[$m])* $name [$($extra_attr)*]
            objects {
                mx_experiments: "MxExperiment" => MxExperiment,
                mx_processings: "MxProcessing" => MxProcessing,
                volume_scans: "VolumeScan" => VolumeScan,
                collection_sweeps: "CollectionSweep" => CollectionSweep,
                reflection_sets: "ReflectionSet" => ReflectionSet,
                macromolecule_samples: "MacromoleculeSample" => MacromoleculeSample,
                macromolecules: "Macromolecule" => Macromolecule,
                media: "Medium" => Medium,
                shipments: "Shipment" => Shipment,
                dewars: "Dewar" => Dewar,
                pucks: "Puck" => Puck,
                pins: "Pin" => Pin,
                multi_pins: "MultiPin" => MultiPin,
                pin_positions: "PinPosition" => PinPosition,
                plates: "Plate" => Plate,
                plate_wells: "PlateWell" => PlateWell,
                well_drops: "WellDrop" => WellDrop,
                drop_regions: "DropRegion" => DropRegion,
                crystals: "Crystal" => Crystal,
            }
            stubs { $($s)* }
            $($tail)*
        }
    };
}

all_concrete! {
    /// A full MXLIMS message: concrete objects plus stubs of objects the receiver already knows.
    MxlimsMessage [#[serde(deny_unknown_fields)]]
    stubs {
        job_stubs: "Job" => JobStub,
        dataset_stubs: "Dataset" => DatasetStub,
        sample_stubs: "Sample" => SampleStub,
        logistical_sample_stubs: "LogisticalSample" => LogisticalSampleStub,
    }
}

all_concrete! {
    /// A strict MXLIMS message: concrete objects only, no stubs.
    MxlimsMessageStrict []
    stubs {}
    /// Unknown top-level keys, kept verbatim (the upstream schema allows them).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

message! {
    /// A shipment message: logistical samples and samples only (no jobs or datasets).
    ShipmentMessage [#[serde(deny_unknown_fields)]]
    objects {
        shipments: "Shipment" => Shipment,
        dewars: "Dewar" => Dewar,
        pucks: "Puck" => Puck,
        pins: "Pin" => Pin,
        multi_pins: "MultiPin" => MultiPin,
        pin_positions: "PinPosition" => PinPosition,
        plates: "Plate" => Plate,
        plate_wells: "PlateWell" => PlateWell,
        well_drops: "WellDrop" => WellDrop,
        drop_regions: "DropRegion" => DropRegion,
        crystals: "Crystal" => Crystal,
        macromolecule_samples: "MacromoleculeSample" => MacromoleculeSample,
        macromolecules: "Macromolecule" => Macromolecule,
        media: "Medium" => Medium,
    }
    stubs {}
}

/// Which of the three message schemas a message follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// `MxlimsMessage` (stubs allowed).
    Full,
    /// `MxlimsMessageStrict` (no stubs).
    Strict,
    /// `ShipmentMessage`.
    Shipment,
}

/// The object dictionaries of an MXLIMS message, in the order mxpipe writes them.
pub const OBJECT_DICTIONARIES: &[&str] = &[
    "MxExperiment",
    "MxProcessing",
    "VolumeScan",
    "CollectionSweep",
    "ReflectionSet",
    "Shipment",
    "Dewar",
    "Puck",
    "Pin",
    "MultiPin",
    "PinPosition",
    "Plate",
    "PlateWell",
    "WellDrop",
    "DropRegion",
    "Crystal",
    "MacromoleculeSample",
    "Macromolecule",
    "Medium",
];

/// The stub dictionaries of an MXLIMS message (objects referred to, not described).
pub const STUB_DICTIONARIES: &[&str] = &["Job", "Dataset", "Sample", "LogisticalSample"];

impl MessageKind {
    /// The upstream schema name.
    pub fn schema_name(self) -> &'static str {
        match self {
            MessageKind::Full => "MxlimsMessage",
            MessageKind::Strict => "MxlimsMessageStrict",
            MessageKind::Shipment => "ShipmentMessage",
        }
    }
    /// Pick the schema for a message: a `Shipment` without jobs or datasets is a ShipmentMessage,
    /// a message with stub dictionaries is an MxlimsMessage, anything else is MxlimsMessageStrict.
    pub fn detect(value: &serde_json::Value) -> MessageKind {
        let Some(obj) = value.as_object() else {
            return MessageKind::Strict;
        };
        const JOB_OR_DATA: [&str; 5] = [
            "MxExperiment",
            "MxProcessing",
            "VolumeScan",
            "CollectionSweep",
            "ReflectionSet",
        ];
        if STUB_DICTIONARIES.iter().any(|k| obj.contains_key(*k)) {
            MessageKind::Full
        } else if obj.contains_key("Shipment") && !JOB_OR_DATA.iter().any(|k| obj.contains_key(*k))
        {
            MessageKind::Shipment
        } else {
            MessageKind::Strict
        }
    }
}

/// A message of any of the three kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyMessage {
    /// An `MxlimsMessage`.
    Full(Box<MxlimsMessage>),
    /// An `MxlimsMessageStrict`.
    Strict(Box<MxlimsMessageStrict>),
    /// A `ShipmentMessage`.
    Shipment(Box<ShipmentMessage>),
}

impl AnyMessage {
    /// Deserialise as the given kind, reporting the JSON path of the first problem.
    pub fn from_value(
        kind: MessageKind,
        value: &serde_json::Value,
    ) -> Result<Self, (String, String)> {
        fn parse<T: serde::de::DeserializeOwned>(
            v: &serde_json::Value,
        ) -> Result<T, (String, String)> {
            serde_path_to_error::deserialize(v).map_err(|e| {
                (
                    crate::pointer::path_to_pointer(e.path()),
                    e.inner().to_string(),
                )
            })
        }
        Ok(match kind {
            MessageKind::Full => AnyMessage::Full(Box::new(parse(value)?)),
            MessageKind::Strict => AnyMessage::Strict(Box::new(parse(value)?)),
            MessageKind::Shipment => AnyMessage::Shipment(Box::new(parse(value)?)),
        })
    }
    /// The kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            AnyMessage::Full(_) => MessageKind::Full,
            AnyMessage::Strict(_) => MessageKind::Strict,
            AnyMessage::Shipment(_) => MessageKind::Shipment,
        }
    }
    /// Every object with its dictionary and key.
    pub fn entries(&self) -> Vec<Entry<'_>> {
        match self {
            AnyMessage::Full(m) => m.entries(),
            AnyMessage::Strict(m) => m.entries(),
            AnyMessage::Shipment(m) => m.entries(),
        }
    }
    /// Every stub.
    pub fn stubs(&self) -> Vec<StubEntry<'_>> {
        match self {
            AnyMessage::Full(m) => m.stubs(),
            AnyMessage::Strict(_) | AnyMessage::Shipment(_) => Vec::new(),
        }
    }
    /// Dictionaries present but empty.
    pub fn empty_dicts(&self) -> Vec<&'static str> {
        match self {
            AnyMessage::Full(m) => m.empty_dicts(),
            AnyMessage::Strict(m) => m.empty_dicts(),
            AnyMessage::Shipment(m) => m.empty_dicts(),
        }
    }
    /// Unknown top-level keys (only a strict message can hold them).
    pub fn unknown_top_level_keys(&self) -> Vec<&str> {
        match self {
            AnyMessage::Strict(m) => m.extra.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
    /// Serialise back to JSON.
    pub fn to_value(&self) -> serde_json::Value {
        let result = match self {
            AnyMessage::Full(m) => serde_json::to_value(m),
            AnyMessage::Strict(m) => serde_json::to_value(m),
            AnyMessage::Shipment(m) => serde_json::to_value(m),
        };
        result.expect("a typed message always serialises")
    }
    /// Fill in the uuid of every link whose target exists and has a uuid (or is a stub).
    /// Returns the number of links that could not be resolved.
    pub fn resolve_links(&mut self) -> usize {
        let mut uuids: std::collections::HashMap<String, MxUuid> = self
            .entries()
            .iter()
            .filter_map(|e| {
                e.object
                    .as_object()
                    .uuid()
                    .map(|u| (format!("#/{}/{}", e.dict, e.key), u))
            })
            .collect();
        for stub in self.stubs() {
            uuids.insert(format!("#/{}/{}", stub.dict, stub.key), stub.uuid);
        }
        let entries = match self {
            AnyMessage::Full(m) => m.entries_mut(),
            AnyMessage::Strict(m) => m.entries_mut(),
            AnyMessage::Shipment(m) => m.entries_mut(),
        };
        let mut unresolved = 0;
        for (_, _, object) in entries {
            for link in object.links_mut() {
                link.uuid = uuids.get(&link.target).copied();
                if link.uuid.is_none() {
                    unresolved += 1;
                }
            }
        }
        unresolved
    }
    /// Give every object without a uuid a new random one (done on ingest).
    pub fn mint_missing_uuids(&mut self) -> usize {
        let entries = match self {
            AnyMessage::Full(m) => m.entries_mut(),
            AnyMessage::Strict(m) => m.entries_mut(),
            AnyMessage::Shipment(m) => m.entries_mut(),
        };
        let mut minted = 0;
        for (_, _, object) in entries {
            if object.uuid().is_none() {
                object.set_uuid(MxUuid::new_v4());
                minted += 1;
            }
        }
        minted
    }
}

/// Borrow a concrete object as [`AnyObject`].
pub trait AsAnyObject {
    /// The object as [`AnyObject`].
    fn as_any_object(&self) -> AnyObject<'_>;
}

macro_rules! as_any {
    ($($ty:ident),*) => {$(
        impl AsAnyObject for $ty {
            fn as_any_object(&self) -> AnyObject<'_> { AnyObject::$ty(self) }
        }
    )*};
}
for_each_object_type!(items as_any);

impl AnyObject<'_> {
    /// The object as JSON, exactly as it is written in a message.
    pub fn to_value(&self) -> serde_json::Value {
        macro_rules! ser {
            ($($v:ident),*) => { match self { $(AnyObject::$v(o) => serde_json::to_value(o),)* } };
        }
        for_each_object_type!(ser).expect("a typed object always serialises")
    }
}

impl AnyMessage {
    /// Every object, mutable, with its dictionary and key.
    pub fn entries_mut(&mut self) -> Vec<(&'static str, &str, &mut dyn MxlimsObject)> {
        match self {
            AnyMessage::Full(m) => m.entries_mut(),
            AnyMessage::Strict(m) => m.entries_mut(),
            AnyMessage::Shipment(m) => m.entries_mut(),
        }
    }
}
