//! The `mxpipe` command-line tool: it parses arguments and prints. Every use case lives in the
//! library crates (`mxpipe-app` and below), where the server calls them too.

pub mod cli;
pub mod commands;
pub mod logging;
pub mod output;

pub use cli::run;
