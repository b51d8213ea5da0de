//! The `mxpipe` command-line tool: thin glue between the user, the file system and the crates
//! that do the work (`mxpipe-model`, later `ingest`, `queries`, `export`).

pub mod cli;
pub mod commands;
pub mod config;
pub mod schema_dir;

pub use cli::run;
