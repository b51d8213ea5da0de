//! One module per command: its clap arguments and its `run`.

pub mod cluster;
pub mod export;
pub mod generate;
pub mod import;
pub mod ingest;
pub mod lineage;
pub mod pid;
pub mod query;
pub mod repackage;
pub mod schema;
pub mod serve;
pub mod shell;
pub mod store;
pub mod validate;
