//! `mxpipe lineage`, `mxpipe sparql` and `mxpipe export rdf`: the PROV-O lineage graph of one or
//! many sites, built by the application layer, printed here.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;
use mxpipe_app::{AppError, Context};
use mxpipe_lineage::{Graph, RdfOutput, sparql, tree};

use crate::cli::{fail, is_broken_pipe};
use crate::output::{TableFormat, print_table};

/// How `mxpipe lineage` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TreeFormat {
    /// An indented tree.
    Tree,
    /// Nested JSON objects (kind, iri, uuid, site, pid, label, catalogue, children).
    Json,
    /// The part of the graph the tree covers, as Turtle.
    Turtle,
}

/// A sample's life across sites: every experiment, sweep, processing and merged result
/// derived from a sample or crystal (by PID, uuid or IRI), from the PROV-O lineage graph.
///
/// The graph is built in memory from the sites (`--site NAME=LOCATION`, as for `query`).
/// Exit status 1 when nothing has that identifier.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  mxpipe lineage https://pid.example-facility.org/s/7f3a-9c2k-x
  mxpipe lineage 10.80000/w76y-4s92-q --site DLS=/data/dls-store --site ESRF=s3://mx/esrf
  mxpipe lineage 0b5e6f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b --format json | jq '.[0].children'")]
pub struct LineageArgs {
    /// The sample or crystal: its PID, its uuid or its IRI.
    pub id: String,
    /// Output.
    #[arg(long, value_enum, default_value_t = TreeFormat::Tree)]
    pub format: TreeFormat,
    /// Skip unreachable sites with a warning instead of failing.
    #[arg(long)]
    pub allow_missing_sites: bool,
    /// The sample's life as the stores held it then (an ingest id, an RFC 3339 time or a date).
    #[arg(long, value_name = "INGEST_ID|TIME")]
    pub as_of: Option<String>,
}

/// Run SPARQL over the lineage graph of one or many sites (samples, crystals, experiments,
/// sweeps, processing, reflection sets and catalogue records as PROV-O).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prefixes prov:, mxp:, dcterms:, rdfs:, rdf:, owl: and xsd: are declared. The graph's shape:
docs/lineage.md and schemas/lineage.shacl.ttl.

Examples:
  mxpipe sparql 'SELECT ?s ?name WHERE { ?s a mxp:Sample ; rdfs:label ?name }'
  mxpipe sparql --format csv 'SELECT DISTINCT ?r WHERE { ?r a mxp:ReflectionSet ;
      (prov:wasDerivedFrom|prov:wasGeneratedBy|prov:used)+ ?x . ?x dcterms:identifier \"10.80000/w76y-4s92-q\" }'
  mxpipe sparql @query.rq --site DLS=/data/dls-store --site ESRF=/data/esrf-store")]
pub struct SparqlArgs {
    /// The query, or @FILE to read it from a file (@- for standard input).
    pub query: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
    /// Skip unreachable sites with a warning instead of failing.
    #[arg(long)]
    pub allow_missing_sites: bool,
}

/// RDF formats of `mxpipe export rdf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RdfFormatArg {
    /// Turtle.
    Turtle,
    /// N-Quads.
    Nquads,
    /// JSON-LD (expanded form).
    Jsonld,
}

/// Write the lineage graph (PROV-O) of one or many sites as Turtle, N-Quads or JSON-LD; its
/// shape is documented by the SHACL shapes in schemas/lineage.shacl.ttl.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  mxpipe export rdf --out lineage.ttl
  mxpipe export rdf --format nquads --site DLS=/data/dls-store --site ESRF=/data/esrf-store > all.nq
  pyshacl -s schemas/lineage.shacl.ttl lineage.ttl     # check it against the documented shape")]
pub struct RdfArgs {
    /// Serialisation.
    #[arg(long, value_enum, default_value_t = RdfFormatArg::Turtle)]
    pub format: RdfFormatArg,
    /// Write to a file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Skip unreachable sites with a warning instead of failing.
    #[arg(long)]
    pub allow_missing_sites: bool,
}

/// The graph (around `around` when given); skipped sites are warned about as they are opened.
async fn graph(
    ctx: &Context,
    allow_missing_sites: bool,
    around: Option<&str>,
    as_of: Option<&str>,
) -> Result<Graph, u8> {
    let session = crate::commands::query::session(
        ctx,
        allow_missing_sites,
        as_of,
        // The lineage graph reads by keys: in this process, whatever `[cluster] url` says.
        &mxpipe_queries::cluster::Engine::Local,
    )
    .await?;
    mxpipe_app::lineage::graph(&session, around)
        .await
        .map_err(fail)
}

/// `mxpipe lineage`.
pub async fn lineage(args: LineageArgs, ctx: &Context) -> u8 {
    let id = args.id.trim();
    let graph = match graph(
        ctx,
        args.allow_missing_sites,
        Some(id),
        args.as_of.as_deref(),
    )
    .await
    {
        Ok(g) => g,
        Err(code) => return code,
    };
    let nodes = match tree::lineage(&graph, id) {
        Ok(n) => n,
        Err(e) => return fail(AppError::failed(e)),
    };
    let mut out = std::io::stdout().lock();
    let result = match args.format {
        TreeFormat::Tree => out.write_all(tree::render(&nodes).as_bytes()),
        TreeFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&nodes).expect("serialisable")
        ),
        TreeFormat::Turtle => match graph
            .subgraph(&collect_iris(&nodes))
            .and_then(|g| g.dump(RdfOutput::Turtle, Vec::new()))
        {
            Ok(bytes) => out.write_all(&bytes),
            Err(e) => return fail(AppError::failed(e)),
        },
    };
    match result {
        Err(e) if is_broken_pipe(&e.to_string()) => 0,
        Err(e) => fail(AppError::Failed(format!("writing the lineage: {e}"))),
        Ok(()) => 0,
    }
}

fn collect_iris(nodes: &[tree::Node]) -> Vec<String> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(n.iri.clone());
        out.extend(collect_iris(&n.children));
    }
    out.sort();
    out.dedup();
    out
}

/// `mxpipe sparql`.
pub async fn sparql(args: SparqlArgs, ctx: &Context) -> u8 {
    let query = match mxpipe_app::lineage::query_text(&args.query) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let graph = match graph(ctx, args.allow_missing_sites, None, None).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let answer = match sparql::run(&graph, &query) {
        Ok(a) => a,
        Err(e) => return fail(AppError::failed(e)),
    };
    let header: Vec<&str> = answer.columns.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = answer
        .rows
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    print_table(&header, &rows, args.format);
    0
}

/// `mxpipe export rdf`.
pub async fn export_rdf(args: RdfArgs, ctx: &Context) -> u8 {
    let graph = match graph(ctx, args.allow_missing_sites, None, None).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let format = match args.format {
        RdfFormatArg::Turtle => RdfOutput::Turtle,
        RdfFormatArg::Nquads => RdfOutput::NQuads,
        RdfFormatArg::Jsonld => RdfOutput::JsonLd,
    };
    let written = mxpipe_app::lineage::write_rdf(&graph, format, args.out.as_deref());
    match written {
        Ok(()) => {
            eprintln!(
                "{} triples ({:.2} s to build the graph, of which {:.2} s reading the stores)",
                graph.len(),
                graph.build_seconds,
                graph.read_seconds
            );
            0
        }
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => fail(AppError::Failed(e)),
    }
}
