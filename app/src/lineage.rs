//! The lineage graph (PROV) of the context's sites: whole, or the neighbourhood of one object.

use std::io::Write;
use std::path::Path;

use mxpipe_lineage::{Graph, RdfOutput};

use crate::error::{AppError, AppResult};
use datafusion::prelude::SessionContext;

/// Build the graph of an opened session (`Context::session`) — only the part around `around`
/// when given.
pub async fn graph(session: &SessionContext, around: Option<&str>) -> AppResult<Graph> {
    let graph = match around {
        Some(id) => mxpipe_lineage::build_around(session, id).await,
        None => mxpipe_lineage::build(session).await,
    }
    .map_err(AppError::failed)?;
    tracing::info!(
        triples = graph.len(),
        seconds = graph.build_seconds,
        "lineage graph built"
    );
    Ok(graph)
}

/// Write the graph as RDF to `out` (a file) or standard output; errors name the file.
pub fn write_rdf(graph: &Graph, format: RdfOutput, out: Option<&Path>) -> Result<(), String> {
    let sink: Box<dyn Write> = match out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("{}: cannot create: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let shown = out
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default();
    let mut w = graph
        .dump(format, std::io::BufWriter::new(sink))
        .map_err(|e| format!("{shown}{e}"))?;
    w.flush().map_err(|e| format!("{shown}{e}"))
}

/// A query's text: as given, or from `@FILE` (`@-`: standard input).
pub fn query_text(query: &str) -> AppResult<String> {
    match query.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                AppError::Usage(format!("reading the query from standard input: {e}"))
            })?;
            Ok(s)
        }
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| AppError::Usage(format!("{file}: cannot read the query: {e}"))),
        None => Ok(query.to_owned()),
    }
}
