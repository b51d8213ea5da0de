//! Typed links between objects of a message: `{"$ref": "#/Type/TypeN"}`.
//!
//! A [`Ref<T>`] knows at compile time which object types it may point to (`T` is a target set such
//! as [`Mountable`]). The JSON form is kept verbatim; after loading, [`crate::AnyMessage::resolve_links`]
//! fills in the uuid of the object each link points to.

use std::borrow::Cow;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::primitives::MxUuid;

/// The untyped content of a link: the JSON reference, the optional `mxlimsType` hint, and the
/// uuid of the target once resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// JSON reference into the message, e.g. `#/Crystal/Crystal1`.
    #[serde(rename = "$ref")]
    pub target: String,
    /// Optional type of the target, as some producers write it.
    #[serde(
        rename = "mxlimsType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub mxlims_type: Option<String>,
    /// Uuid of the target object, filled by link resolution (never serialised).
    #[serde(skip)]
    pub uuid: Option<MxUuid>,
}

impl Link {
    /// A link to `#/<type_name>/<key>`.
    pub fn to(type_name: &str, key: &str) -> Self {
        Link {
            target: format!("#/{type_name}/{key}"),
            mxlims_type: None,
            uuid: None,
        }
    }
    /// Split `#/Type/Key` into (`Type`, `Key`); `None` if the reference has another shape.
    pub fn type_and_key(&self) -> Option<(&str, &str)> {
        let rest = self.target.strip_prefix("#/")?;
        let (ty, key) = rest.split_once('/')?;
        if key.contains('/') {
            None
        } else {
            Some((ty, key))
        }
    }
}

/// A set of object types a link may point to.
pub trait Targets {
    /// Name of the set, used for schema names.
    const NAME: &'static str;
    /// The allowed target type names.
    const TYPES: &'static [&'static str];
}

/// A typed link whose target must be one of `T::TYPES`.
pub struct Ref<T: Targets> {
    /// The link itself.
    pub link: Link,
    _targets: PhantomData<fn() -> T>,
}

impl<T: Targets> Ref<T> {
    /// A link to `#/<type_name>/<key>` (not checked against `T`; the semantic layer does that).
    pub fn to(type_name: &str, key: &str) -> Self {
        Ref {
            link: Link::to(type_name, key),
            _targets: PhantomData,
        }
    }
    /// The allowed target types.
    pub fn allowed() -> &'static [&'static str] {
        T::TYPES
    }
}

impl<T: Targets> std::ops::Deref for Ref<T> {
    type Target = Link;
    fn deref(&self) -> &Link {
        &self.link
    }
}
impl<T: Targets> std::ops::DerefMut for Ref<T> {
    fn deref_mut(&mut self) -> &mut Link {
        &mut self.link
    }
}
impl<T: Targets> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref {
            link: self.link.clone(),
            _targets: PhantomData,
        }
    }
}
impl<T: Targets> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.link == other.link
    }
}
impl<T: Targets> std::fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ref<{}>({})", T::NAME, self.link.target)
    }
}
impl<T: Targets> Serialize for Ref<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.link.serialize(s)
    }
}
impl<'de, T: Targets> Deserialize<'de> for Ref<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Ref {
            link: Link::deserialize(d)?,
            _targets: PhantomData,
        })
    }
}
impl<T: Targets> JsonSchema for Ref<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Ref", T::NAME).into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let alternatives: Vec<String> = T::TYPES.iter().map(|t| format!("{t}/{t}")).collect();
        let pattern = format!("^#/(?:{})[1-9][0-9]*$", alternatives.join("|"));
        json_schema!({
            "type": "object",
            "description": format!("Link to an object of type {}", T::TYPES.join(" | ")),
            "properties": {
                "$ref": {"type": "string", "pattern": pattern},
                "mxlimsType": {"type": "string", "enum": T::TYPES}
            },
            "required": ["$ref"],
            "additionalProperties": false
        })
    }
}

macro_rules! targets {
    ($($(#[$m:meta])* $name:ident = [$($t:literal),+];)*) => {$(
        $(#[$m])*
        pub struct $name;
        impl Targets for $name {
            const NAME: &'static str = stringify!($name);
            const TYPES: &'static [&'static str] = &[$($t),+];
        }
    )*};
}

targets! {
    /// A MacromoleculeSample.
    MacromoleculeSampleT = ["MacromoleculeSample"];
    /// A MacromoleculeSample or a generic Sample stub.
    AnySampleT = ["MacromoleculeSample", "Sample"];
    /// A Macromolecule.
    MacromoleculeT = ["Macromolecule"];
    /// A Medium.
    MediumT = ["Medium"];
    /// An MxExperiment.
    MxExperimentT = ["MxExperiment"];
    /// An MxExperiment or a generic Job stub.
    ExperimentOrJobT = ["MxExperiment", "Job"];
    /// An MxProcessing.
    MxProcessingT = ["MxProcessing"];
    /// A CollectionSweep.
    CollectionSweepT = ["CollectionSweep"];
    /// A CollectionSweep or a generic Dataset stub.
    SweepOrDatasetT = ["CollectionSweep", "Dataset"];
    /// A ReflectionSet.
    ReflectionSetT = ["ReflectionSet"];
    /// A ReflectionSet or a generic Dataset stub.
    ReflectionSetOrDatasetT = ["ReflectionSet", "Dataset"];
    /// The logistical samples a sample can be mounted in or on.
    Mountable = ["Crystal", "Pin", "PinPosition", "PlateWell", "WellDrop", "DropRegion"];
    /// A mountable logistical sample or a generic LogisticalSample stub.
    MountableOrStub = ["Crystal", "Pin", "PinPosition", "PlateWell", "WellDrop", "DropRegion", "LogisticalSample"];
    /// A Shipment.
    ShipmentT = ["Shipment"];
    /// A Dewar.
    DewarT = ["Dewar"];
    /// A Puck.
    PuckT = ["Puck"];
    /// A MultiPin.
    MultiPinT = ["MultiPin"];
    /// A Plate.
    PlateT = ["Plate"];
    /// A PlateWell.
    PlateWellT = ["PlateWell"];
    /// A WellDrop.
    WellDropT = ["WellDrop"];
    /// What can hold a Crystal.
    CrystalHolder = ["Pin", "PinPosition", "DropRegion"];
}
