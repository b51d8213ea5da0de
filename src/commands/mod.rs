//! One module per subcommand.

pub mod export;
pub mod generate;
pub mod icat;
pub mod ingest;
pub mod lineage;
pub mod pid;
pub mod query;
pub mod schema;
pub mod scicat;
pub mod serve;
pub mod store;
pub mod table;
pub mod validate;
