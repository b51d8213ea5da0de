//! # mxpipe-export
//!
//! The store's records out to the catalogues facilities run. One module per target:
//! - [`ispyb`]: ISPyB (DLS flavour, schema 5.x) in MariaDB — one transaction per experiment,
//!   an id map in the store so re-exports update instead of inserting;
//! - [`icat`]: ICAT — icatdata XML, ESRF dataset messages or the REST API;
//! - [`scicat`]: SciCat — v4 datasets, samples, origdatablocks over its HTTP API;
//! - [`autoproc_xml`]: the ISPyB `AutoProcContainer` XML of a processing result (the zero-code
//!   ingestion path of `ispyb-api`).
//!
//! Exporters read the store through [`records::Records`] (everything committed, loaded once);
//! catalogue targets run on one driver ([`driver::export`], the [`driver::Catalogue`] seam).

pub mod autoproc_xml;
pub mod detector;
pub mod driver;
pub mod icat;
pub mod ispyb;
pub mod mmcif;
pub mod records;
pub mod scicat;
pub mod xml;

pub use records::{Filter, Records};

/// Errors of the exporters.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store could not be read or written.
    #[error("store: {0}")]
    Store(#[source] Box<mxpipe_store::StoreError>),
    /// The id-map entries of committed catalogue writes could not be recorded in the store.
    #[error(
        "store: {source}; the last {entries} id-map entries were committed to {target} but not recorded: a re-export refuses those experiments instead of duplicating them"
    )]
    IdMapNotRecorded {
        /// Why the store refused.
        source: Box<mxpipe_store::StoreError>,
        /// How many entries were lost.
        entries: usize,
        /// The catalogue they were written to.
        target: String,
    },
    /// Nothing (or something wrong) selected.
    #[error("{0}")]
    Selection(String),
    /// Bad configuration or flags.
    #[error("{0}")]
    Config(String),
    /// The catalogue's database failed.
    #[error("{0}")]
    Database(String),
    /// The catalogue's schema version is not one this exporter knows.
    #[error("{0}")]
    SchemaVersion(String),
}

impl From<mxpipe_store::StoreError> for ExportError {
    fn from(e: mxpipe_store::StoreError) -> Self {
        ExportError::Store(Box::new(e))
    }
}
