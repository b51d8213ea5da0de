//! The lineage graph (PROV) of the context's sites: whole, or the neighbourhood of one object.

use mxpipe_lineage::Graph;

use crate::context::Context;
use crate::error::{AppError, AppResult};

/// Open the sites and build the graph — only the part around `around` when given. Warnings name
/// skipped sites.
pub async fn graph(
    ctx: &Context,
    allow_missing_sites: bool,
    around: Option<&str>,
) -> AppResult<(Graph, Vec<String>)> {
    let (session, warnings) = ctx.session(allow_missing_sites).await?;
    let graph = match around {
        Some(id) => mxpipe_lineage::build_around(&session, id).await,
        None => mxpipe_lineage::build(&session).await,
    }
    .map_err(AppError::failed)?;
    tracing::info!(
        triples = graph.len(),
        seconds = graph.build_seconds,
        "lineage graph built"
    );
    Ok((graph, warnings))
}
