//! End-to-end tests of mxpipe (one integration-test binary; modules per area).

mod cif_dials;
mod cli;
mod common;
mod conformance;
mod generate;
mod icat;
mod ispyb;
mod lineage;
mod pids;
mod policy;
mod probes;
mod processing;
mod queries;
mod readers;
mod repackage;
mod robustness;
mod roundtrip;
mod s3;
mod schemas;
mod scicat;
mod serve;
mod ssx;
mod store;
mod visit;
mod web;
