//! Export to ISPyB (DLS flavour, schema 5.x) in a MariaDB/MySQL database, with plain SQL through
//! sqlx (the stored procedures are not needed and often absent). One transaction per experiment
//! (its collection rows and the processing it completes); the id map (mxpipe key → ISPyB primary
//! key) lives in the store and changes only after the database committed, so a re-export updates
//! or skips instead of inserting. Mapping rules: [`map`]; documentation: `docs/ispyb.md`.

pub mod map;
pub mod rows;
mod session;

use std::collections::{HashMap, HashSet};

use mxpipe_store::{CatalogueId, Store};
use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{Executor, MySql, Row as _, Transaction};

use crate::ExportError;
use crate::driver::{self, Catalogue, DriverOptions, IdMap, Written};
use crate::records::{Filter, Records};
use rows::{Row, Settings, Unit, Val};
use session::render;

/// Columns whose value the writer resolves from the database at write time (ids of lookup
/// tables), not the row builder: (table, column).
pub const RESOLVED_BY_WRITER: &[(&str, &str)] = &[
    ("DataCollectionGroup", "experimentTypeId"),
    ("Event", "eventTypeId"),
];

/// Schema major versions this exporter knows.
pub const KNOWN_MAJOR_VERSIONS: &[u32] = &[5];

pub use crate::driver::{Outcome, Summary};

/// Options of one export run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create Person/Proposal/BLSession when the session is not in ISPyB.
    pub create_session: bool,
    /// Run everything in transactions that are rolled back, printing the SQL.
    pub dry_run: bool,
    /// Mapping settings.
    pub settings: Settings,
    /// Command line recorded with the id map.
    pub command: String,
    /// Experiments written at once, each in its own transaction on its own connection.
    pub concurrency: usize,
}

/// Connections of an exporter's pool at most (`Options::concurrency` beyond it wait).
const MAX_CONNECTIONS: u32 = 8;

/// A session by proposal code, proposal number and visit number.
type SessionKey = (String, String, Option<i64>);

/// A connected exporter.
pub struct Ispyb {
    pool: MySqlPool,
    instance: String,
    experiment_types: HashMap<String, i64>,
    event_types: HashMap<String, i64>,
    pipelines: HashSet<i64>,
    /// Sessions found in ISPyB this run: (proposal code, number, visit) → (sessionId, proposalId).
    sessions: std::sync::Mutex<HashMap<SessionKey, (i64, i64)>>,
    /// The schema version read from AdminVar.
    pub schema_version: String,
}

/// A database URL for messages: whatever stands between `://` and the last `@` (a user, perhaps
/// a password put there by mistake) is not repeated.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://…@{}", &url[..a], &url[b + 1..]),
        _ => url.to_owned(),
    }
}

/// A `--db` URL checked and made into connect options (`ispyb export` and `ispyb import` alike).
pub struct DbTarget {
    /// Connect options, the password (given apart from the URL) set.
    pub options: MySqlConnectOptions,
    /// `host:port/database`: the key of the id map.
    pub instance: String,
    /// The user, for messages.
    pub user: String,
}

/// Check a `--db` URL (`mysql://user@host:port/database`; a password in it is refused — it
/// comes from a file or the environment) and build its connect options.
pub fn db_target(url: &str, password: Option<&str>) -> Result<DbTarget, ExportError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| ExportError::Config(format!("--db {:?}: {e}", redacted_url(url))))?;
    if parsed.password().is_some() {
        return Err(ExportError::Config(
            "the --db URL contains a password; put it in MXPIPE_ISPYB_PASSWORD or a file (--password-file) instead".into(),
        ));
    }
    let mut options: MySqlConnectOptions = url
        .parse()
        .map_err(|e| ExportError::Config(format!("--db {:?}: {e}", redacted_url(url))))?;
    if let Some(p) = password {
        options = options.password(p);
    }
    Ok(DbTarget {
        options,
        instance: instance_of(url)?,
        user: parsed.username().to_owned(),
    })
}

/// Which ISPyB a URL names, `host:port/database`: the key of its id map in the store.
pub fn instance_of(url: &str) -> Result<String, ExportError> {
    let u = url::Url::parse(url)
        .map_err(|e| ExportError::Config(format!("--db {:?}: {e}", redacted_url(url))))?;
    Ok(format!(
        "{}:{}{}",
        u.host_str().unwrap_or("localhost"),
        u.port().unwrap_or(3306),
        u.path()
    ))
}

fn quote(name: &str) -> String {
    format!("`{name}`")
}

impl Ispyb {
    /// Connect (`mysql://user@host:port/database`, password given separately), check
    /// `AdminVar.schemaVersion` and read the lookups.
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Ispyb, ExportError> {
        let DbTarget {
            options,
            instance,
            user,
        } = db_target(url, password)?;
        let pool = MySqlPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|e| {
                ExportError::Database(format!(
                    "cannot connect to ISPyB at {instance} as {user}: {e}"
                ))
            })?;
        let version: Option<String> = sqlx::query_scalar("SELECT value FROM AdminVar WHERE name = 'schemaVersion'")
            .fetch_optional(&pool)
            .await
            .map_err(|e| ExportError::Database(format!("cannot read AdminVar.schemaVersion ({e}); is this an ISPyB database, and may the user SELECT on AdminVar?")))?;
        let version = version.ok_or_else(|| {
            ExportError::SchemaVersion("AdminVar has no schemaVersion row".into())
        })?;
        let major: Option<u32> = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok());
        if !major.is_some_and(|m| KNOWN_MAJOR_VERSIONS.contains(&m)) {
            return Err(ExportError::SchemaVersion(format!(
                "ISPyB schema version {version} at {instance} is not supported: mxpipe writes schema 5.x (tested with 5.2.0); refusing to export"
            )));
        }
        let mut me = Ispyb {
            pool,
            instance,
            experiment_types: HashMap::new(),
            event_types: HashMap::new(),
            pipelines: HashSet::new(),
            sessions: Default::default(),
            schema_version: version,
        };
        me.experiment_types = me
            .name_ids(
                "ExperimentType",
                "SELECT CAST(experimentTypeId AS SIGNED), name FROM ExperimentType",
            )
            .await?;
        me.event_types = me
            .name_ids(
                "EventType",
                "SELECT CAST(eventTypeId AS SIGNED), name FROM EventType",
            )
            .await?;
        me.pipelines = me
            .name_ids(
                "ProcessingPipeline",
                "SELECT CAST(processingPipelineId AS SIGNED), name FROM ProcessingPipeline",
            )
            .await?
            .into_values()
            .collect();
        Ok(me)
    }

    /// A lookup table as name → id.
    async fn name_ids(
        &self,
        table: &str,
        sql: &'static str,
    ) -> Result<HashMap<String, i64>, ExportError> {
        let failed = |e: sqlx::Error| {
            ExportError::Database(format!(
                "cannot read {table} ({e}); grant SELECT on it to the exporter user"
            ))
        };
        let mut out = HashMap::new();
        for r in sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(failed)?
        {
            out.insert(
                r.try_get::<String, _>(1).map_err(failed)?,
                r.try_get::<i64, _>(0).map_err(failed)?,
            );
        }
        Ok(out)
    }

    /// Which ISPyB this is (`host:port/database`), the key of its id map in the store.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Export the experiments `filter` selects through the shared driver ([`crate::driver`]);
    /// `progress` is called after each experiment with its number of sweeps.
    pub async fn export(
        &self,
        store: &Store,
        filter: &Filter,
        options: &Options,
        progress: impl FnMut(usize),
    ) -> Result<Outcome, ExportError> {
        let driver_options = DriverOptions {
            dry_run: options.dry_run,
            command: options.command.clone(),
            concurrency: options.concurrency,
        };
        let mut target = Target { db: self, options };
        driver::export(&mut target, store, filter, &driver_options, progress).await
    }

    /// Write one unit in one transaction; returns the id-map entries to record.
    async fn write_unit(
        &self,
        unit: &Unit,
        map: &HashMap<String, CatalogueId>,
        options: &Options,
        log: &mut Vec<String>,
    ) -> Result<Written, String> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| format!("cannot start a transaction: {e}"))?;
        let mut counts: Summary = Summary::new();
        let mut ids: HashMap<String, i64> = HashMap::new();
        let (session_id, proposal_id) = self
            .session(&mut tx, &unit.session, options, &mut counts, log)
            .await?;
        ids.insert("BLSession".into(), session_id);
        ids.insert("Proposal".into(), proposal_id);
        // A map whose group row is gone (database restored, rows deleted) is stale for this unit.
        let group_key = format!("DataCollectionGroup:{}", unit.experiment);
        let mut usable = true;
        if !map.contains_key(&group_key) {
            let pattern = format!("mxpipe experiment {}%", unit.experiment);
            let found: Option<i64> = sqlx::query_scalar(
                // sessionId is indexed: only the session's groups are scanned.
                "SELECT CAST(dataCollectionGroupId AS SIGNED) FROM DataCollectionGroup WHERE sessionId = ? AND comments LIKE ? LIMIT 1",
            )
            .bind(session_id)
            .bind(&pattern)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| format!("DataCollectionGroup: {e}"))?;
            if let Some(id) = found {
                return Err(format!(
                    "already in ISPyB as DataCollectionGroup {id}, but not in this store's id map (exported from another store, or an interrupted export); not written again, to avoid duplicates"
                ));
            }
        }
        if let Some(g) = map.get(&group_key) {
            let found =
                sqlx::query("SELECT 1 FROM DataCollectionGroup WHERE dataCollectionGroupId = ?")
                    .bind(g.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| format!("DataCollectionGroup: {e}"))?;
            usable = found.is_some();
        }
        let mut entries = Vec::new();
        for row in &unit.rows {
            let values = self.resolve(row, &ids, map)?;
            let hash = hex::encode(Sha256::digest(format!("{}{values:?}", row.table)));
            let t = map::table(row.table);
            let known = map.get(&row.key).filter(|_| usable);
            let slot = counts.entry(row.table).or_default();
            let id = match known {
                Some(k) if k.content_sha256 == hash => {
                    slot[2] += 1;
                    k.id
                }
                Some(k) if self.exists(&mut tx, t, k.id).await? => {
                    let sets: Vec<String> = values
                        .iter()
                        .map(|(c, _)| format!("{} = ?", quote(c)))
                        .collect();
                    let sql = format!(
                        "UPDATE {} SET {} WHERE {} = ?",
                        quote(t.table),
                        sets.join(", "),
                        quote(t.key)
                    );
                    self.run(&mut tx, &sql, &values, Some(k.id), log, options.dry_run)
                        .await
                        .map_err(|e| format!("{} ({}): {e}", row.table, row.key))?;
                    slot[1] += 1;
                    k.id
                }
                _ => {
                    let cols: Vec<String> = values.iter().map(|(c, _)| quote(c)).collect();
                    let marks = vec!["?"; values.len()].join(", ");
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({marks})",
                        quote(t.table),
                        cols.join(", ")
                    );
                    let new_id = self
                        .run(&mut tx, &sql, &values, None, log, options.dry_run)
                        .await
                        .map_err(|e| format!("{} ({}): {e}", row.table, row.key))?;
                    slot[0] += 1;
                    if t.key_is_mapped {
                        values
                            .iter()
                            .find(|(c, _)| *c == t.key)
                            .and_then(|(_, v)| if let Val::Int(i) = v { Some(*i) } else { None })
                            .unwrap_or(new_id)
                    } else {
                        new_id
                    }
                }
            };
            ids.insert(row.key.clone(), id);
            if known.is_none_or(|k| k.content_sha256 != hash || k.id != id) {
                entries.push((
                    row.key.clone(),
                    CatalogueId {
                        table: row.table.to_owned(),
                        id,
                        content_sha256: hash,
                        pid: None,
                    },
                ));
            }
        }
        for (name, content) in &unit.files {
            let dir = &options.settings.attachment_dir;
            std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(dir.join(name), content))
                .map_err(|e| {
                    format!("cannot write attachment {}: {e}", dir.join(name).display())
                })?;
        }
        if options.dry_run {
            tx.rollback()
                .await
                .map_err(|e| format!("rollback failed: {e}"))?;
        } else {
            tx.commit()
                .await
                .map_err(|e| format!("commit failed: {e}"))?;
        }
        Ok(Written {
            counts,
            ids: entries,
        })
    }

    /// Resolve references and lookups of a row into plain values.
    fn resolve(
        &self,
        row: &Row,
        ids: &HashMap<String, i64>,
        map: &HashMap<String, CatalogueId>,
    ) -> Result<Vec<(&'static str, Val)>, String> {
        let mut out = Vec::with_capacity(row.values.len());
        for (col, v) in &row.values {
            let v = match v {
                Val::Ref(k) => match ids.get(k).copied().or_else(|| map.get(k).map(|c| c.id)) {
                    Some(id) => Val::Int(id),
                    None => {
                        return Err(format!(
                            "{} ({}): {col} refers to {k}, which is not in ISPyB yet",
                            row.table, row.key
                        ));
                    }
                },
                other => other.clone(),
            };
            let v = match (row.table, *col) {
                ("DataCollectionGroup", "experimentTypeId") => {
                    let name = row
                        .values
                        .iter()
                        .find(|(c, _)| *c == "experimentType")
                        .map(|(_, v)| v);
                    match name {
                        Some(Val::Text(n)) => self
                            .experiment_types
                            .get(n)
                            .map_or(Val::Null, |i| Val::Int(*i)),
                        _ => Val::Null,
                    }
                }
                ("Event", "eventTypeId") => {
                    let name = row
                        .values
                        .iter()
                        .find(|(c, _)| *c == "name")
                        .map(|(_, v)| v);
                    match name.and_then(|n| {
                        if let Val::Text(n) = n {
                            self.event_types.get(n)
                        } else {
                            None
                        }
                    }) {
                        Some(i) => Val::Int(*i),
                        None => {
                            return Err(format!(
                                "Event ({}): EventType {name:?} is not in ISPyB's EventType table",
                                row.key
                            ));
                        }
                    }
                }
                ("AutoProcProgram", "processingPipelineId") => match v {
                    Val::Int(i) if self.pipelines.contains(&i) => Val::Int(i),
                    _ => Val::Null,
                },
                _ => v,
            };
            out.push((*col, v));
        }
        Ok(out)
    }

    async fn exists(
        &self,
        tx: &mut Transaction<'_, MySql>,
        t: &map::TableMap,
        id: i64,
    ) -> Result<bool, String> {
        let sql = format!(
            "SELECT 1 FROM {} WHERE {} = ?",
            quote(t.table),
            quote(t.key)
        );
        // Table and key names come from the static field map, never from data.
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| format!("{}: {e}", t.table))?
            .is_some())
    }

    /// Run one statement (binding `values`, then `key` for an UPDATE); returns the insert id.
    async fn run(
        &self,
        tx: &mut Transaction<'_, MySql>,
        sql: &str,
        values: &[(&'static str, Val)],
        key: Option<i64>,
        log: &mut Vec<String>,
        dry_run: bool,
    ) -> Result<i64, sqlx::Error> {
        if dry_run {
            log.push(render(sql, values, key));
        }
        // Statements are built from the static field map's table and column names; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for (_, v) in values {
            q = match v {
                Val::Null | Val::Ref(_) => q.bind(None::<i64>),
                Val::Int(i) => q.bind(*i),
                Val::Float(f) => q.bind(*f),
                Val::Text(t) => q.bind(t.clone()),
                Val::Bytes(b) => q.bind(b.clone()),
            };
        }
        if let Some(k) = key {
            q = q.bind(k);
        }
        let done = tx.execute(q).await?;
        Ok(done.last_insert_id() as i64)
    }
}

/// ISPyB on the catalogue seam: one transaction per unit (a fork shares the pool: another
/// connection, another transaction).
#[derive(Clone, Copy)]
struct Target<'a> {
    db: &'a Ispyb,
    options: &'a Options,
}

impl Catalogue for Target<'_> {
    fn display_name(&self) -> &'static str {
        "ISPyB"
    }

    fn pixel_size_setting(&self) -> Option<(Option<f64>, &'static str)> {
        Some((self.options.settings.pixel_size_mm, "[ispyb] pixel_size_mm"))
    }

    fn id_map(&self) -> Option<(&'static str, &str)> {
        Some(("ispyb", &self.db.instance))
    }

    fn experiment_marker(&self) -> &'static str {
        "DataCollectionGroup:"
    }

    fn fork(&self) -> Option<Self> {
        Some(*self)
    }

    type Prepared = rows::Unit;

    fn prepare(
        &mut self,
        records: &Records,
        unit: &driver::Unit<'_>,
    ) -> Result<rows::Unit, String> {
        rows::experiment_unit(
            records,
            unit.experiment,
            &unit.processing,
            &self.options.settings,
        )
    }

    async fn write_unit(
        &mut self,
        _records: &Records,
        _unit: &driver::Unit<'_>,
        rows: rows::Unit,
        map: &IdMap,
        log: &mut Vec<String>,
    ) -> Result<Written, String> {
        self.db
            .write_unit(&rows, map, self.options, log)
            .await
            .map_err(|e| format!("{e} (rolled back: nothing of this experiment was written)"))
    }
}
