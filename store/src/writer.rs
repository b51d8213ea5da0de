//! The ingest protocol (data tables first, one Delta commit per table per run; the `ingests`
//! record last) run by a [`Writer`]: open table handles plus an index of what is committed.
//!
//! [`Store::ingest`] uses a one-shot writer. A long-lived process (`mxpipe serve`) keeps one
//! writer and feeds it every run: its table handles stay open (no transaction-log replay per
//! run), and its index (committed object versions and message ids) is updated in memory after
//! each of its own commits. Before each run the writer looks at the `ingests` table's version;
//! when anyone else committed meanwhile (another process, an export's id map), the index is
//! rebuilt from the store, so it is never stale. Appends retry on commit conflicts, so
//! concurrent ingests lose nothing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::protocol::SaveMode;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::append::{IngestOutcome, commit_record, pause_for_crash_test};
use crate::prepare::PreparedMessage;
use crate::read::{rows_with_keys, strings};
use crate::rows::{ObjectVersion, Rows, object_rows, object_versions};
use crate::tables::{self, TableDef};
use crate::{Result, Store, StoreError};

/// How many times a commit is retried after a conflict.
const MAX_ATTEMPTS: usize = 25;

/// What is committed: object versions and message ids, as of one version of `ingests`. Kept
/// compact (uuids as 128 bits, SHA-256 hashes as 32 bytes: about 100 bytes per object) because a
/// server holds it for the whole store.
#[derive(Default)]
struct Index {
    /// The `ingests` table version this reflects (`None`: no ingest committed yet).
    ingests_version: Option<u64>,
    /// Committed content hashes per object uuid.
    versions: HashMap<u128, Vec<Digest>>,
    /// Committed message ids (SHA-256 of the message).
    messages: HashSet<Digest>,
}

/// A SHA-256 (content hash, message id).
type Digest = [u8; 32];

impl Index {
    fn hashes(&self, uuid: &str) -> Option<&Vec<Digest>> {
        self.versions.get(&uuid_key(uuid))
    }
    fn add_version(&mut self, uuid: &str, hash: &str) {
        let hashes = self.versions.entry(uuid_key(uuid)).or_default();
        let d = digest(hash);
        if !hashes.contains(&d) {
            hashes.push(d);
        }
    }
}

/// A uuid as 128 bits (any other text: the first 128 bits of its SHA-256).
fn uuid_key(uuid: &str) -> u128 {
    uuid::Uuid::parse_str(uuid).map_or_else(
        |_| u128::from_be_bytes(digest_of(uuid)[..16].try_into().expect("16 bytes")),
        |u| u.as_u128(),
    )
}

/// A hex SHA-256 as bytes (any other text: its SHA-256).
fn digest(hex_text: &str) -> Digest {
    let mut d = [0u8; 32];
    match hex::decode_to_slice(hex_text, &mut d) {
        Ok(()) => d,
        Err(_) => digest_of(hex_text),
    }
}

fn digest_of(text: &str) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// Writes ingest runs into a store; see the module docs.
pub struct Writer {
    store: Store,
    tables: HashMap<&'static str, DeltaTable>,
    index: Option<Index>,
    long_lived: bool,
    /// Appends per table since it was last compacted.
    appends: HashMap<&'static str, usize>,
}

impl Writer {
    /// A writer for many runs: keeps table handles and the committed-object index between runs.
    pub fn long_lived(store: Store) -> Writer {
        Writer {
            store,
            tables: HashMap::new(),
            index: None,
            long_lived: true,
            appends: HashMap::new(),
        }
    }

    /// A writer for one run: loads only the index entries of the run's objects.
    fn one_shot(store: Store) -> Writer {
        Writer {
            long_lived: false,
            ..Writer::long_lived(store)
        }
    }

    /// The store written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The tables this writer appended to at least `every` times since they were last handed
    /// out here: due for compaction ([`Store::compact_table`]). Each run adds one small file per
    /// table it touches, and the cost of the next commit and of every query grows with the
    /// number of files, so a writer that runs for long has its tables compacted as it goes — by
    /// another task (`mxpipe serve`'s compactor), beside this writer's commits and never in
    /// front of them: an append that races a compaction is retried by Delta (a compaction
    /// changes no row), and this writer's index survives compactions (see `refresh_index`).
    pub fn due_for_compaction(&mut self, every: usize) -> Vec<&'static str> {
        let mut due = Vec::new();
        for (name, n) in &mut self.appends {
            if *n >= every {
                *n = 0;
                due.push(*name);
            }
        }
        due.sort_unstable();
        due
    }

    /// Store a batch of prepared messages as one ingest run; `per_input` of the outcome is
    /// aligned with `messages`. Nothing is written when every object and message is stored.
    pub async fn ingest(
        &mut self,
        messages: &[&PreparedMessage],
        command: Option<&str>,
    ) -> Result<IngestOutcome> {
        let started = chrono::Utc::now();
        let clock = std::time::Instant::now();
        let mut phases: Vec<(&str, f64)> = Vec::new();
        let phase = |name: &'static str, phases: &mut Vec<(&str, f64)>| {
            phases.push((name, clock.elapsed().as_secs_f64()));
        };
        let ingest_id = uuid::Uuid::new_v4().to_string();
        let mut outcome = IngestOutcome {
            ingest_id: ingest_id.clone(),
            ..Default::default()
        };
        // Object JSON and content hashes, once per object, on every core.
        let versions: Vec<Vec<ObjectVersion<'_>>> =
            messages.par_iter().map(|p| object_versions(p)).collect();
        let message_ids: Vec<&str> = messages.iter().map(|p| p.message_id.as_str()).collect();
        let index_version = self.refresh_index(&versions, &message_ids).await?;
        phase("index", &mut phases);
        let index = self.index.as_ref().expect("refreshed");

        let mut rows: Rows = Rows::new();
        // One version per object per run: a run's rows share its `ingest_id`, so two versions of
        // one uuid in one run could not be told apart (which is current?). The first wins.
        let mut seen_in_run: HashMap<&str, &str> = HashMap::new();
        let mut n_sources = 0usize;
        let mut messages_in_run: HashSet<&str> = HashSet::new();
        let mut bulk: Vec<(String, crate::prepare::BulkRows)> = Vec::new();
        // Per message, the versions to write (decided in order: the first of duplicates wins).
        let mut to_write: Vec<Vec<&ObjectVersion<'_>>> = Vec::with_capacity(messages.len());
        // Objects stored before, now written in a new version (their old versions are superseded).
        let mut changed_uuids: Vec<&str> = Vec::new();
        for (p, vs) in messages.iter().zip(&versions) {
            let mut counts = (0, 0, 0);
            let mut chosen = Vec::new();
            for v in vs {
                let known = index.hashes(&v.uuid);
                if known.is_some_and(|h| h.contains(&digest(&v.content_sha256))) {
                    counts.2 += 1;
                    continue;
                }
                if let Some(first) = seen_in_run.get(v.uuid.as_str()) {
                    // The same object in two messages of one run (a sample shared by two
                    // experiments): stored once; only a different content is worth a warning.
                    if *first != v.content_sha256.as_str() {
                        tracing::warn!(
                            uuid = %v.uuid,
                            "an object appears more than once in this run with different content: the first is stored"
                        );
                    }
                    counts.2 += 1;
                    continue;
                }
                if known.is_some() {
                    counts.1 += 1;
                    changed_uuids.push(&v.uuid);
                } else {
                    counts.0 += 1
                }
                seen_in_run.insert(v.uuid.as_str(), v.content_sha256.as_str());
                for b in &p.bulk {
                    if b.owner.0 == v.entry.dict && b.owner.1 == v.entry.key {
                        bulk.push((v.uuid.clone(), b.clone()));
                    }
                }
                chosen.push(v);
            }
            to_write.push(chosen);
            outcome.per_input.push(counts);
            let record = !index.messages.contains(&digest(&p.message_id))
                && messages_in_run.insert(&p.message_id);
            outcome.recorded.push(record);
            if record {
                rows.entry("messages")
                    .or_default()
                    .push(json!({"message_id": p.message_id}));
                for s in &p.sources {
                    n_sources += 1;
                    rows.entry("sources").or_default().push(json!({"path": s.path, "sha256": s.sha256, "bytes": s.bytes, "format": s.format, "message_id": p.message_id}));
                }
            }
        }
        // Rows of the chosen objects, per message on every core, merged in message order.
        let object_tables: Vec<Rows> = messages
            .par_iter()
            .zip(to_write.par_iter())
            .map(|(p, chosen)| {
                let mut r = Rows::new();
                for v in chosen {
                    object_rows(p, v, &mut r);
                }
                r
            })
            .collect();
        for r in object_tables {
            for (table, table_rows) in r {
                rows.entry(table).or_default().extend(table_rows);
            }
        }
        if rows.is_empty() {
            return Ok(outcome);
        }
        let (new, changed, unchanged) = outcome.totals();
        let store = &self.store;
        let batches: Vec<(&TableDef, usize, RecordBatch)> = tables::ALL
            .par_iter()
            .copied()
            .filter(|t| t.name != "ingests")
            .filter_map(|def| rows.get(def.name).map(|r| (def, r)))
            .map(|(def, table_rows)| {
                let batch = if def.name == "messages" {
                    store.message_batch(def, &ingest_id, messages, table_rows)?
                } else {
                    store.json_batch(def, &ingest_id, table_rows)?
                };
                Ok((def, table_rows.len(), batch))
            })
            .collect::<Result<_>>()?;
        for (def, n, _) in &batches {
            outcome.rows_written.insert(def.name.to_owned(), *n);
        }
        phase("rows", &mut phases);
        // Tables are independent until the `ingests` record: append to them concurrently.
        self.append_all(batches.into_iter().map(|(d, _, b)| (d, b)).collect())
            .await?;
        for (owner_uuid, b) in bulk {
            for item in (b.open)() {
                let (table, mut batch_rows) = item.map_err(StoreError::Data)?;
                let def = tables::by_name(table)
                    .ok_or_else(|| StoreError::Data(format!("no store table named {table}")))?;
                for r in &mut batch_rows {
                    if let Some(m) = r.as_object_mut() {
                        m.insert(b.owner_column.into(), Value::from(owner_uuid.as_str()));
                    }
                }
                let batch = self.store.json_batch(def, &ingest_id, &batch_rows)?;
                self.append_all(vec![(def, batch)]).await?;
                *outcome.rows_written.entry(table.to_owned()).or_default() += batch_rows.len();
            }
        }
        phase("append", &mut phases);
        pause_for_crash_test();
        // From here to the `ingests` row nobody else commits (local stores): the versions this
        // run supersedes are exactly the committed ones of the objects it writes.
        let _lock = self.store.commit_lock().await?;
        let now = self.handle(&tables::INGESTS, true).await?.version();
        let unchanged_since_index = now == index_version
            || only_compactions_since(&self.tables["ingests"], index_version, 0).await;
        let candidates: Vec<&str> = if unchanged_since_index {
            changed_uuids
        } else {
            // Someone committed since the index was read: an object new to us may not be.
            to_write.iter().flatten().map(|v| v.uuid.as_str()).collect()
        };
        // Only new objects (the usual run of a service): nothing to look up.
        let mut superseded = Vec::new();
        if !candidates.is_empty() {
            let ctx = SessionContext::new();
            for def in [&tables::INGESTS, &tables::OBJECTS, &tables::SUPERSEDED] {
                // Latest versions: what others committed before we took the lock counts.
                let table = self.handle(def, true).await?.clone();
                self.store
                    .register_handle(&ctx, def.name, def, table)
                    .await?;
            }
            superseded = crate::current::superseded_in(&ctx, &candidates).await?;
            if !superseded.is_empty() && crate::current::needs_backfill_in(&ctx, "").await? {
                superseded.extend(self.store.backfill_rows().await?);
            }
        }
        if !superseded.is_empty() {
            let batch = self
                .store
                .json_batch(&tables::SUPERSEDED, &ingest_id, &superseded)?;
            self.append_all(vec![(&tables::SUPERSEDED, batch)]).await?;
            outcome
                .rows_written
                .insert("superseded".into(), superseded.len());
        }
        phase("supersede", &mut phases);
        let record = commit_record(started, command, n_sources, (new, changed, unchanged));
        let batch = self
            .store
            .json_batch(&tables::INGESTS, &ingest_id, &[record])?;
        self.append_all(vec![(&tables::INGESTS, batch)]).await?;
        outcome.rows_written.insert("ingests".into(), 1);
        outcome.committed = true;

        phase("ingests", &mut phases);
        tracing::debug!(
            ingest_id,
            messages = messages.len(),
            ?phases,
            "run committed (seconds since start)"
        );

        // Our commit is now visible: bring the index along, unless someone else committed too
        // (compactions do not count: they change no row).
        let ingests = &self.tables["ingests"];
        let committed_version = ingests.version();
        let next = index_version.map_or(0, |v| v + 1);
        let only_ours = committed_version == Some(next)
            || only_compactions_since(ingests, index_version, 1).await;
        match self.index.as_mut() {
            Some(index) if self.long_lived && only_ours => {
                index.ingests_version = committed_version;
                for v in to_write.iter().flatten() {
                    index.add_version(&v.uuid, &v.content_sha256);
                }
                index
                    .messages
                    .extend(messages_in_run.into_iter().map(digest));
            }
            _ => self.index = None,
        }
        Ok(outcome)
    }

    /// Record PID states (see [`Store::record_sample_pids`]) without losing the index: such a
    /// run adds no object or message, so when nobody else committed in between, the index is
    /// moved to the new `ingests` version instead of being rebuilt at the next run.
    pub async fn record_sample_pids(
        &mut self,
        pids: &[crate::SamplePid],
        command: &str,
    ) -> Result<()> {
        if pids.is_empty() {
            return Ok(());
        }
        let before = self.handle(&tables::INGESTS, true).await?.version();
        self.store.record_sample_pids(pids, command).await?;
        let after = self.handle(&tables::INGESTS, true).await?.version();
        if let Some(index) = &mut self.index
            && index.ingests_version == before
            && after == Some(before.map_or(0, |v| v + 1))
        {
            index.ingests_version = after;
        }
        Ok(())
    }

    /// Make the index current: rebuilt unless it reflects the latest `ingests` version.
    /// Returns that version.
    async fn refresh_index(
        &mut self,
        versions: &[Vec<ObjectVersion<'_>>],
        message_ids: &[&str],
    ) -> Result<Option<u64>> {
        let latest = self.handle(&tables::INGESTS, true).await?.version();
        if self.long_lived
            && let Some(index) = &mut self.index
            && (index.ingests_version == latest
                || only_compactions_since(&self.tables["ingests"], index.ingests_version, 0).await)
        {
            index.ingests_version = latest;
            return Ok(latest);
        }
        // A one-shot writer looks up only the run's objects and messages (bloom filters skip
        // the rest); a long-lived one loads everything once.
        let wanted: Option<Vec<&str>> = (!self.long_lived)
            .then(|| versions.iter().flatten().map(|v| v.uuid.as_str()).collect());
        let ctx = SessionContext::new();
        for def in [&tables::INGESTS, &tables::OBJECTS, &tables::MESSAGES] {
            // Brought to the latest version: others may have written since our last run.
            let table = self.handle(def, true).await?.clone();
            self.store
                .register_handle(&ctx, def.name, def, table)
                .await?;
        }
        let mut index = Index {
            ingests_version: latest,
            ..Default::default()
        };
        let committed = crate::current::committed_in(&ctx).await?;
        let objects = ["uuid", "content_sha256", "ingest_id"];
        for b in rows_with_keys(&ctx, "objects", "uuid", wanted.as_deref(), &objects).await? {
            let (u, h, i) = (strings(&b, 0), strings(&b, 1), strings(&b, 2));
            for r in 0..b.num_rows() {
                if committed.contains(i.value(r)) {
                    index.add_version(u.value(r), h.value(r));
                }
            }
        }
        let message_ids = (!self.long_lived).then_some(message_ids);
        let columns = ["message_id", "ingest_id"];
        for b in rows_with_keys(&ctx, "messages", "message_id", message_ids, &columns).await? {
            let (m, i) = (strings(&b, 0), strings(&b, 1));
            index.messages.extend(
                (0..b.num_rows())
                    .filter(|r| committed.contains(i.value(*r)))
                    .map(|r| digest(m.value(r))),
            );
        }
        self.index = Some(index);
        Ok(latest)
    }

    /// The open handle of a table: opened on first use; with `latest`, brought to the latest
    /// version.
    async fn handle(&mut self, def: &'static TableDef, latest: bool) -> Result<&DeltaTable> {
        match self.tables.entry(def.name) {
            std::collections::hash_map::Entry::Occupied(mut e) => {
                if latest {
                    refresh(e.get_mut(), def.name).await?;
                }
                Ok(e.into_mut())
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                Ok(e.insert(self.store.open_table(def.name).await?))
            }
        }
    }

    /// Append batches to their tables concurrently, each retried on commit conflicts with a
    /// freshly opened handle; the handles end at the versions written.
    async fn append_all(&mut self, batches: Vec<(&'static TableDef, RecordBatch)>) -> Result<()> {
        let mut jobs = Vec::with_capacity(batches.len());
        for (def, batch) in batches {
            let table = match self.tables.remove(def.name) {
                Some(t) => t,
                None => self.store.open_table(def.name).await?,
            };
            // A task each: encoding Parquet and committing run on every core.
            jobs.push(tokio::spawn(append_with_retries(
                self.store.clone(),
                def,
                table,
                batch,
                // A long-lived writer's compactor checkpoints, one table at a time: Delta's
                // checkpoint after a commit reads the whole log, and ten tables reaching their
                // hundredth version in the same run did so at once (1.5 GB at 5 000 messages).
                !self.long_lived,
            )));
        }
        let results = futures::future::join_all(jobs).await;
        let mut first_error = None;
        for joined in results {
            let (def, result) =
                joined.map_err(|e| StoreError::Data(format!("append task: {e}")))?;
            match result {
                Ok(table) => {
                    self.tables.insert(def.name, table);
                    *self.appends.entry(def.name).or_default() += 1;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Whether every commit of `table` after version `since` (up to its loaded version), except the
/// newest `own` of them, is a compaction (`OPTIMIZE`, which changes no row): what was read of the
/// store at `since` is then still current. Looks at a few dozen commits at most.
async fn only_compactions_since(table: &DeltaTable, since: Option<u64>, own: usize) -> bool {
    use futures::TryStreamExt;
    let (Some(since), Some(now)) = (since, table.version()) else {
        return false;
    };
    let n = now.saturating_sub(since) as usize;
    if n <= own {
        return n == own;
    }
    if n > 64 {
        return false;
    }
    match table.history(Some(n)).try_collect::<Vec<_>>().await {
        Ok(infos) => {
            infos.len() == n
                && infos
                    .iter()
                    .skip(own)
                    .all(|i| i.operation.as_deref() == Some("OPTIMIZE"))
        }
        Err(_) => false,
    }
}

/// Bring an open table to its latest version (a table not created yet stays unloaded).
pub(crate) async fn refresh(table: &mut DeltaTable, name: &str) -> Result<()> {
    let refreshed = if table.version().is_some() {
        table.update_incremental(None).await
    } else {
        table.load().await
    };
    match refreshed {
        Err(source) if table.version().is_some() => Err(StoreError::Delta {
            table: name.into(),
            source,
        }),
        _ => Ok(()),
    }
}

/// Watches the store's commits through one open handle of the `ingests` table: each
/// [`CommitWatch::stamp`] reads only the log entries added since the last (not the whole log).
pub struct CommitWatch {
    store: Store,
    ingests: Option<DeltaTable>,
}

impl CommitWatch {
    /// A watch over `store`.
    pub fn new(store: Store) -> CommitWatch {
        CommitWatch {
            store,
            ingests: None,
        }
    }

    /// The latest version of `ingests` (`None` before the first commit): it changes with every
    /// committed run, so what was read from the store at one stamp is current while it stays.
    pub async fn stamp(&mut self) -> Result<Option<u64>> {
        match &mut self.ingests {
            Some(t) => refresh(t, "ingests").await?,
            None => self.ingests = Some(self.store.open_table("ingests").await?),
        }
        Ok(self.ingests.as_ref().and_then(|t| t.version()))
    }
}

async fn append_with_retries(
    store: Store,
    def: &'static TableDef,
    mut table: DeltaTable,
    batch: RecordBatch,
    checkpoint: bool,
) -> (&'static TableDef, Result<DeltaTable>) {
    let batch = match crate::current::sorted_by_key(def, batch) {
        Ok(b) => b,
        Err(e) => return (def, Err(e)),
    };
    let mut last_error = None;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(20 + 37 * attempt as u64)).await;
            table = match store.open_table(def.name).await {
                Ok(t) => t,
                Err(e) => return (def, Err(e)),
            };
        }
        match table
            .clone()
            .write(vec![batch.clone()])
            .with_save_mode(SaveMode::Append)
            .with_writer_properties(crate::current::writer_properties(def, batch.num_rows()))
            // Columns added by a newer mxpipe join an older store's tables (nullable; earlier rows read null).
            .with_schema_mode(deltalake::operations::write::SchemaMode::Merge)
            .with_commit_properties(
                deltalake::kernel::transaction::CommitProperties::default()
                    .with_create_checkpoint(checkpoint),
            )
            .await
        {
            Ok(t) => return (def, Ok(t)),
            Err(e) => {
                tracing::debug!(table = def.name, attempt, error = %e, "append failed, retrying");
                last_error = Some(e);
            }
        }
    }
    (
        def,
        Err(StoreError::Delta {
            table: def.name.into(),
            source: last_error.expect("at least one attempt"),
        }),
    )
}

impl Store {
    /// Store a batch of prepared messages as one ingest run (a one-shot [`Writer`]). Nothing is
    /// written when every object and message is already stored.
    pub async fn ingest(
        &self,
        messages: &[PreparedMessage],
        command: Option<&str>,
    ) -> Result<IngestOutcome> {
        let refs: Vec<&PreparedMessage> = messages.iter().collect();
        Writer::one_shot(self.clone()).ingest(&refs, command).await
    }

    /// Register an opened table (an empty one when it was never written) in `ctx` as `name`.
    pub(crate) async fn register_handle(
        &self,
        ctx: &SessionContext,
        name: &str,
        def: &TableDef,
        table: DeltaTable,
    ) -> Result<()> {
        let provider = self.handle_provider(def, table, &ctx.state()).await?;
        ctx.register_table(name, provider)?;
        Ok(())
    }

    /// The table `def` of this store as DataFusion reads it in `state` (opened now; an empty
    /// table when it was never written).
    pub async fn provider(
        &self,
        def: &TableDef,
        state: &datafusion::execution::SessionState,
    ) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
        let table = self.current_table(def.name).await?;
        self.handle_provider(def, table, state).await
    }

    async fn handle_provider(
        &self,
        def: &TableDef,
        table: DeltaTable,
        state: &datafusion::execution::SessionState,
    ) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
        if table.version().is_none() {
            return Ok(crate::read::empty_table(def)?);
        }
        table
            .update_datafusion_session(state)
            .map_err(|source| StoreError::Delta {
                table: def.name.into(),
                source,
            })?;
        let provider = table.table_provider().await.map_err(StoreError::Query)?;
        let have = provider.schema();
        let want = def.schema();
        if want
            .fields()
            .iter()
            .all(|f| have.field_with_name(f.name()).is_ok())
        {
            return Ok(provider);
        }
        // A table written by an older mxpipe lacks columns added since (they join its schema on
        // the next write): read them as nulls, so views work before that.
        use datafusion::prelude::{col, lit};
        let columns = want
            .fields()
            .iter()
            .map(|f| -> Result<_> {
                Ok(if have.field_with_name(f.name()).is_ok() {
                    col(format!("\"{}\"", f.name()))
                } else {
                    lit(datafusion::scalar::ScalarValue::try_from(f.data_type())?).alias(f.name())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ctx = SessionContext::new_with_state(state.clone());
        Ok(ctx.read_table(provider)?.select(columns)?.into_view())
    }
}
