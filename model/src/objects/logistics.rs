//! Sample types (MacromoleculeSample, Macromolecule, Medium), logistical samples (Shipment down to
//! Crystal) and the four stubs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::{CoreClass, LinkField, MxlimsObject};
use crate::datatypes::*;
use crate::links::*;
use crate::primitives::*;

macro_rules! sample_fields {
    ($(#[$m:meta])* $name:ident links [$($lf:ident = $ljson:literal),*] { $($body:tt)* }) => {
        mxlims_object! {
            $(#[$m])* $name: Sample links [$($lf = $ljson),*] lists [] {
                /// Name.
                pub name: Option<String>,
                /// Short name.
                pub acronym: Option<String>,
                /// Campaign.
                pub campaign_name: Option<String>,
                /// Components.
                pub components: Option<Vec<SampleComponent>>,
                $($body)*
            }
        }
    };
}

sample_fields! {
    /// The sample as prepared: a macromolecule in a medium.
    MacromoleculeSample links [medium_ref = "mediumRef", parent_sample_ref = "parentSampleRef"] {
        /// The medium.
        pub medium_ref: Option<Ref<MediumT>>,
        /// The macromolecule.
        pub parent_sample_ref: Option<Ref<MacromoleculeT>>,
    }
}

mxlims_object! {
    /// A macromolecule (Sample); `acronym` is required.
    Macromolecule: Sample links [] lists [] {
        /// Name.
        pub name: Option<String>,
        /// Short name (required).
        pub acronym: String,
        /// Campaign.
        pub campaign_name: Option<String>,
        /// Components.
        pub components: Option<Vec<SampleComponent>>,
    }
}

sample_fields! {
    /// A medium (buffer, cryoprotectant...).
    Medium links [] {}
}

macro_rules! logistical {
    ($(#[$m:meta])* $name:ident links [$($lf:ident = $ljson:literal),*] { $($body:tt)* }) => {
        mxlims_object! {
            $(#[$m])* $name: LogisticalSample links [$($lf = $ljson),*] lists [] {
                /// Name.
                pub name: Option<String>,
                $($body)*
            }
        }
    };
}

logistical! {
    /// A shipment to a facility.
    Shipment links [] {
        /// Proposal code (required).
        pub proposal_code: String,
        /// Session number (> 0; absent = unattended).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub session_number: Option<i64>,
        /// Outbound lab contact.
        pub lab_contact_outbound: Option<Person>,
        /// Return lab contact.
        pub lab_contact_return: Option<Person>,
        /// Tracking device.
        pub tracking_device: Option<TrackingDevice>,
    }
}

logistical! {
    /// A dewar.
    Dewar links [container_ref = "containerRef"] {
        /// Shipment.
        pub container_ref: Option<Ref<ShipmentT>>,
        /// Barcode.
        pub barcode: Option<String>,
        /// Tracking device.
        pub tracking_device: Option<TrackingDevice>,
    }
}

logistical! {
    /// A puck.
    Puck links [container_ref = "containerRef"] {
        /// Dewar.
        pub container_ref: Option<Ref<DewarT>>,
        /// Barcode.
        pub barcode: Option<String>,
        /// Position in the dewar (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub position_in_dewar: Option<i64>,
        /// Number of positions (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub number_positions: Option<i64>,
        /// Puck type, e.g. `Unipuck`.
        pub puck_type: Option<String>,
    }
}

logistical! {
    /// A single-position pin.
    Pin links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Puck.
        pub container_ref: Option<Ref<PuckT>>,
        /// Barcode.
        pub barcode: Option<String>,
        /// Position in the puck (> 0).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub position_in_puck: Option<i64>,
        /// Loop type.
        pub loop_type: Option<String>,
        /// Holder length (mm).
        pub holder_length: Option<f64>,
    }
}

logistical! {
    /// A multi-position pin.
    MultiPin links [container_ref = "containerRef"] {
        /// Puck.
        pub container_ref: Option<Ref<PuckT>>,
        /// Barcode.
        pub barcode: Option<String>,
        /// Number of positions (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub number_positions: i64,
        /// Position in the puck (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub position_in_puck: i64,
    }
}

logistical! {
    /// One position of a multi-position pin.
    PinPosition links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// MultiPin.
        pub container_ref: Option<Ref<MultiPinT>>,
        /// Position in the pin (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub position_in_pin: i64,
    }
}

logistical! {
    /// A crystallisation plate.
    Plate links [container_ref = "containerRef"] {
        /// Shipment.
        pub container_ref: Option<Ref<ShipmentT>>,
        /// Barcode.
        pub barcode: Option<String>,
        /// Plate geometry.
        pub plate_type: Option<PlateType>,
        /// Tracking device.
        pub tracking_device: Option<TrackingDevice>,
    }
}

logistical! {
    /// A well of a plate.
    PlateWell links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Plate.
        pub container_ref: Option<Ref<PlateT>>,
        /// Row (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub row_number: i64,
        /// Column (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub column_number: i64,
    }
}

logistical! {
    /// A drop in a well.
    WellDrop links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Well.
        pub container_ref: Option<Ref<PlateWellT>>,
        /// Drop number (> 0, required).
        #[schemars(extend("exclusiveMinimum" = 0))]
        pub drop_number: i64,
    }
}

logistical! {
    /// A region of a drop (on an image or in plate coordinates).
    DropRegion links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Drop.
        pub container_ref: Option<Ref<WellDropT>>,
        /// The region (required).
        pub region: Region,
    }
}

logistical! {
    /// A crystal, used where a loop or region holds several crystals.
    Crystal links [sample_ref = "sampleRef", container_ref = "containerRef"] {
        /// Sample.
        pub sample_ref: Option<Ref<MacromoleculeSampleT>>,
        /// Holder.
        pub container_ref: Option<Ref<CrystalHolder>>,
    }
}

impl<T: Targets> Ref<T> {
    /// The allowed target types of this link.
    pub fn allowed_types(&self) -> &'static [&'static str] {
        T::TYPES
    }
}

/// Marker types naming the core classes, for stub tags.
pub mod base {
    use crate::primitives::TypeName;
    macro_rules! bases { ($($name:ident),*) => {$(
        /// Core-class marker.
        pub struct $name;
        impl TypeName for $name { const NAME: &'static str = stringify!($name); }
    )*}; }
    bases!(Job, Dataset, Sample, LogisticalSample);
}

macro_rules! stub {
    ($($name:ident => $base:ident),*) => {$(
        /// A stub: an object already known to the receiver, identified by uuid only.
        ///
        /// Upstream 0.6.13 requires `mxlimsType` on stubs but also forbids it, so no stub can validate
        /// there; mxpipe accepts `{mxlimsBaseType, uuid}` with an optional `mxlimsType` naming the
        /// concrete type of the known object.
        #[skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            /// The core class.
            pub mxlims_base_type: Tag<base::$base>,
            /// Uuid of the known object.
            pub uuid: MxUuid,
            /// Optional concrete type of the known object.
            pub mxlims_type: Option<String>,
        }
    )*};
}
stub!(JobStub => Job, DatasetStub => Dataset, SampleStub => Sample, LogisticalSampleStub => LogisticalSample);
