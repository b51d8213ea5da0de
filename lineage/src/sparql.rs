//! SPARQL over the lineage graph, answered as rows of text (for table, CSV and JSON printing).

use oxigraph::model::Term;
use oxigraph::sparql::{QueryResults, SparqlEvaluator};

use crate::vocab::PREFIXES;
use crate::{Graph, LineageError};

/// The answer to a query: rows (SELECT; ASK gives one column `ask`; CONSTRUCT/DESCRIBE give
/// `subject`, `predicate`, `object`).
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, `None` for an unbound variable.
    pub rows: Vec<Vec<Option<String>>>,
}

/// Run a query; the prefixes of [`PREFIXES`] are declared (a query may declare its own too).
pub fn run(graph: &Graph, query: &str) -> Result<Answer, LineageError> {
    let mut evaluator = SparqlEvaluator::new();
    for (p, iri) in PREFIXES {
        evaluator = evaluator
            .with_prefix(*p, *iri)
            .map_err(|e| LineageError::Sparql(e.to_string()))?;
    }
    let results = evaluator
        .parse_query(query)
        .map_err(|e| LineageError::Sparql(e.to_string()))?
        .on_store(&graph.store)
        .execute()
        .map_err(|e| LineageError::Sparql(e.to_string()))?;
    let mut answer = Answer::default();
    match results {
        QueryResults::Solutions(solutions) => {
            answer.columns = solutions
                .variables()
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect();
            for s in solutions {
                let s = s.map_err(|e| LineageError::Sparql(e.to_string()))?;
                answer.rows.push(
                    (0..answer.columns.len())
                        .map(|i| s.get(i).map(text))
                        .collect(),
                );
            }
        }
        QueryResults::Boolean(b) => {
            answer.columns = vec!["ask".into()];
            answer.rows.push(vec![Some(b.to_string())]);
        }
        QueryResults::Graph(triples) => {
            answer.columns = vec!["subject".into(), "predicate".into(), "object".into()];
            for t in triples {
                let t = t.map_err(|e| LineageError::Sparql(e.to_string()))?;
                answer.rows.push(vec![
                    Some(t.subject.to_string()),
                    Some(t.predicate.as_str().to_owned()),
                    Some(text(&t.object)),
                ]);
            }
        }
    }
    Ok(answer)
}

/// A term as text: an IRI as itself, a literal as its lexical value.
fn text(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    }
}
