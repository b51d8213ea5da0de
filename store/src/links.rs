//! Linking processing inputs to stored sweeps. Processing programs rarely know our uuids, so an
//! input is the images the program read (directory + file template + image range) or an ISPyB
//! `dataCollectionId`. Links are computed when read, from committed rows only: an input whose
//! collection arrives later links as soon as that collection's ingest commits (nothing is
//! rewritten). `mxpipe relink` reports the current state.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;

use crate::read::strings;
use crate::{Result, Store};

/// One input of a processing job and the sweep it resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLink {
    /// Processing job.
    pub processing_uuid: String,
    /// Position among the job's inputs.
    pub list_index: i64,
    /// What the program reported, e.g. `/data/x/x_%05d.cbf 1-900` or `dataCollectionId 1234`.
    pub input: String,
    /// The sweep, when resolved.
    pub sweep_uuid: Option<String>,
    /// How: `inputDataRefs`, `images` or `dataCollectionId`.
    pub linked_by: Option<String>,
}

/// Every committed processing input with the sweep(s) it resolves to (one row per match; an
/// unresolved input has one row with null `sweep_uuid`). A `dataCollectionId` matches a sweep
/// identifier issued by an ISPyB domain (a domain containing `ispyb`, e.g. `ispyb.esrf.fr`).
pub const PROCESSING_LINKS_SQL: &str = "
WITH p AS (SELECT * FROM processing_inputs WHERE ingest_id IN (SELECT ingest_id FROM ingests)),
i AS (SELECT * FROM image_series WHERE ingest_id IN (SELECT ingest_id FROM ingests)),
d AS (SELECT * FROM identifiers WHERE ingest_id IN (SELECT ingest_id FROM ingests)
      AND kind = 'identifier' AND lower(domain) LIKE '%ispyb%'
      AND object_uuid IN (SELECT uuid FROM sweeps WHERE ingest_id IN (SELECT ingest_id FROM ingests))),
matched AS (
  SELECT DISTINCT p.processing_uuid, p.list_index, i.sweep_uuid, 'images' AS linked_by FROM p JOIN i
    ON i.path = p.path AND i.filename_template = p.filename_template
   AND i.first_image_number <= p.last_image_number AND i.last_image_number >= p.first_image_number
  UNION
  SELECT DISTINCT p.processing_uuid, p.list_index, d.object_uuid, 'dataCollectionId' FROM p JOIN d
    ON d.value = CAST(p.data_collection_id AS VARCHAR)
  UNION
  SELECT DISTINCT processing_uuid, list_index, sweep_uuid, 'inputDataRefs' FROM p WHERE sweep_uuid IS NOT NULL)
SELECT DISTINCT p.processing_uuid, p.list_index, p.kind, p.path, p.filename_template, p.first_image_number,
       p.last_image_number, p.data_collection_id, m.sweep_uuid, m.linked_by
FROM p LEFT JOIN matched m ON m.processing_uuid = p.processing_uuid AND m.list_index = p.list_index
ORDER BY p.processing_uuid, p.list_index, m.sweep_uuid";

impl Store {
    /// Every committed processing input with its link state (see [`PROCESSING_LINKS_SQL`]).
    pub async fn processing_links(&self) -> Result<Vec<InputLink>> {
        links_of(&self.query(PROCESSING_LINKS_SQL).await?)
    }

    /// The inputs of the processing jobs `jobs` only, with their link state (what an ingest
    /// reports after its commit: the cost of its own jobs, not of every job stored).
    pub async fn processing_links_of(&self, jobs: &[String]) -> Result<Vec<InputLink>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // A list of thousands in one statement exhausts the planner's stack: in chunks.
        if jobs.len() > 256 {
            let mut out = Vec::new();
            for chunk in jobs.chunks(256) {
                out.extend(Box::pin(self.processing_links_of(chunk)).await?);
            }
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=jobs.len()).map(|n| format!("${n}")).collect();
        let sql = PROCESSING_LINKS_SQL.replacen(
            "WITH p AS (SELECT * FROM processing_inputs WHERE ",
            &format!(
                "WITH p AS (SELECT * FROM processing_inputs WHERE processing_uuid IN ({}) AND ",
                placeholders.join(", ")
            ),
            1,
        );
        let params =
            crate::catalogue_ids::params_of(&jobs.iter().map(String::as_str).collect::<Vec<_>>());
        let ctx = self.session().await?;
        let batches = ctx
            .sql(&sql)
            .await?
            .with_param_values(params)?
            .collect()
            .await?;
        links_of(&batches)
    }
}

/// Rows of [`PROCESSING_LINKS_SQL`] as links.
fn links_of(batches: &[arrow::array::RecordBatch]) -> Result<Vec<InputLink>> {
    let mut out = Vec::new();
    for b in batches {
        let (uuid, kind, path, template) =
            (strings(b, 0), strings(b, 2), strings(b, 3), strings(b, 4));
        let ints = |i: usize| b.column(i).as_primitive::<Int64Type>().clone();
        let (index, first, last, dcid) = (ints(1), ints(5), ints(6), ints(7));
        let (sweep, how) = (strings(b, 8), strings(b, 9));
        for r in 0..b.num_rows() {
            let input = if kind.value(r) == "sweep" {
                "a linked sweep (inputDataRefs)".to_owned()
            } else {
                let mut s = format!(
                    "{}/{} {}-{}",
                    path.value(r),
                    template.value(r),
                    first.value(r),
                    last.value(r)
                );
                if !dcid.is_null(r) {
                    s.push_str(&format!(" (dataCollectionId {})", dcid.value(r)));
                }
                s
            };
            out.push(InputLink {
                processing_uuid: uuid.value(r).to_owned(),
                list_index: index.value(r),
                input,
                sweep_uuid: (!sweep.is_null(r)).then(|| sweep.value(r).to_owned()),
                linked_by: (!how.is_null(r)).then(|| how.value(r).to_owned()),
            });
        }
    }
    Ok(out)
}
