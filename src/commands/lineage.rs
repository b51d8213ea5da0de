//! `mxpipe lineage`, `mxpipe sparql` and `mxpipe export rdf`: the lineage graph of one or many
//! sites (the same `--site NAME=LOCATION` list as `mxpipe query`), built in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use mxpipe_lineage::{Graph, RdfOutput, sparql, tree};

use crate::cli::TableFormat;
use crate::commands::query::{QueryArgs, session};
use crate::commands::table::print_table;

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

/// `mxpipe lineage`.
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
}

/// `mxpipe sparql`.
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

/// `mxpipe export rdf`.
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

/// Open the sites and build the graph — only the part around `around` when given (exit status
/// on failure).
async fn graph(args: &QueryArgs, config: Option<&Path>, around: Option<&str>) -> Result<Graph, u8> {
    let ctx = session(args, config).await?;
    let graph = match around {
        Some(id) => mxpipe_lineage::build_around(&ctx, id).await,
        None => mxpipe_lineage::build(&ctx).await,
    }
    .map_err(|e| fail(e, 1))?;
    tracing::info!(
        triples = graph.len(),
        seconds = graph.build_seconds,
        "lineage graph built"
    );
    Ok(graph)
}

/// `mxpipe lineage`.
pub async fn lineage(args: LineageArgs, sites: QueryArgs, config: Option<&Path>) -> u8 {
    let graph = match graph(&sites, config, Some(args.id.trim())).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let nodes = match tree::lineage(&graph, args.id.trim()) {
        Ok(n) => n,
        Err(e) => return fail(e, 1),
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
            Err(e) => return fail(e, 1),
        },
    };
    match result {
        Err(e) if crate::cli::is_broken_pipe(&e.to_string()) => 0,
        Err(e) => fail(format!("writing the lineage: {e}"), 1),
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
pub async fn sparql(args: SparqlArgs, sites: QueryArgs, config: Option<&Path>) -> u8 {
    let query = match args.query.strip_prefix('@') {
        Some("-") => {
            let mut s = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s) {
                return fail(format!("reading the query from standard input: {e}"), 2);
            }
            s
        }
        Some(file) => match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => return fail(format!("{file}: cannot read the query: {e}"), 2),
        },
        None => args.query.clone(),
    };
    let graph = match graph(&sites, config, None).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let answer = match sparql::run(&graph, &query) {
        Ok(a) => a,
        Err(e) => return fail(e, 1),
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
pub async fn export_rdf(args: RdfArgs, sites: QueryArgs, config: Option<&Path>) -> u8 {
    let graph = match graph(&sites, config, None).await {
        Ok(g) => g,
        Err(code) => return code,
    };
    let format = match args.format {
        RdfFormatArg::Turtle => RdfOutput::Turtle,
        RdfFormatArg::Nquads => RdfOutput::NQuads,
        RdfFormatArg::Jsonld => RdfOutput::JsonLd,
    };
    let result = match &args.out {
        Some(path) => std::fs::File::create(path)
            .map_err(|e| format!("{}: cannot create: {e}", path.display()))
            .and_then(|f| {
                graph
                    .dump(format, std::io::BufWriter::new(f))
                    .and_then(|mut w| {
                        w.flush()
                            .map_err(|e| mxpipe_lineage::LineageError::Graph(e.to_string()))
                    })
                    .map_err(|e| format!("{}: {e}", path.display()))
            }),
        None => graph
            .dump(format, std::io::BufWriter::new(std::io::stdout().lock()))
            .and_then(|mut w| {
                w.flush()
                    .map_err(|e| mxpipe_lineage::LineageError::Graph(e.to_string()))
            })
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => {
            eprintln!(
                "{} triples ({:.2} s to build the graph, of which {:.2} s reading the stores)",
                graph.len(),
                graph.build_seconds,
                graph.read_seconds
            );
            0
        }
        Err(e) if crate::cli::is_broken_pipe(&e) => 0,
        Err(e) => fail(e, 1),
    }
}

fn fail(message: impl std::fmt::Display, code: u8) -> u8 {
    eprintln!("error: {message}");
    code
}
