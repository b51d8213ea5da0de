//! # mxpipe-model
//!
//! A typed data model of **MXLIMS 0.6.13** (the community JSON-Schema model for macromolecular
//! crystallography), with mxpipe's namespaced extensions (session/visit, SSX run, persistent sample
//! identifier) and two-layer validation. Pure data and validation: no I/O beyond serde.
//!
//! ```
//! use mxpipe_model::validate::{validate_str, Options, Target};
//! let text = r#"{"version": "0.6.13", "Macromolecule": {"Macromolecule1": {"mxlimsType": "Macromolecule", "acronym": "lyso"}}}"#;
//! let report = validate_str(text, &Target::AutoMessage, &Options::default()).unwrap();
//! assert!(report.is_valid());
//! ```

pub mod datatypes;
pub mod extensions;
pub mod facilities;
pub mod json_eq;
pub mod links;
pub mod messages;
pub mod objects;
pub mod paths;
pub mod pdbx;
pub mod pointer;
pub mod primitives;
pub mod schema;
pub mod space_groups;
pub mod units;
pub mod validate;

pub use datatypes::*;
pub use extensions::*;
pub use links::{Link, Ref, Targets};
pub use messages::*;
pub use objects::*;
pub use primitives::*;
