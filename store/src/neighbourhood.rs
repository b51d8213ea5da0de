//! An export's objects read by keys: from the selected object, the objects derived from it
//! (followed backwards along result links) and then everything those link to, each step one
//! lookup of the uuids found so far (`links` by `to_uuid` / `from_uuid`, `objects` by `uuid`,
//! all pruned by bloom filters). Reading one experiment costs what that experiment holds,
//! whatever the store's size; the choice is the one the whole-store read made (the tests
//! compare the messages).

use std::collections::{HashMap, HashSet};

use datafusion::prelude::SessionContext;
use serde_json::Value;

use crate::read::{rows_with_keys, strings};
use crate::read_back::{
    HIDDEN, Link, RESULT_FIELDS, Selection, StoredObject, build_message, links_of_versions,
};
use crate::tables;
use crate::{Result, Store, StoreError};

/// A past moment to read the store at: a time, or the commit of an ingest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// Everything committed at or before this time.
    Time(chrono::DateTime<chrono::Utc>),
    /// Everything committed up to and including this run.
    Ingest(String),
}

/// What has been read so far: current versions (with their run) and their links.
struct Reader {
    ctx: SessionContext,
    /// Committed runs (as of the moment asked for) and their commit times (µs since 1970).
    committed: HashMap<String, i64>,
    /// Current version of each object read: (run, object).
    objects: HashMap<String, (String, StoredObject)>,
    /// Objects looked up that have no committed version.
    absent: HashSet<String>,
    /// Links of the current versions, by linking object.
    links: HashMap<String, Vec<Link>>,
    /// Only these objects may be chosen or named (a reader limited to some proposals).
    visible: Option<HashSet<String>>,
}

impl Reader {
    async fn new(
        store: &Store,
        visible: Option<&HashSet<String>>,
        until: Option<&Until>,
    ) -> Result<Reader> {
        let ctx = SessionContext::new();
        for def in [
            &tables::OBJECTS,
            &tables::LINKS,
            &tables::INGESTS,
            &tables::SESSIONS,
            &tables::SAMPLE_PIDS,
        ] {
            let table = store.open_table(def.name).await?;
            store.register_handle(&ctx, def.name, def, table).await?;
        }
        let mut committed = HashMap::new();
        for b in ctx
            .sql("SELECT ingest_id, CAST(committed_at AS BIGINT) FROM ingests")
            .await?
            .collect()
            .await?
        {
            let i = strings(&b, 0);
            let t = b
                .column(1)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .ok_or_else(|| StoreError::Data("ingests.committed_at is not a time".into()))?;
            for r in 0..b.num_rows() {
                committed.insert(i.value(r).to_owned(), t.value(r));
            }
        }
        // As the store was then: the runs committed by that moment.
        let cutoff = match until {
            None => None,
            Some(Until::Time(t)) => Some(t.timestamp_micros()),
            Some(Until::Ingest(id)) => Some(*committed.get(id).ok_or_else(|| {
                StoreError::Data(format!("no committed ingest {id} in this store"))
            })?),
        };
        if let Some(cutoff) = cutoff {
            committed.retain(|_, at| *at <= cutoff);
            // What else reads `ingests` here (the minted PIDs) sees the same past.
            if let Some(all) = ctx.deregister_table("ingests")? {
                ctx.register_table("ingests_all", all)?;
                ctx.sql(&format!(
                    "CREATE VIEW ingests AS SELECT * FROM ingests_all WHERE CAST(committed_at AS BIGINT) <= {cutoff}"
                ))
                .await?;
            }
        }
        Ok(Reader {
            ctx,
            committed,
            objects: HashMap::new(),
            absent: HashSet::new(),
            links: HashMap::new(),
            visible: visible.cloned(),
        })
    }

    fn may_see(&self, uuid: &str) -> bool {
        self.visible.as_ref().is_none_or(|v| v.contains(uuid))
    }

    /// Read the current version (and its links) of every uuid not read yet.
    async fn read(&mut self, uuids: &HashSet<String>) -> Result<()> {
        let wanted: Vec<&str> = uuids
            .iter()
            .filter(|u| !self.objects.contains_key(*u) && !self.absent.contains(*u))
            .map(String::as_str)
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let columns = [
            "uuid",
            "ingest_id",
            "mxlims_type",
            "message_key",
            "object_json",
        ];
        for b in rows_with_keys(&self.ctx, "objects", "uuid", Some(&wanted), &columns).await? {
            let (u, ing, ty, key, js) = (
                strings(&b, 0),
                strings(&b, 1),
                strings(&b, 2),
                strings(&b, 3),
                strings(&b, 4),
            );
            for i in 0..b.num_rows() {
                let Some(at) = self.committed.get(ing.value(i)) else {
                    continue;
                };
                let newer = self
                    .objects
                    .get(u.value(i))
                    .is_none_or(|(run, _)| self.committed.get(run).is_some_and(|t| t < at));
                if !newer {
                    continue;
                }
                let json: Value = serde_json::from_str(js.value(i)).map_err(|e| {
                    StoreError::Data(format!(
                        "object {}: stored JSON unreadable: {e}",
                        u.value(i)
                    ))
                })?;
                let object = StoredObject {
                    mxlims_type: ty.value(i).to_owned(),
                    key: key.value(i).to_owned(),
                    json,
                };
                self.objects
                    .insert(u.value(i).to_owned(), (ing.value(i).to_owned(), object));
            }
        }
        for u in &wanted {
            if !self.objects.contains_key(*u) {
                self.absent.insert((*u).to_owned());
            }
        }
        let columns = [
            "from_uuid",
            "ingest_id",
            "field",
            "list_index",
            "to_uuid",
            "to_type",
        ];
        let found: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|u| self.objects.contains_key(*u))
            .collect();
        for b in rows_with_keys(&self.ctx, "links", "from_uuid", Some(&found), &columns).await? {
            // Only the links of the current version.
            let current = links_of_versions(&b, |from, run| {
                self.objects.get(from).is_some_and(|(r, _)| r == run)
            })?;
            for mut link in current {
                if link.to.as_deref().is_some_and(|t| !self.may_see(t)) {
                    link.to_type = HIDDEN.to_owned();
                }
                self.links.entry(link.from.clone()).or_default().push(link);
            }
        }
        Ok(())
    }

    /// The committed sweeps whose images a processing job reports reading (its mxpipe.org
    /// `inputImages`: directory + template + image range), looked up by series key in
    /// `image_series` (bloom-filtered), as `processing_inputs` matches them.
    async fn sweeps_by_images(&mut self, processing: &str) -> Result<HashSet<String>> {
        let Some((_, job)) = self.objects.get(processing) else {
            return Ok(HashSet::new());
        };
        let inputs: Vec<(String, i64, i64)> = job.json["extensions"]["mxpipe.org"]["inputImages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| {
                let id =
                    crate::rows::series_id(i["path"].as_str()?, i["filenameTemplate"].as_str()?);
                Some((
                    id,
                    i["firstImageNumber"].as_i64()?,
                    i["lastImageNumber"].as_i64()?,
                ))
            })
            .collect();
        if inputs.is_empty() {
            return Ok(HashSet::new());
        }
        let keys: Vec<&str> = inputs.iter().map(|i| i.0.as_str()).collect();
        let columns = [
            "series_id",
            "sweep_uuid",
            "ingest_id",
            "first_image_number",
            "last_image_number",
        ];
        let mut found = HashSet::new();
        for b in rows_with_keys(
            &self.ctx,
            "image_series",
            "series_id",
            Some(&keys),
            &columns,
        )
        .await?
        {
            let (id, sweep, run) = (strings(&b, 0), strings(&b, 1), strings(&b, 2));
            let ints = |i: usize| {
                b.column(i)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .cloned()
            };
            let (Some(first), Some(last)) = (ints(3), ints(4)) else {
                return Err(StoreError::Data(
                    "image_series image numbers are not integers".into(),
                ));
            };
            for r in 0..b.num_rows() {
                let overlaps = inputs.iter().any(|(k, f, l)| {
                    k == id.value(r) && first.value(r) <= *l && last.value(r) >= *f
                });
                if overlaps
                    && self.committed.contains_key(run.value(r))
                    && self.may_see(sweep.value(r))
                {
                    found.insert(sweep.value(r).to_owned());
                }
            }
        }
        self.read(&found).await?;
        // Only sweeps whose current version is committed (a sweep since replaced keeps its uuid).
        Ok(found
            .into_iter()
            .filter(|u| self.objects.contains_key(u))
            .collect())
    }

    /// Objects whose current version links to one of `targets` through one of `fields`.
    async fn linking_to(
        &mut self,
        targets: &HashSet<String>,
        fields: &[&str],
    ) -> Result<HashSet<String>> {
        let list: Vec<&str> = targets.iter().map(String::as_str).collect();
        let mut candidates = HashSet::new();
        let columns = ["from_uuid", "field"];
        for b in rows_with_keys(&self.ctx, "links", "to_uuid", Some(&list), &columns).await? {
            let (f, field) = (strings(&b, 0), strings(&b, 1));
            for i in 0..b.num_rows() {
                if fields.contains(&field.value(i)) && self.may_see(f.value(i)) {
                    candidates.insert(f.value(i).to_owned());
                }
            }
        }
        self.read(&candidates).await?;
        // Kept when the current version still holds such a link.
        Ok(candidates
            .into_iter()
            .filter(|c| {
                self.links.get(c).is_some_and(|ls| {
                    ls.iter().any(|l| {
                        fields.contains(&l.field.as_str())
                            && l.to.as_ref().is_some_and(|t| targets.contains(t))
                    })
                })
            })
            .collect())
    }
}

impl Store {
    /// Build an MXLIMS message for a selection from the objects in `visible` (when given); the
    /// others are neither chosen nor named — a link to one is left out of the message. Errors
    /// if the selection matches nothing.
    pub async fn export_message_within(
        &self,
        selection: &Selection,
        visible: Option<&HashSet<String>>,
    ) -> Result<Value> {
        self.export_message_at(selection, visible, None).await
    }

    /// [`Store::export_message_within`] as the store was at `until` (time travel; `None`: now).
    /// An ingest id the store has not committed is an error.
    pub async fn export_message_at(
        &self,
        selection: &Selection,
        visible: Option<&HashSet<String>>,
        until: Option<&Until>,
    ) -> Result<Value> {
        self.read_selection(selection, visible, until, false).await
    }

    async fn read_selection(
        &self,
        selection: &Selection,
        visible: Option<&HashSet<String>>,
        until: Option<&Until>,
        with_uuids: bool,
    ) -> Result<Value> {
        let mut reader = Reader::new(self, visible, until).await?;
        if matches!(selection, Selection::Processing(_)) {
            // Only a job's neighbourhood matches reported images to sweeps.
            let def = &tables::IMAGE_SERIES;
            let table = self.open_table(def.name).await?;
            self.register_handle(&reader.ctx, def.name, def, table)
                .await?;
        }
        let start = starting_points(&mut reader, selection).await?;
        if start.is_empty() {
            return Err(StoreError::Data(format!(
                "nothing stored matches {selection:?}"
            )));
        }
        // Backwards: results of jobs and datasets (and contents of a shipment or a session's
        // containers), to the end.
        let mut follow: Vec<&str> = RESULT_FIELDS.to_vec();
        if matches!(selection, Selection::Shipment(_) | Selection::Session(_)) {
            follow.push("containerRef");
        }
        if matches!(selection, Selection::Processing(_)) {
            // A job's own results only, not other jobs that read its inputs or its results.
            follow = vec!["sourceRef"];
        }
        let mut chosen = start.clone();
        let mut frontier = start;
        while !frontier.is_empty() {
            let found = reader.linking_to(&frontier, &follow).await?;
            frontier = found.difference(&chosen).cloned().collect();
            chosen.extend(frontier.iter().cloned());
        }
        if let Selection::Processing(u) = selection {
            let read = reader.sweeps_by_images(u).await?;
            chosen.extend(read);
        }
        // Forwards: everything the chosen objects link to.
        let mut frontier = chosen.clone();
        while !frontier.is_empty() {
            reader.read(&frontier).await?;
            let next: HashSet<String> = frontier
                .iter()
                .filter_map(|u| reader.links.get(u))
                .flatten()
                .filter_map(|l| l.to.clone())
                .filter(|t| reader.may_see(t) && !chosen.contains(t))
                .collect();
            chosen.extend(next.iter().cloned());
            frontier = next;
        }
        chosen.retain(|u| reader.objects.contains_key(u));
        let mut objects = std::mem::take(&mut reader.objects);
        objects.retain(|u, _| chosen.contains(u));
        crate::sample_pids::overlay_minted(&reader.ctx, &mut objects).await?;
        let objects: HashMap<String, StoredObject> =
            objects.into_iter().map(|(k, (_, o))| (k, o)).collect();
        let links: Vec<Link> = chosen
            .iter()
            .filter_map(|u| reader.links.remove(u))
            .flatten()
            .collect();
        Ok(build_message(&chosen, &objects, &links, with_uuids))
    }

    /// [`Store::export_message`] with every object's uuid written in it, minted ones included
    /// (an MXLIMS export leaves minted uuids out, as the message came in; an exporter that
    /// looks objects up by uuid needs them all).
    pub async fn export_message_with_uuids(&self, selection: &Selection) -> Result<Value> {
        self.read_selection(selection, None, None, true).await
    }
}

/// The objects a selection starts from (those with a committed version the reader may see).
async fn starting_points(reader: &mut Reader, selection: &Selection) -> Result<HashSet<String>> {
    let mut start: HashSet<String> = HashSet::new();
    match selection {
        Selection::Experiment(u)
        | Selection::Shipment(u)
        | Selection::Sample(u)
        | Selection::Processing(u) => {
            start.insert(u.clone());
            if let Selection::Sample(u) = selection {
                let one = HashSet::from([u.clone()]);
                start.extend(reader.linking_to(&one, &["sampleRef"]).await?);
            }
        }
        Selection::Session(visit) => {
            let frame = reader
                .ctx
                .table("sessions")
                .await?
                .filter(
                    datafusion::prelude::col("visit").eq(datafusion::prelude::lit(visit.as_str())),
                )?
                .select_columns(&["object_uuid", "ingest_id"])?;
            for b in frame.collect().await? {
                let (u, i) = (strings(&b, 0), strings(&b, 1));
                for r in 0..b.num_rows() {
                    if reader.committed.contains_key(i.value(r)) {
                        start.insert(u.value(r).to_owned());
                    }
                }
            }
        }
    }
    start.retain(|u| reader.may_see(u));
    reader.read(&start).await?;
    start.retain(|u| reader.objects.contains_key(u));
    Ok(start)
}
