//! The registry of persistent identifiers mxpipe minted for samples and crystals that arrived
//! without one. Append-only: each row records one state of one PID (the latest committed row of
//! an object wins), written like an ingest run (the rows, then an `ingests` record), so a PID is
//! visible only once its run committed. A PID, once written here, is never given to another
//! object nor replaced (a retry records a new state of the same PID).

use std::collections::HashMap;

use arrow::array::RecordBatch;
use serde_json::{Value, json};

use crate::read::{COMMITTED, strings};
use crate::tables::SAMPLE_PIDS;
use crate::{Result, Store};

/// The current state of one minted PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplePid {
    /// The sample or crystal.
    pub object_uuid: String,
    /// `MacromoleculeSample` or `Crystal`.
    pub mxlims_type: String,
    /// The identifier.
    pub pid: String,
    /// `local` or `datacite`.
    pub scheme: String,
    /// `minted`, `draft`, `registered`, `findable` or `pending`.
    pub state: String,
    /// Why pending.
    pub detail: Option<String>,
}

impl SamplePid {
    /// True when the registry has not accepted it yet.
    pub fn is_pending(&self) -> bool {
        self.state == "pending"
    }
}

impl Store {
    /// The current state of every minted PID, by object uuid.
    pub async fn sample_pids(&self) -> Result<HashMap<String, SamplePid>> {
        let sql = format!(
            "SELECT p.object_uuid, p.mxlims_type, p.pid, p.scheme, p.state, p.detail FROM sample_pids p \
             JOIN ingests g ON g.ingest_id = p.ingest_id WHERE p.{COMMITTED} ORDER BY g.committed_at, p.recorded_at"
        );
        let mut out = HashMap::new();
        for b in &self.query(&sql).await? {
            let cols: Vec<_> = (0..6).map(|i| strings(b, i)).collect();
            for i in 0..b.num_rows() {
                let pid = SamplePid {
                    object_uuid: cols[0].value(i).to_owned(),
                    mxlims_type: cols[1].value(i).to_owned(),
                    pid: cols[2].value(i).to_owned(),
                    scheme: cols[3].value(i).to_owned(),
                    state: cols[4].value(i).to_owned(),
                    detail: (!cols[5].is_null(i)).then(|| cols[5].value(i).to_owned()),
                };
                out.insert(pid.object_uuid.clone(), pid);
            }
        }
        Ok(out)
    }

    /// Record PID states as one atomic run (the rows, then an `ingests` record naming
    /// `command`). Nothing is written for an empty list.
    pub async fn record_sample_pids(&self, pids: &[SamplePid], command: &str) -> Result<()> {
        if pids.is_empty() {
            return Ok(());
        }
        let started = chrono::Utc::now();
        let ingest_id = uuid::Uuid::new_v4().to_string();
        let rows: Vec<Value> = pids
            .iter()
            .map(|p| {
                json!({"object_uuid": p.object_uuid, "mxlims_type": p.mxlims_type, "pid": p.pid,
                    "scheme": p.scheme, "state": p.state, "detail": p.detail, "recorded_at": started.to_rfc3339()})
            })
            .collect();
        let batch: RecordBatch = self.json_batch(&SAMPLE_PIDS, &ingest_id, &rows)?;
        self.append(&SAMPLE_PIDS, batch).await?;
        self.commit_record(&ingest_id, started, Some(command), 0, (0, 0, 0))
            .await
    }
}

/// The scheme name written into `sampleIdentity.scheme` for a minted PID.
fn identity_scheme(scheme: &str) -> &str {
    match scheme {
        "datacite" => "doi",
        other => other,
    }
}

/// Give every object that has no `sampleIdentity` of its own the PID mxpipe minted for it (in
/// the `mxpipe.org` extension, with the barcode it carries), so that every export (MXLIMS JSON,
/// ISPyB, ICAT, SciCat) and every read route carries it.
pub(crate) async fn overlay_minted(
    ctx: &datafusion::prelude::SessionContext,
    latest: &mut HashMap<String, (String, crate::StoredObject)>,
) -> Result<()> {
    let sql = format!(
        "SELECT p.object_uuid, p.pid, p.scheme FROM sample_pids p JOIN ingests g ON g.ingest_id = p.ingest_id \
         WHERE p.{COMMITTED} ORDER BY g.committed_at, p.recorded_at"
    );
    for b in ctx.sql(&sql).await?.collect().await? {
        let (u, pid, scheme) = (strings(&b, 0), strings(&b, 1), strings(&b, 2));
        for i in 0..b.num_rows() {
            let Some((_, object)) = latest.get_mut(u.value(i)) else {
                continue;
            };
            set_minted(
                &mut object.json,
                pid.value(i),
                identity_scheme(scheme.value(i)),
            );
        }
    }
    Ok(())
}

/// Put a minted PID into an object's JSON unless it has a PID of its own.
fn set_minted(json: &mut Value, pid: &str, scheme: &str) {
    let Some(object) = json.as_object_mut() else {
        return;
    };
    let barcode = object.get("barcode").cloned();
    let extensions = object
        .entry("extensions")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(extensions) = extensions else {
        return;
    };
    let key = extensions
        .keys()
        .find(|k| k.eq_ignore_ascii_case("mxpipe.org"))
        .cloned()
        .unwrap_or_else(|| "mxpipe.org".to_owned());
    let Some(ours) = extensions
        .entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
    else {
        return;
    };
    if ours
        .get("sampleIdentity")
        .is_some_and(|s| s.get("pid").is_some())
    {
        return;
    }
    let mut identity = json!({"pid": pid, "scheme": scheme});
    if let Some(b) = barcode.filter(Value::is_string) {
        identity["barcodeAtAssignment"] = b;
    }
    ours.insert("sampleIdentity".to_owned(), identity);
}
