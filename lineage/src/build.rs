//! Building the graph from the query views of one or many sites.

use std::collections::HashMap;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use mxpipe_queries::lookups::{fixed_text, fixed_text_where_in, param};
use oxigraph::model::{GraphName, Literal, NamedNode, Quad};

use crate::vocab::{DCTERMS, MXP, PROV, RDF, RDFS, XSD, node_iri};
use crate::{Graph, LineageError};

/// Read every site's samples, crystals, experiments, sweeps, processing, reflection sets and
/// catalogue id maps from `ctx` (a session from `mxpipe_queries::open_sites`) into a new graph.
pub async fn build(ctx: &SessionContext) -> Result<Graph, LineageError> {
    build_filtered(ctx, &Around::default()).await
}

/// The part of the graph a lineage from `id` (a sample's or crystal's PID or uuid) walks: the
/// samples derived from it, their crystals, the experiments that used them, their sweeps, the
/// processing that used those sweeps and its reflection sets — read with filters, so following
/// one sample costs a fraction of the whole graph. An id that names no sample or crystal gives
/// the whole graph.
pub async fn build_around(ctx: &SessionContext, id: &str) -> Result<Graph, LineageError> {
    let column = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        let mut v: Vec<String> = rows
            .into_iter()
            .filter_map(|mut r| r.swap_remove(0))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let start_samples = column(
        fixed_text(
            ctx,
            "SELECT sample_uuid FROM samples WHERE pid = $1 OR sample_uuid = $1",
            vec![param(id)],
        )
        .await?,
    );
    let start_crystals = column(
        fixed_text(
            ctx,
            "SELECT crystal_uuid FROM crystals WHERE pid = $1 OR crystal_uuid = $1",
            vec![param(id)],
        )
        .await?,
    );
    if start_samples.is_empty() && start_crystals.is_empty() {
        return build(ctx).await;
    }
    let mut samples = start_samples.clone();
    if !start_samples.is_empty() {
        samples.extend(column(
            in_list(
                ctx,
                "SELECT uuid, parent_uuid FROM store.current_samples",
                "parent_uuid",
                &start_samples,
            )
            .await?,
        ));
    }
    let mut crystals = start_crystals;
    if !samples.is_empty() {
        crystals.extend(column(
            in_list(
                ctx,
                "SELECT crystal_uuid, sample_uuid FROM crystals",
                "sample_uuid",
                &samples,
            )
            .await?,
        ));
    }
    let mut experiments = column(
        in_list(
            ctx,
            "SELECT experiment_uuid, crystal_uuid FROM experiments",
            "crystal_uuid",
            &crystals,
        )
        .await?,
    );
    experiments.extend(column(
        in_list(
            ctx,
            "SELECT experiment_uuid, sample_uuid FROM experiments",
            "sample_uuid",
            &samples,
        )
        .await?,
    ));
    experiments.sort();
    experiments.dedup();
    let sweeps = column(
        in_list(
            ctx,
            "SELECT uuid, experiment_uuid FROM store.current_sweeps",
            "experiment_uuid",
            &experiments,
        )
        .await?,
    );
    let processing = column(
        in_list(
            ctx,
            "SELECT DISTINCT processing_uuid, sweep_uuid FROM processing_inputs",
            "sweep_uuid",
            &sweeps,
        )
        .await?,
    );
    // The crystals' own samples too (read as nodes, so every IRI comes from its PID; their other
    // crystals and experiments are not followed).
    samples.extend(column(
        in_list(
            ctx,
            "SELECT sample_uuid, crystal_uuid FROM crystals",
            "crystal_uuid",
            &crystals,
        )
        .await?,
    ));
    samples.sort();
    samples.dedup();
    build_filtered(
        ctx,
        &Around {
            only: true,
            samples,
            crystals,
            experiments,
            sweeps,
            processing,
        },
    )
    .await
}

/// Which objects to read (all when `only` is false).
#[derive(Default)]
struct Around {
    only: bool,
    samples: Vec<String>,
    crystals: Vec<String>,
    experiments: Vec<String>,
    sweeps: Vec<String>,
    processing: Vec<String>,
}

impl Around {
    /// The uuids to keep when filtering (`None`: every row).
    fn only<'a>(&self, uuids: &'a [String]) -> Option<&'a [String]> {
        self.only.then_some(uuids)
    }
}

/// Rows of a fixed statement whose `column` is one of `values`.
async fn in_list(
    ctx: &SessionContext,
    sql: &'static str,
    column: &str,
    values: &[String],
) -> Result<Vec<Vec<Option<String>>>, LineageError> {
    Ok(fixed_text_where_in(ctx, sql, column, Some(values)).await?)
}

async fn build_filtered(ctx: &SessionContext, around: &Around) -> Result<Graph, LineageError> {
    let started = Instant::now();
    let mut b = Builder {
        store: oxigraph::store::Store::new().map_err(|e| LineageError::Graph(e.to_string()))?,
        quads: Vec::with_capacity(FLUSH_EVERY),
        iri_of: HashMap::new(),
        read_seconds: 0.0,
    };
    let samples = b
        .read_in(ctx, "SELECT s.site, s.sample_uuid, s.mxlims_type, s.name, s.pid, c.parent_uuid FROM samples s \
             LEFT JOIN store.current_samples c ON c.site = s.site AND c.uuid = s.sample_uuid", "sample_uuid", around.only(&around.samples))
        .await?;
    let crystals = b.read_in(ctx, "SELECT site, crystal_uuid, name, pid, sample_uuid, barcode, container_barcode FROM crystals", "crystal_uuid", around.only(&around.crystals)).await?;
    // Identity first: every reference below resolves to the IRI of the object's PID.
    for (r, pid) in samples
        .iter()
        .map(|r| (r, 4))
        .chain(crystals.iter().map(|r| (r, 3)))
    {
        if let Some(u) = &r[1] {
            b.identify(u, r[pid].as_deref());
        }
    }
    for r in &samples {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else {
            continue;
        };
        let class = match r[2].as_deref() {
            Some("Macromolecule") => "Macromolecule",
            Some("Medium") => "Medium",
            _ => "Sample",
        };
        let node = b.entity(uuid, site, class);
        b.text(&node, &format!("{RDFS}label"), r[3].as_deref());
        b.text(&node, &format!("{DCTERMS}identifier"), r[4].as_deref());
        if let Some(parent) = &r[5] {
            let p = b.iri(parent);
            b.link(&node, &format!("{PROV}wasDerivedFrom"), &p);
        }
    }
    for r in &crystals {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else {
            continue;
        };
        let node = b.entity(uuid, site, "Crystal");
        b.text(&node, &format!("{RDFS}label"), r[2].as_deref());
        b.text(&node, &format!("{DCTERMS}identifier"), r[3].as_deref());
        if let Some(s) = &r[4] {
            let p = b.iri(s);
            b.link(&node, &format!("{PROV}wasDerivedFrom"), &p);
        }
        b.text(&node, &format!("{MXP}barcode"), r[5].as_deref());
        b.text(&node, &format!("{MXP}containerBarcode"), r[6].as_deref());
    }
    for r in b.read_in(ctx, "SELECT site, experiment_uuid, crystal_uuid, sample_uuid, start_time, end_time, visit, beamline, experiment_strategy FROM experiments", "experiment_uuid", around.only(&around.experiments)).await? {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else { continue };
        let node = b.activity(uuid, site, "Experiment");
        if let Some(used) = r[2].as_ref().or(r[3].as_ref()) {
            let u = b.iri(used);
            b.link(&node, &format!("{PROV}used"), &u);
        }
        b.time(&node, &format!("{PROV}startedAtTime"), r[4].as_deref());
        b.time(&node, &format!("{PROV}endedAtTime"), r[5].as_deref());
        b.text(&node, &format!("{MXP}visit"), r[6].as_deref());
        b.text(&node, &format!("{MXP}beamline"), r[7].as_deref());
        b.text(&node, &format!("{MXP}strategy"), r[8].as_deref());
    }
    for r in b
        .read_in(ctx, "SELECT site, uuid, experiment_uuid, energy_ev, number_images FROM store.current_sweeps", "uuid", around.only(&around.sweeps))
        .await?
    {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else {
            continue;
        };
        let node = b.entity(uuid, site, "Sweep");
        if let Some(e) = &r[2] {
            let e = b.iri(e);
            b.link(&node, &format!("{PROV}wasGeneratedBy"), &e);
        }
        b.typed(&node, &format!("{MXP}energyEv"), r[3].as_deref(), "double");
        b.typed(
            &node,
            &format!("{MXP}numberImages"),
            r[4].as_deref(),
            "integer",
        );
    }
    for r in b.read_in(ctx, "SELECT site, uuid, program_name, start_time, end_time FROM store.current_jobs WHERE mxlims_type = 'MxProcessing'", "uuid", around.only(&around.processing)).await? {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else { continue };
        let node = b.activity(uuid, site, "Processing");
        b.text(&node, &format!("{MXP}program"), r[2].as_deref());
        b.time(&node, &format!("{PROV}startedAtTime"), r[3].as_deref());
        b.time(&node, &format!("{PROV}endedAtTime"), r[4].as_deref());
    }
    let inputs = b.read_in(ctx, "SELECT DISTINCT processing_uuid, sweep_uuid FROM processing_inputs WHERE sweep_uuid IS NOT NULL", "processing_uuid", around.only(&around.processing)).await?;
    let mut inputs_of: HashMap<String, Vec<String>> = HashMap::new();
    for r in &inputs {
        let (Some(p), Some(w)) = (&r[0], &r[1]) else {
            continue;
        };
        let (p_iri, w_iri) = (b.iri(p), b.iri(w));
        b.link(&p_iri, &format!("{PROV}used"), &w_iri);
        inputs_of.entry(p.clone()).or_default().push(w.clone());
    }
    for r in b
        .read_in(ctx, "SELECT site, reflection_set_uuid, processing_uuid, resolution_high_a, space_group FROM reflection_sets", "processing_uuid", around.only(&around.processing))
        .await?
    {
        let (Some(site), Some(uuid)) = (&r[0], &r[1]) else {
            continue;
        };
        let node = b.entity(uuid, site, "ReflectionSet");
        b.typed(&node, &format!("{MXP}resolutionHighA"), r[3].as_deref(), "double");
        b.text(&node, &format!("{MXP}spaceGroup"), r[4].as_deref());
        if let Some(p) = &r[2] {
            let p_iri = b.iri(p);
            b.link(&node, &format!("{PROV}wasGeneratedBy"), &p_iri);
            for w in inputs_of.get(p).into_iter().flatten() {
                let w = b.iri(w);
                b.link(&node, &format!("{PROV}wasDerivedFrom"), &w);
            }
        }
    }
    let pids = fixed_text(
        ctx,
        "SELECT DISTINCT target, instance, object_key, pid FROM store.catalogue_pids",
        Vec::new(),
    )
    .await?;
    let pid_of: HashMap<(String, String, String), String> = pids
        .into_iter()
        .filter_map(|r| Some(((r[0].clone()?, r[1].clone()?, r[2].clone()?), r[3].clone()?)))
        .collect();
    for r in b.read(ctx, "SELECT DISTINCT target, instance, object_key, catalogue_table, CAST(catalogue_id AS VARCHAR) FROM store.catalogue_ids").await? {
        let (Some(target), Some(instance), Some(key), Some(table), Some(id)) = (&r[0], &r[1], &r[2], &r[3], &r[4]) else { continue };
        let Some(uuid) = uuid_in(key) else { continue };
        let Some(object) = b.known(uuid) else { continue };
        let record = match pid_of.get(&(target.clone(), instance.clone(), key.clone())) {
            Some(pid) => format!("urn:mxpipe:catalogue:{target}:{}:{}", encode(instance), encode(pid)),
            None => format!("urn:mxpipe:catalogue:{target}:{}:{table}:{id}", encode(instance)),
        };
        let Ok(record) = NamedNode::new(record) else { continue };
        b.link(&object, &format!("{RDFS}seeAlso"), &record);
        b.link(&record, &format!("{RDF}type"), &named(&format!("{MXP}CatalogueRecord")));
        b.text(&record, &format!("{MXP}catalogue"), Some(target));
        b.text(&record, &format!("{MXP}catalogueInstance"), Some(instance));
        b.text(&record, &format!("{MXP}catalogueTable"), Some(table));
        b.text(&record, &format!("{MXP}catalogueId"), Some(pid_of.get(&(target.clone(), instance.clone(), key.clone())).unwrap_or(id)));
    }
    // Imported objects: the catalogue rows they came from (mxpipe.org legacySource).
    for r in b.read(ctx, "SELECT object_uuid, fields_json FROM store.extensions WHERE domain = 'mxpipe.org' AND fields_json LIKE '%\"legacySource\"%'").await? {
        let (Some(uuid), Some(fields)) = (&r[0], &r[1]) else { continue };
        let Some(object) = b.known(uuid) else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(fields) else { continue };
        let src = &v["legacySource"];
        let (Some(catalogue), Some(instance), Some(table)) = (src["catalogue"].as_str(), src["instance"].as_str(), src["table"].as_str()) else { continue };
        for key in src["keys"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_i64) {
            let Ok(record) = NamedNode::new(format!("urn:mxpipe:catalogue:{catalogue}:{}:{table}:{key}", encode(instance))) else { continue };
            b.link(&object, &format!("{PROV}hadPrimarySource"), &record);
            b.link(&record, &format!("{RDF}type"), &named(&format!("{MXP}CatalogueRecord")));
            b.text(&record, &format!("{MXP}catalogue"), Some(catalogue));
            b.text(&record, &format!("{MXP}catalogueInstance"), Some(instance));
            b.text(&record, &format!("{MXP}catalogueTable"), Some(table));
            b.text(&record, &format!("{MXP}catalogueId"), Some(&key.to_string()));
        }
    }
    b.flush()?;
    Ok(Graph {
        store: b.store,
        build_seconds: started.elapsed().as_secs_f64(),
        read_seconds: b.read_seconds,
    })
}

/// Quads are inserted into the store in batches of this many (bounded memory).
const FLUSH_EVERY: usize = 100_000;

/// Collects the quads into the store, and the IRI of every object by uuid.
struct Builder {
    store: oxigraph::store::Store,
    quads: Vec<Quad>,
    iri_of: HashMap<String, NamedNode>,
    /// Seconds spent reading the stores.
    read_seconds: f64,
}

fn named(iri: &str) -> NamedNode {
    NamedNode::new_unchecked(iri)
}

impl Builder {
    /// Rows of a query, timed as reading.
    async fn read(
        &mut self,
        ctx: &SessionContext,
        sql: &'static str,
    ) -> Result<Vec<Vec<Option<String>>>, LineageError> {
        self.read_in(ctx, sql, "", None).await
    }
    /// Rows of a fixed statement, only those whose `column` is in `only` when given.
    async fn read_in(
        &mut self,
        ctx: &SessionContext,
        sql: &'static str,
        column: &str,
        only: Option<&[String]>,
    ) -> Result<Vec<Vec<Option<String>>>, LineageError> {
        self.flush()?;
        let started = Instant::now();
        let out = fixed_text_where_in(ctx, sql, column, only).await;
        self.read_seconds += started.elapsed().as_secs_f64();
        Ok(out?)
    }
    /// Insert the collected quads.
    fn flush(&mut self) -> Result<(), LineageError> {
        self.store
            .extend(self.quads.drain(..))
            .map_err(|e| LineageError::Graph(e.to_string()))
    }
    /// Fix the IRI of an object (its PID's if it has one; the first PID seen wins).
    fn identify(&mut self, uuid: &str, pid: Option<&str>) {
        let iri =
            NamedNode::new(node_iri(pid, uuid)).unwrap_or_else(|_| named(&node_iri(None, uuid)));
        match self.iri_of.get(uuid) {
            Some(existing) if !existing.as_str().starts_with("urn:uuid:") => {}
            _ => {
                self.iri_of.insert(uuid.to_owned(), iri);
            }
        }
    }
    /// The IRI of an object (from its uuid when it has no PID).
    fn iri(&mut self, uuid: &str) -> NamedNode {
        self.iri_of
            .entry(uuid.to_owned())
            .or_insert_with(|| named(&node_iri(None, uuid)))
            .clone()
    }
    /// The IRI of an object seen in the graph, if any.
    fn known(&self, uuid: &str) -> Option<NamedNode> {
        self.iri_of.get(uuid).cloned()
    }
    fn node(&mut self, uuid: &str, site: &str, prov: &str, class: &str) -> NamedNode {
        let node = self.iri(uuid);
        self.link(
            &node,
            &format!("{RDF}type"),
            &named(&format!("{PROV}{prov}")),
        );
        self.link(
            &node,
            &format!("{RDF}type"),
            &named(&format!("{MXP}{class}")),
        );
        self.text(&node, &format!("{MXP}uuid"), Some(uuid));
        self.text(&node, &format!("{MXP}site"), Some(site));
        node
    }
    fn entity(&mut self, uuid: &str, site: &str, class: &str) -> NamedNode {
        self.node(uuid, site, "Entity", class)
    }
    fn activity(&mut self, uuid: &str, site: &str, class: &str) -> NamedNode {
        self.node(uuid, site, "Activity", class)
    }
    fn push(&mut self, quad: Quad) {
        self.quads.push(quad);
        if self.quads.len() >= FLUSH_EVERY {
            // An insert error surfaces at the next read or at the end (same store, same error).
            let _ = self.flush();
        }
    }
    fn link(&mut self, s: &NamedNode, p: &str, o: &NamedNode) {
        self.push(Quad::new(
            s.clone(),
            named(p),
            o.clone(),
            GraphName::DefaultGraph,
        ));
    }
    fn text(&mut self, s: &NamedNode, p: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.push(Quad::new(
                s.clone(),
                named(p),
                Literal::new_simple_literal(v),
                GraphName::DefaultGraph,
            ));
        }
    }
    fn typed(&mut self, s: &NamedNode, p: &str, value: Option<&str>, xsd: &str) {
        if let Some(v) = value {
            let literal = Literal::new_typed_literal(v, named(&format!("{XSD}{xsd}")));
            self.push(Quad::new(
                s.clone(),
                named(p),
                literal,
                GraphName::DefaultGraph,
            ));
        }
    }
    /// An `xsd:dateTime` from a stored timestamp (RFC 3339; a space separator is accepted).
    fn time(&mut self, s: &NamedNode, p: &str, value: Option<&str>) {
        let Some(v) = value else { return };
        let v = v.replacen(' ', "T", 1);
        if chrono::DateTime::parse_from_rfc3339(&v).is_ok() {
            self.typed(s, p, Some(&v), "dateTime");
        }
    }
}

/// The first uuid inside a catalogue map key (`DataCollection:<uuid>#1`, `Dataset:raw:<uuid>`).
fn uuid_in(key: &str) -> Option<&str> {
    key.split([':', '#', '@']).find(|part| {
        part.len() == 36
            && part.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    })
}

/// Percent-encode what may not stand in an IRI path segment: everything but RFC 3986's
/// unreserved characters.
fn encode(text: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}
