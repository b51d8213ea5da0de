//! Importers of legacy catalogues into mxpipe's model and store. One module per source; today
//! [`ispyb`]: a legacy ISPyB database (schema 5.x) read through a SELECT-only user, its rows
//! normalised by named rules ([`ispyb::rules`]) and committed through the same validation and
//! store commit as every ingest. Design and rules: `docs/ispyb-import.md`.

pub mod ispyb;
