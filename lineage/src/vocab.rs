//! The vocabulary of the lineage graph: PROV-O for the life history, Dublin Core for
//! identifiers, our own `mxp:` terms for MX specifics. `schemas/lineage.shacl.ttl` documents
//! the shape; `docs/lineage.md` explains it.
//!
//! | node | types | links |
//! |---|---|---|
//! | sample (MacromoleculeSample, Macromolecule, Medium) | `prov:Entity`, `mxp:Sample` / `mxp:Macromolecule` / `mxp:Medium` | `prov:wasDerivedFrom` its macromolecule; `dcterms:identifier` its PID |
//! | crystal | `prov:Entity`, `mxp:Crystal` | `prov:wasDerivedFrom` its sample; `mxp:barcode` (never an identity) |
//! | experiment | `prov:Activity`, `mxp:Experiment` | `prov:used` the crystal (else the sample); `prov:startedAtTime` |
//! | sweep | `prov:Entity`, `mxp:Sweep` | `prov:wasGeneratedBy` its experiment |
//! | processing | `prov:Activity`, `mxp:Processing` | `prov:used` every input sweep it resolves to, at any site |
//! | reflection set | `prov:Entity`, `mxp:ReflectionSet` | `prov:wasGeneratedBy` its processing; `prov:wasDerivedFrom` its input sweeps |
//! | catalogue record | `mxp:CatalogueRecord` | reached by `rdfs:seeAlso` from the object; `mxp:catalogue`, `mxp:catalogueTable`, `mxp:catalogueId` |
//!
//! Node IRIs: the PID where there is one (a DOI as `https://doi.org/…`, a URL or URN as is),
//! else `urn:uuid:<uuid>`. Every node has `mxp:uuid` and `mxp:site`.

/// PROV-O.
pub const PROV: &str = "http://www.w3.org/ns/prov#";
/// mxpipe's terms (a placeholder base until a w3id.org entry exists).
pub const MXP: &str = "https://w3id.org/mxpipe/ns#";
/// Dublin Core terms.
pub const DCTERMS: &str = "http://purl.org/dc/terms/";
/// RDF Schema.
pub const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
/// RDF.
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// OWL.
pub const OWL: &str = "http://www.w3.org/2002/07/owl#";
/// XML Schema datatypes.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// Prefixes written into Turtle and JSON-LD, and declared for every SPARQL query.
pub const PREFIXES: &[(&str, &str)] = &[
    ("prov", PROV),
    ("mxp", MXP),
    ("dcterms", DCTERMS),
    ("rdfs", RDFS),
    ("rdf", RDF),
    ("owl", OWL),
    ("xsd", XSD),
];

/// The SPARQL `PREFIX` lines for [`PREFIXES`].
pub fn sparql_prefixes() -> String {
    PREFIXES
        .iter()
        .map(|(p, i)| format!("PREFIX {p}: <{i}>\n"))
        .collect()
}

/// The IRI of a node: from its PID where there is one, else from its uuid.
pub fn node_iri(pid: Option<&str>, uuid: &str) -> String {
    match pid.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if p.starts_with("10.") => format!("https://doi.org/{p}"),
        Some(p) if p.starts_with("doi:") => format!("https://doi.org/{}", &p[4..]),
        Some(p)
            if (p.starts_with("http://") || p.starts_with("https://") || p.starts_with("urn:"))
                && !p.contains(char::is_whitespace) =>
        {
            p.to_owned()
        }
        _ => format!("urn:uuid:{uuid}"),
    }
}
