//! Import a legacy ISPyB (schema 5.x) into the store: DataCollectionGroups stream in key order
//! in batches ([`batch`]); each group becomes one MXLIMS message (experiment, sweeps, sample,
//! session, the processing it carries — [`collection`], [`sweeps`], [`samples`],
//! [`processing`]), validated like every ingest and committed as one store run per batch, then
//! the id map of `export ispyb` is pre-filled so a later export updates in place. Values pass
//! through the named rules of [`rules`]; `docs/ispyb-import.md` documents all of it.

pub mod batch;
pub mod batch_processing;
pub mod collection;
pub mod processing;
pub mod read;
pub mod rules;
pub mod samples;
pub mod sweeps;
pub mod values;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use mxpipe_store::{CatalogueId, PreparedMessage, SourceFile, Store, Writer};
use serde::Serialize;

use batch::{Batch, cols};
use read::{Source, int};
use rules::Tally;

/// What can stop an import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A bad option or URL.
    #[error("{0}")]
    Config(String),
    /// The database refused or failed.
    #[error("{0}")]
    Database(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// Mapping settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The facility's zone: ISPyB DATETIMEs are naive local times.
    pub timezone: chrono_tz::Tz,
    /// Detector pixel size (mm), to turn `xBeam`/`yBeam` (mm) into `beamPosition` (pixels).
    pub pixel_size_mm: Option<f64>,
    /// Facility short name for sessions and uuids (e.g. `DLS`).
    pub facility: Option<String>,
    /// `host:port/database`.
    pub instance: String,
    /// The identifier domain of DataCollection ids on sweeps (contains `ispyb`, so processing
    /// that reports a dataCollectionId links to the imported sweep).
    pub identifier_domain: String,
}

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these visits (`cm14451-1`).
    pub sessions: Vec<String>,
    /// Only these proposals (`cm14451`).
    pub proposals: Vec<String>,
    /// Only groups with a collection started on or after this day (facility time).
    pub since: Option<chrono::NaiveDate>,
    /// Read and map, commit nothing.
    pub dry_run: bool,
    /// Groups per store run (default 2 000).
    pub batch_groups: usize,
    /// The command line recorded with each run.
    pub command: String,
    /// Facility zone name (IANA), default UTC.
    pub timezone: Option<chrono_tz::Tz>,
    /// Pixel size (mm) for beam centres.
    pub pixel_size_mm: Option<f64>,
    /// Facility short name.
    pub facility: Option<String>,
}

/// Progress of an import.
pub trait Progress {
    /// `groups` DataCollectionGroups will be read.
    fn total(&self, groups: u64);
    /// So far: groups and collections read.
    fn done(&self, groups: u64, collections: u64);
}

/// No progress display.
pub struct Quiet;
impl Progress for Quiet {
    fn total(&self, _: u64) {}
    fn done(&self, _: u64, _: u64) {}
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// `host:port/database`.
    pub instance: String,
    /// `AdminVar.schemaVersion`.
    pub schema_version: Option<String>,
    /// Nothing was committed.
    pub dry_run: bool,
    /// Rows read per table.
    pub rows_read: BTreeMap<String, u64>,
    /// DataCollectionGroups read.
    pub groups: u64,
    /// DataCollections read in those groups.
    pub collections: u64,
    /// Messages (one per group) that passed validation.
    pub messages: u64,
    /// Groups whose message failed validation: (group id, what).
    pub failed: Vec<(i64, String)>,
    /// Objects stored for the first time.
    pub objects_new: u64,
    /// Objects stored in a new version.
    pub objects_changed: u64,
    /// Objects already stored as they are.
    pub objects_unchanged: u64,
    /// Id-map entries written for `export ispyb`.
    pub id_map_entries: u64,
    /// Store runs committed.
    pub runs: u64,
    /// Processing programs not imported because no collection carries them (their ids, first
    /// 1 000).
    pub processing_without_collection: Vec<i64>,
    /// Rule applications, warnings and values kept out.
    pub rules: Tally,
    /// Seconds.
    pub elapsed_s: f64,
    /// Where the time went.
    pub timings: Timings,
}

/// Seconds per stage (summed over batches).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    /// Reading rows from the database.
    pub read_s: f64,
    /// Mapping rows to messages, validating and preparing them (validation included).
    pub map_s: f64,
    /// Of which validation and preparation.
    pub validate_s: f64,
    /// Store runs and id-map entries (each batch's run beside the reading and mapping of the
    /// next).
    pub commit_s: f64,
    /// Reading, per table.
    pub read_s_per_table: BTreeMap<String, f64>,
}

/// A uuid for an ISPyB row: version 5 of `ispyb:<facility>:<table>:<key>` in the URL
/// namespace, so the same row always gives the same object.
pub fn derived_uuid(s: &Settings, table: &str, key: i64) -> String {
    let name = format!(
        "ispyb:{}:{table}:{key}",
        s.facility.as_deref().unwrap_or(&s.instance)
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// The id map's target name (as `export ispyb` writes it).
pub const TARGET: &str = "ispyb";

/// Import from `url` into `store` (`None`, or `options.dry_run`: read, map and validate only).
pub async fn import(
    store: Option<&Store>,
    url: &str,
    password: Option<&str>,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Report, ImportError> {
    let started = Instant::now();
    let mut src = Source::connect(url, password).await?;
    let facility_domain = options
        .facility
        .as_deref()
        .map(|f| {
            f.to_ascii_lowercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "legacy".into());
    let s = Settings {
        timezone: options.timezone.unwrap_or(chrono_tz::UTC),
        pixel_size_mm: options.pixel_size_mm,
        facility: options.facility.clone(),
        instance: src.instance.clone(),
        identifier_domain: format!("ispyb.{facility_domain}"),
    };
    let mut report = Report {
        instance: src.instance.clone(),
        dry_run: options.dry_run,
        ..Default::default()
    };
    report.schema_version = src
        .fetch("AdminVar", &["value"], "name = 'schemaVersion'", &[], "")
        .await
        .ok()
        .and_then(|r| r.into_iter().next())
        .and_then(|r| r.get("value").cloned());
    let filter = group_filter(&src, options).await?;
    let total: i64 = src
        .ids(
            &format!("SELECT CAST(count(*) AS SIGNED) FROM DataCollectionGroup WHERE {filter}"),
            &[],
        )
        .await?
        .first()
        .copied()
        .unwrap_or(0);
    progress.total(total as u64);
    let store = store.filter(|_| !options.dry_run);
    report.dry_run = store.is_none();
    let known = match store {
        None => HashMap::new(),
        Some(store) => store
            .catalogue_ids(TARGET, &src.instance)
            .await
            .map_err(|e| ImportError::Store(e.to_string()))?,
    };
    let known = std::sync::Arc::new(known);
    let mut writer = store.map(|s| Writer::long_lived(s.clone()));
    let mut pending: Option<tokio::task::JoinHandle<Committed>> = None;
    let mut after = -1_i64;
    let limit = options.batch_groups.max(1);
    loop {
        let groups = src
            .fetch(
                "DataCollectionGroup",
                cols::GROUP,
                &format!("dataCollectionGroupId > ? AND {filter}"),
                &[after],
                &format!("ORDER BY dataCollectionGroupId LIMIT {limit}"),
            )
            .await?;
        let Some(last) = groups.last().and_then(|g| int(g, "dataCollectionGroupId")) else {
            break;
        };
        after = last;
        let t0 = Instant::now();
        let b = Batch::load(&mut src, groups, &filter).await?;
        let t1 = Instant::now();
        report.timings.read_s += (t1 - t0).as_secs_f64();
        report.groups += b.groups.len() as u64;
        report.collections += b.group_dcs.values().map(|v| v.len() as u64).sum::<u64>();
        // Map, validate and prepare every group's message on all cores.
        use rayon::prelude::*;
        let mapped: Vec<(Tally, Mapped)> = b
            .groups
            .par_iter()
            .map(|g| {
                let mut t = Tally::default();
                let m = map_group(&b, g, &s, &mut t);
                (t, m)
            })
            .collect();
        let mut prepared = Vec::new();
        let mut entries = Vec::new();
        for (t, m) in mapped {
            report.rules.merge(t);
            match m {
                Mapped::Skipped => {}
                Mapped::Failed(group, e) => report.failed.push((group, e)),
                Mapped::Ready(p, ids, secs) => {
                    report.messages += 1;
                    report.timings.validate_s += secs;
                    prepared.push(*p);
                    entries.extend(ids);
                }
            }
        }

        report.timings.map_s += t1.elapsed().as_secs_f64();
        // The previous batch's commit ran while this batch was read and mapped; wait for it,
        // then start this one's (one store run at a time, in batch order).
        if let Some(running) = pending.take() {
            writer = Some(finish(running, &mut report).await?);
        }
        if let (Some(store), Some(w)) = (store, writer.take()) {
            let job = Committing {
                store: store.clone(),
                prepared,
                entries,
                known: known.clone(),
                command: options.command.clone(),
                instance: src.instance.clone(),
            };
            pending = Some(tokio::spawn(job.run(w)));
        }
        progress.done(report.groups, report.collections);
    }
    if let Some(running) = pending.take() {
        finish(running, &mut report).await?;
    }
    if options.sessions.is_empty() && options.proposals.is_empty() && options.since.is_none() {
        report.processing_without_collection = src
            .ids(
                "SELECT CAST(p.autoProcProgramId AS SIGNED) FROM AutoProcProgram p WHERE p.processingJobId IS NULL \
                 AND p.parentAutoProcProgramId IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM AutoProcIntegration i WHERE i.autoProcProgramId = p.autoProcProgramId) \
                 AND NOT EXISTS (SELECT 1 FROM MXMRRun m WHERE m.autoProcProgramId = p.autoProcProgramId) \
                 ORDER BY p.autoProcProgramId LIMIT 1000",
                &[],
            )
            .await
            .unwrap_or_default();
    }
    report.timings.read_s_per_table = src
        .seconds
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (v * 1000.0).round() / 1000.0))
        .collect();
    report.rows_read = src
        .rows_read
        .iter()
        .map(|(k, v)| ((*k).to_owned(), *v))
        .collect();
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// One group's outcome.
enum Mapped {
    /// Nothing to import (a group without collections; reported by the rules).
    Skipped,
    /// The message failed validation.
    Failed(i64, String),
    /// The prepared message, its id-map entries, and the seconds validation and preparation took.
    Ready(Box<PreparedMessage>, Vec<(String, &'static str, i64)>, f64),
}

/// Map one group to its message, validate and prepare it.
fn map_group(b: &Batch, g: &read::Row, s: &Settings, t: &mut Tally) -> Mapped {
    let Some(mut gm) = b.group_message(g, s, t) else {
        return Mapped::Skipped;
    };
    b.add_processing(&mut gm, s, t);
    let tv = Instant::now();
    let origin = std::path::PathBuf::from(format!(
        "ispyb://{}/DataCollectionGroup/{}",
        s.instance, gm.group
    ));
    match mxpipe_ingest::validated(&origin, gm.value) {
        Ok(fragments) => {
            let Some(mxpipe_ingest::Fragment::Message { value, message, .. }) =
                fragments.into_iter().next()
            else {
                return Mapped::Failed(gm.group, "validation returned no message".into());
            };
            // The message's source is the rows it was built from: recorded like a file, with
            // the message's own hash and size (what prepare computed anyway).
            let mut p = mxpipe_store::prepare_message(&value, *message, Vec::new());
            p.sources.push(SourceFile {
                path: origin.display().to_string(),
                sha256: p.message_id.clone(),
                bytes: p.json.len() as u64,
                format: "ispyb".into(),
            });
            Mapped::Ready(Box::new(p), gm.ids, tv.elapsed().as_secs_f64())
        }
        Err(e) => Mapped::Failed(gm.group, e.to_string()),
    }
}

/// One batch's commit, run beside the reading and mapping of the next batch.
struct Committing {
    store: Store,
    prepared: Vec<PreparedMessage>,
    entries: Vec<(String, &'static str, i64)>,
    known: std::sync::Arc<HashMap<String, CatalogueId>>,
    command: String,
    instance: String,
}

/// What a batch's commit did: the writer back, counts, seconds, or the error.
type Committed = Result<(Writer, CommitCounts), ImportError>;

/// Counts of one batch's commit.
#[derive(Default)]
struct CommitCounts {
    new: u64,
    changed: u64,
    unchanged: u64,
    runs: u64,
    id_map_entries: u64,
    seconds: f64,
}

impl Committing {
    /// The batch's messages as one store run, then the id-map entries not yet in the map.
    async fn run(self, mut writer: Writer) -> Committed {
        let started = Instant::now();
        let mut c = CommitCounts::default();
        if !self.prepared.is_empty() {
            let refs: Vec<&PreparedMessage> = self.prepared.iter().collect();
            let outcome = writer
                .ingest(&refs, Some(&self.command))
                .await
                .map_err(|e| ImportError::Store(e.to_string()))?;
            let (n, ch, u) = outcome.totals();
            (c.new, c.changed, c.unchanged) = (n as u64, ch as u64, u as u64);
            c.runs = u64::from(outcome.committed);
        }
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<(String, CatalogueId)> = self
            .entries
            .iter()
            .filter(|(k, table, id)| {
                seen.insert(k.clone())
                    && self
                        .known
                        .get(k)
                        .is_none_or(|c| c.id != *id || c.table != *table)
            })
            .map(|(k, table, id)| {
                (
                    k.clone(),
                    CatalogueId {
                        table: (*table).to_owned(),
                        id: *id,
                        content_sha256: "imported".into(),
                        pid: None,
                    },
                )
            })
            .collect();
        c.id_map_entries = fresh.len() as u64;
        self.store
            .record_catalogue_ids(TARGET, &self.instance, &fresh, &self.command)
            .await
            .map_err(|e| ImportError::Store(e.to_string()))?;
        c.seconds = started.elapsed().as_secs_f64();
        Ok((writer, c))
    }
}

/// Wait for a batch's commit and add its counts to the report.
async fn finish(
    running: tokio::task::JoinHandle<Committed>,
    report: &mut Report,
) -> Result<Writer, ImportError> {
    let (writer, c) = running
        .await
        .map_err(|e| ImportError::Store(format!("the commit task failed: {e}")))??;
    report.objects_new += c.new;
    report.objects_changed += c.changed;
    report.objects_unchanged += c.unchanged;
    report.runs += c.runs;
    report.id_map_entries += c.id_map_entries;
    report.timings.commit_s += c.seconds;
    Ok(writer)
}

/// The SQL condition on DataCollectionGroup for `--session`, `--proposal` and `--since`.
async fn group_filter(src: &Source, o: &Options) -> Result<String, ImportError> {
    let mut parts = vec![batch_processing::NO_FILTER.to_owned()];
    let mut sessions: Vec<i64> = Vec::new();
    for v in &o.sessions {
        let label = mxpipe_model::extensions::Session::parse_label(v)
            .map_err(|e| ImportError::Config(format!("--session {v:?}: {e}")))?;
        let Some(n) = label.visit_number else {
            return Err(ImportError::Config(format!(
                "--session {v:?}: expected a visit such as cm14451-1 (use --proposal for a whole proposal)"
            )));
        };
        let found = src
            .ids(
                "SELECT CAST(s.sessionId AS SIGNED) FROM BLSession s JOIN Proposal p ON p.proposalId = s.proposalId \
                 WHERE CONCAT(p.proposalCode, p.proposalNumber) = ? AND s.visit_number = CAST(? AS SIGNED)",
                &[label.proposal_code.clone(), n.to_string()],
            )
            .await?;
        if found.is_empty() {
            return Err(ImportError::Config(format!(
                "--session {v}: no such visit in {}",
                src.instance
            )));
        }
        sessions.extend(found);
    }
    for p in &o.proposals {
        let found = src
            .ids(
                "SELECT CAST(s.sessionId AS SIGNED) FROM BLSession s JOIN Proposal p ON p.proposalId = s.proposalId \
                 WHERE CONCAT(p.proposalCode, p.proposalNumber) = ?",
                std::slice::from_ref(p),
            )
            .await?;
        if found.is_empty() {
            return Err(ImportError::Config(format!(
                "--proposal {p}: no session of that proposal in {}",
                src.instance
            )));
        }
        sessions.extend(found);
    }
    if !sessions.is_empty() {
        let list: Vec<String> = sessions.iter().map(i64::to_string).collect();
        parts.push(format!("sessionId IN ({})", list.join(",")));
    }
    if let Some(d) = o.since {
        parts.push(format!(
            "dataCollectionGroupId IN (SELECT dataCollectionGroupId FROM DataCollection WHERE startTime >= '{}')",
            d.format("%Y-%m-%d")
        ));
    }
    Ok(parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::collection::{is_visit_label, mxpipe_uuid, printf_template};
    use super::processing::program_and_version;
    use super::read::Row;
    use super::rules::Tally;
    use super::values::Values;

    #[test]
    fn programs_and_versions() {
        let v = |s: &str| program_and_version(s);
        assert_eq!(
            v("autoPROC 1.0.4 (see: http://www.globalphasing.com/autoproc/)"),
            ("autoPROC".into(), Some("1.0.4".into()))
        );
        assert_eq!(v("xia2 3dii"), ("xia2 3dii".into(), None));
        assert_eq!(v("xia2 3d"), ("xia2 3d".into(), None));
        assert_eq!(
            v("CrystFEL indexamajig 0.11.1"),
            ("CrystFEL indexamajig".into(), Some("0.11.1".into()))
        );
        assert_eq!(v("fast_dp"), ("fast_dp".into(), None));
    }

    #[test]
    fn templates_comments_and_visits() {
        assert_eq!(
            printf_template("tlys_jan_4_1_####.cbf"),
            "tlys_jan_4_1_%04d.cbf"
        );
        assert_eq!(printf_template("Lys_6_1_master.h5"), "Lys_6_1_master.h5");
        assert_eq!(printf_template("a#b#.cbf"), "a#b#.cbf"); // not one run of #
        let u = "3b5b8750-4f0c-44d2-bb09-bbf948ab0cda";
        assert_eq!(
            mxpipe_uuid(Some(&format!("mxpipe experiment {u}: note")), "experiment"),
            Some(u)
        );
        assert_eq!(
            mxpipe_uuid(Some(&format!("mxpipe sweep {u} scan 3")), "experiment"),
            None
        );
        assert_eq!(
            mxpipe_uuid(Some("mxpipe experiment not-a-uuid"), "experiment"),
            None
        );
        assert_eq!(mxpipe_uuid(Some("mxpipe experiment é"), "experiment"), None);
        assert!(is_visit_label("cm28170-1") && is_visit_label("mx23694-12"));
        assert!(
            !is_visit_label("xraycentring")
                && !is_visit_label("20160114")
                && !is_visit_label("Lys-6")
        );
    }

    #[test]
    fn values_through_the_rules() {
        let row: Row = [
            ("a", "NR"),
            ("b", "0"),
            ("c", "2016-07-01 10:00:00"),
            ("d", "0000-00-00 00:00:00"),
            ("e", "x1"),
            ("f", "-3"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        let v = Values {
            row: &row,
            table: "DataCollection",
            key: 7,
        };
        let mut t = Tally::default();
        assert_eq!(v.text("a", &mut t), None);
        assert_eq!(v.positive("b", &mut t), None);
        assert_eq!(
            v.time("c", chrono_tz::Europe::London, &mut t).as_deref(),
            Some("2016-07-01T09:00:00Z")
        );
        assert_eq!(v.time("d", chrono_tz::Europe::London, &mut t), None);
        assert_eq!(v.num("e", &mut t), None);
        assert_eq!(v.positive("f", &mut t), None);
        assert_eq!(t.applied["null-placeholders"], 3);
        assert_eq!(t.kept_out_total, 2);
        assert_eq!((t.kept_out[0].column, t.kept_out[0].key), ("e", 7));
    }
}
