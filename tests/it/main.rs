//! End-to-end tests of mxpipe (one integration-test binary; modules per area).

mod cli;
mod common;
mod conformance;
mod policy;
mod probes;
mod processing;
mod readers;
mod roundtrip;
mod schemas;
mod store;
