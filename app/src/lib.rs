//! # mxpipe-app
//!
//! The application layer: one home per use case, called by the CLI (`mxpipe …`) and the server
//! (`mxpipe serve`) alike. A [`Context`] is resolved once from the configuration file and the
//! `--config`, `--store` and `--site` flags; each module is one use case:
//!
//! - [`ingest`]: ingest files and mint PIDs for what was committed ([`ingest::mint_after_commit`]
//!   is also what the server's committer calls);
//! - [`export`]: an export target built from the configuration (ISPyB, ICAT, SciCat,
//!   AutoProcContainer XML, MXLIMS JSON);
//! - [`generate`]: synthetic sites, through the pipeline's commit;
//! - [`lineage`]: the PROV graph of one or many sites;
//!
//! The binary parses arguments and prints; nothing here prints (progress goes through callbacks,
//! warnings are returned).

pub mod config;
pub mod context;
pub mod error;
pub mod export;
pub mod generate;
pub mod import;
pub mod ingest;
pub mod lineage;
pub mod schemas;

pub use config::Config;
pub use context::{Context, Flags, StoreUse};
pub use error::{AppError, AppResult};
