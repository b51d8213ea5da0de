//! A sample's life as a tree: from a sample or crystal (found by PID, uuid or IRI) through the
//! crystals and samples derived from it, the experiments that used them, their sweeps, the
//! processing that used those sweeps (at any site) and the reflection sets it produced.

use std::collections::HashSet;

use oxigraph::model::{NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Term, TermRef};
use serde::Serialize;

use crate::vocab::{DCTERMS, MXP, PROV, RDF, RDFS};
use crate::{Graph, LineageError};

/// One node of a lineage tree.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// `Sample`, `Crystal`, `Experiment`, `Sweep`, `Processing`, `ReflectionSet`, …
    pub kind: String,
    /// The node's IRI.
    pub iri: String,
    /// Its uuid.
    pub uuid: Option<String>,
    /// Its site(s).
    pub site: Option<String>,
    /// Its PID, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Name, program, time: a short description.
    pub label: String,
    /// Catalogue records of this object (ISPyB ids, ICAT ids, SciCat pids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catalogue: Vec<String>,
    /// What derives from it (empty when it was shown earlier in the tree: `repeated`).
    pub children: Vec<Node>,
    /// True when this node already appeared above (a merge of several sweeps).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
}

/// Find the nodes an identifier names: a PID (`dcterms:identifier`), a uuid or an IRI.
pub fn find(graph: &Graph, id: &str) -> Vec<NamedNode> {
    let mut out: Vec<NamedNode> = Vec::new();
    let mut push = |s: NamedOrBlankNodeRef<'_>| {
        if let NamedOrBlankNodeRef::NamedNode(n) = s
            && !out.iter().any(|o| o.as_ref() == n)
        {
            out.push(n.into_owned());
        }
    };
    let literal = oxigraph::model::Literal::new_simple_literal(id);
    for p in [format!("{DCTERMS}identifier"), format!("{MXP}uuid")] {
        let p = NamedNode::new_unchecked(p);
        for q in graph
            .store
            .quads_for_pattern(None, Some(p.as_ref()), Some(literal.as_ref().into()), None)
            .flatten()
        {
            push(q.subject.as_ref());
        }
    }
    if let Ok(iri) = NamedNode::new(id) {
        let exists = graph
            .store
            .quads_for_pattern(Some(iri.as_ref().into()), None, None, None)
            .next()
            .is_some();
        if exists {
            push(iri.as_ref().into());
        }
    }
    out
}

/// The lineage of the sample or crystal `id`: one tree per node it names.
pub fn lineage(graph: &Graph, id: &str) -> Result<Vec<Node>, LineageError> {
    let start = find(graph, id);
    if start.is_empty() {
        return Err(LineageError::NotFound(format!(
            "no sample, crystal or other object has the PID, uuid or IRI {id:?} in the lineage graph (check the --site list)"
        )));
    }
    let mut seen = HashSet::new();
    Ok(start
        .iter()
        .map(|n| walk(graph, n.as_ref(), &mut seen))
        .collect())
}

fn walk(graph: &Graph, node: NamedNodeRef<'_>, seen: &mut HashSet<String>) -> Node {
    let kind = kind_of(graph, node);
    let mut out = Node {
        kind: kind.clone(),
        iri: node.as_str().to_owned(),
        uuid: value(graph, node, &format!("{MXP}uuid")),
        site: values(graph, node, &format!("{MXP}site"))
            .into_iter()
            .reduce(|a, b| format!("{a}, {b}")),
        pid: value(graph, node, &format!("{DCTERMS}identifier")),
        label: label(graph, node, &kind),
        catalogue: catalogue(graph, node),
        children: Vec::new(),
        repeated: false,
    };
    if !seen.insert(out.iri.clone()) {
        out.repeated = true;
        return out;
    }
    let by = |p: &str| subjects(graph, p, node);
    let children: Vec<NamedNode> = match kind.as_str() {
        // Entities: what derives from them, and the activities that used them.
        "Sample" | "Macromolecule" | "Medium" | "Crystal" => {
            let mut c = by(&format!("{PROV}wasDerivedFrom"));
            c.extend(by(&format!("{PROV}used")));
            c
        }
        "Sweep" => by(&format!("{PROV}used")),
        "Experiment" | "Processing" => by(&format!("{PROV}wasGeneratedBy")),
        _ => Vec::new(),
    };
    // Ordered before walking, so a node shared by two branches (a merge) is shown in full the
    // first time it is printed and marked `repeated` after.
    let mut children: Vec<(usize, String, NamedNode)> = children
        .into_iter()
        .map(|c| {
            let k = kind_of(graph, c.as_ref());
            (order(&k), label(graph, c.as_ref(), &k), c)
        })
        .collect();
    children.sort_by(|a, b| (a.0, &a.1, a.2.as_str()).cmp(&(b.0, &b.1, b.2.as_str())));
    children.dedup_by(|a, b| a.2 == b.2);
    out.children = children
        .iter()
        .map(|(_, _, c)| walk(graph, c.as_ref(), seen))
        .collect();
    out
}

fn order(kind: &str) -> usize {
    [
        "Sample",
        "Crystal",
        "Experiment",
        "Sweep",
        "Processing",
        "ReflectionSet",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(9)
}

fn kind_of(graph: &Graph, node: NamedNodeRef<'_>) -> String {
    let ty = NamedNode::new_unchecked(format!("{RDF}type"));
    graph
        .store
        .quads_for_pattern(Some(node.into()), Some(ty.as_ref()), None, None)
        .flatten()
        .find_map(|q| match q.object {
            Term::NamedNode(n) => n.as_str().strip_prefix(MXP).map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "Unknown".into())
}

fn subjects(graph: &Graph, p: &str, o: NamedNodeRef<'_>) -> Vec<NamedNode> {
    let p = NamedNode::new_unchecked(p);
    graph
        .store
        .quads_for_pattern(None, Some(p.as_ref()), Some(TermRef::from(o)), None)
        .flatten()
        .filter_map(|q| match q.subject {
            oxigraph::model::NamedOrBlankNode::NamedNode(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn values(graph: &Graph, s: NamedNodeRef<'_>, p: &str) -> Vec<String> {
    let p = NamedNode::new_unchecked(p);
    let mut out: Vec<String> = graph
        .store
        .quads_for_pattern(Some(s.into()), Some(p.as_ref()), None, None)
        .flatten()
        .map(|q| match q.object {
            Term::Literal(l) => l.value().to_owned(),
            Term::NamedNode(n) => n.into_string(),
            other => other.to_string(),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn value(graph: &Graph, s: NamedNodeRef<'_>, p: &str) -> Option<String> {
    values(graph, s, p).into_iter().next()
}

fn label(graph: &Graph, node: NamedNodeRef<'_>, kind: &str) -> String {
    let v = |p: &str| value(graph, node, p);
    let mut parts: Vec<String> = Vec::new();
    match kind {
        "Experiment" => {
            parts.extend(v(&format!("{MXP}strategy")));
            parts.extend(v(&format!("{MXP}beamline")));
            parts.extend(v(&format!("{MXP}visit")).map(|s| format!("session {s}")));
            parts.extend(v(&format!("{PROV}startedAtTime")));
        }
        "Sweep" => {
            parts.extend(v(&format!("{MXP}numberImages")).map(|n| format!("{n} images")));
            parts.extend(v(&format!("{MXP}energyEv")).map(|e| format!("{e} eV")));
        }
        "Processing" => {
            parts.extend(v(&format!("{MXP}program")));
            parts.extend(v(&format!("{PROV}startedAtTime")));
            let used = NamedNode::new_unchecked(format!("{PROV}used"));
            let n = graph
                .store
                .quads_for_pattern(Some(node.into()), Some(used.as_ref()), None, None)
                .count();
            if n > 1 {
                parts.push(format!("merging {n} sweeps"));
            }
        }
        "ReflectionSet" => {
            parts.extend(v(&format!("{MXP}resolutionHighA")).map(|r| format!("{r} Å")));
            parts.extend(v(&format!("{MXP}spaceGroup")));
        }
        _ => parts.extend(v(&format!("{RDFS}label"))),
    }
    parts.join(", ")
}

fn catalogue(graph: &Graph, node: NamedNodeRef<'_>) -> Vec<String> {
    let see = format!("{RDFS}seeAlso");
    let mut out = Vec::new();
    for record in values(graph, node, &see) {
        let r = NamedNode::new_unchecked(record);
        let f = |p: &str| value(graph, r.as_ref(), &format!("{MXP}{p}")).unwrap_or_default();
        out.push(format!(
            "{} {} {}",
            f("catalogue"),
            f("catalogueTable"),
            f("catalogueId")
        ));
    }
    // Imported objects: where they came from.
    for record in values(graph, node, &format!("{PROV}hadPrimarySource")) {
        let r = NamedNode::new_unchecked(record);
        let f = |p: &str| value(graph, r.as_ref(), &format!("{MXP}{p}")).unwrap_or_default();
        out.push(format!(
            "imported from {} {} {}",
            f("catalogue"),
            f("catalogueTable"),
            f("catalogueId")
        ));
    }
    out
}

/// The tree as text, one line per node with box-drawing branches.
pub fn render(nodes: &[Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        line(&mut out, n, "", "");
        children(&mut out, n, "");
    }
    out
}

fn line(out: &mut String, n: &Node, lead: &str, branch: &str) {
    let mut text = format!("{lead}{branch}{}", n.kind);
    if !n.label.is_empty() {
        text.push_str(&format!(" {}", n.label));
    }
    text.push_str(&format!(
        "  [{}",
        n.pid
            .clone()
            .unwrap_or_else(|| n.uuid.clone().unwrap_or_else(|| n.iri.clone()))
    ));
    if let Some(s) = &n.site {
        text.push_str(&format!(" @ {s}"));
    }
    text.push(']');
    if !n.catalogue.is_empty() {
        text.push_str(&format!("  ({})", n.catalogue.join("; ")));
    }
    if n.repeated {
        text.push_str("  (shown above)");
    }
    out.push_str(&text);
    out.push('\n');
}

fn children(out: &mut String, n: &Node, lead: &str) {
    for (i, c) in n.children.iter().enumerate() {
        let last = i + 1 == n.children.len();
        line(out, c, lead, if last { "└─ " } else { "├─ " });
        let next = format!("{lead}{}", if last { "   " } else { "│  " });
        children(out, c, &next);
    }
}
