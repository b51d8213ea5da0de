//! The lineage graph: every sample, crystal, experiment, sweep, processing job and reflection set
//! of one or many sites' stores as PROV-O RDF in an in-memory oxigraph store, with SPARQL over
//! it and a sample's life as a tree.
//!
//! - [`build`] reads the query views of a DataFusion session (one site or many, as `mxpipe
//!   query` opens them) and writes the graph (shape: [`vocab`], `schemas/lineage.shacl.ttl`);
//! - [`tree::lineage`] follows a sample or crystal (by PID, uuid or IRI) through everything
//!   derived from it, across sites;
//! - [`sparql::run`] answers SPARQL as rows, [`Graph::dump`] writes Turtle, N-Quads or JSON-LD.

pub mod build;
pub mod sparql;
pub mod tree;
pub mod vocab;

use oxigraph::io::{JsonLdProfileSet, RdfFormat, RdfSerializer};
use oxigraph::model::GraphNameRef;

pub use build::{build, build_around};

/// Errors of the lineage graph.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// Reading the stores.
    #[error("reading the stores: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// The RDF store.
    #[error("lineage graph: {0}")]
    Graph(String),
    /// A SPARQL query that does not parse or fails.
    #[error("SPARQL: {0}")]
    Sparql(String),
    /// Nothing matches the identifier asked for.
    #[error("{0}")]
    NotFound(String),
}

/// The graph and how it was built.
pub struct Graph {
    /// The triples (default graph).
    pub store: oxigraph::store::Store,
    /// Build time in seconds (reading the stores + inserting).
    pub build_seconds: f64,
    /// Of which reading the stores (DataFusion over the views).
    pub read_seconds: f64,
}

/// RDF serialisations of the whole graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdfOutput {
    /// Turtle with the prefixes of [`vocab::PREFIXES`].
    Turtle,
    /// N-Quads (one triple per line, default graph).
    NQuads,
    /// JSON-LD (expanded: full IRIs as keys, with an `@context` naming the prefixes).
    JsonLd,
}

impl Graph {
    /// Number of triples.
    pub fn len(&self) -> usize {
        self.store.len().unwrap_or(0)
    }
    /// True when the graph has no triple.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The triples whose subject is one of `subjects` (IRIs), as a new graph.
    pub fn subgraph(&self, subjects: &[String]) -> Result<Graph, LineageError> {
        let err = |e: &dyn std::fmt::Display| LineageError::Graph(e.to_string());
        let store = oxigraph::store::Store::new().map_err(|e| err(&e))?;
        for s in subjects {
            let Ok(node) = oxigraph::model::NamedNode::new(s.as_str()) else {
                continue;
            };
            let quads = self
                .store
                .quads_for_pattern(Some(node.as_ref().into()), None, None, None)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(&e))?;
            store.extend(quads).map_err(|e| err(&e))?;
        }
        Ok(Graph {
            store,
            build_seconds: 0.0,
            read_seconds: 0.0,
        })
    }
    /// Write the whole graph.
    pub fn dump<W: std::io::Write>(&self, format: RdfOutput, out: W) -> Result<W, LineageError> {
        let format_of = match format {
            RdfOutput::Turtle => RdfFormat::Turtle,
            RdfOutput::NQuads => RdfFormat::NQuads,
            RdfOutput::JsonLd => RdfFormat::JsonLd {
                profile: JsonLdProfileSet::empty(),
            },
        };
        let mut serializer = RdfSerializer::from_format(format_of);
        for (prefix, iri) in vocab::PREFIXES {
            serializer = serializer
                .with_prefix(*prefix, *iri)
                .map_err(|e| LineageError::Graph(e.to_string()))?;
        }
        let result = if format == RdfOutput::NQuads {
            self.store.dump_to_writer(serializer, out)
        } else {
            self.store
                .dump_graph_to_writer(GraphNameRef::DefaultGraph, serializer, out)
        };
        result.map_err(|e| LineageError::Graph(e.to_string()))
    }
}
