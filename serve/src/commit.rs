//! Group commit. Every ingest request reads and validates its input on its own, then hands its
//! prepared messages to one committer task. The committer commits whatever is waiting as one
//! store run (one Delta commit per table, one `ingests` record) through a long-lived
//! [`Writer`], and answers each request with its own share of the outcome. Alone, a request
//! commits at once; under load one commit serves many requests, so the number of commits (and of
//! small Parquet files) grows with the load's duration, not with the number of requests.

use std::time::{Duration, Instant};

use mxpipe_pipeline::{Commit, CommitFuture};
use mxpipe_store::{IngestOutcome, PreparedMessage, Store, Writer};
use tokio::sync::{mpsc, oneshot};

/// Most messages committed in one run (a run's rows are held in memory).
const MAX_MESSAGES_PER_RUN: usize = 2_000;

/// A table is compacted after this many runs appended to it, unless configured (see
/// `Writer::due_for_compaction`).
pub const COMPACT_EVERY: usize = 20;

/// How long a run under load waits for more requests.
const LINGER: Duration = Duration::from_millis(10);

/// Requests waiting for the committer (senders wait when it is full).
const QUEUE: usize = 1_024;

type Answer = (Vec<PreparedMessage>, Result<IngestOutcome, String>);

struct Job {
    messages: Vec<PreparedMessage>,
    command: Option<String>,
    reply: oneshot::Sender<Answer>,
}

/// Commit counters for `/metrics`: runs committed and seconds spent in them.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommitStats {
    /// Store runs that wrote something.
    pub runs: u64,
    /// Requests those runs served.
    pub requests: u64,
    /// Seconds spent committing.
    pub seconds: f64,
    /// Compactions done between runs.
    pub compactions: u64,
}

/// The handle requests commit through; see the module docs.
#[derive(Clone)]
pub struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
    stats: std::sync::Arc<std::sync::Mutex<CommitStats>>,
}

impl GroupCommitter {
    /// Start the committer task over `store` (on the current tokio runtime). It ends when every
    /// handle is dropped and the waiting requests are committed.
    /// With `pid`, the samples and crystals of committed runs get PIDs when the queue is idle.
    pub fn start(
        store: Store,
        pid: Option<mxpipe_pid::PidConfig>,
        compact_every: usize,
    ) -> (GroupCommitter, tokio::task::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let stats = std::sync::Arc::new(std::sync::Mutex::new(CommitStats::default()));
        let compactor = Compactor::start(store.clone(), stats.clone());
        let task = tokio::spawn(run(
            Writer::long_lived(store),
            rx,
            stats.clone(),
            pid,
            compactor,
            compact_every.max(1),
        ));
        (GroupCommitter { jobs, stats }, task)
    }

    /// Counters so far.
    pub fn stats(&self) -> CommitStats {
        *self.stats.lock().expect("commit stats lock")
    }
}

impl Commit for GroupCommitter {
    fn commit(&self, messages: Vec<PreparedMessage>, command: Option<String>) -> CommitFuture<'_> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                messages,
                command,
                reply,
            };
            if let Err(mpsc::error::SendError(job)) = self.jobs.send(job).await {
                return (job.messages, Err("the service is stopping".into()));
            }
            answer.await.unwrap_or_else(|_| {
                (
                    Vec::new(),
                    Err("the committer stopped before answering".into()),
                )
            })
        })
    }
}

async fn run(
    mut writer: Writer,
    mut rx: mpsc::Receiver<Job>,
    stats: std::sync::Arc<std::sync::Mutex<CommitStats>>,
    pid: Option<mxpipe_pid::PidConfig>,
    compactor: Compactor,
    compact_every: usize,
) {
    let mut under_load = false;
    // Committed runs whose samples and crystals still need PIDs (minted when the queue is idle,
    // after the answers: a request never waits for a registry).
    let mut to_mint: Vec<String> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut size = first.messages.len();
        let mut jobs = vec![first];
        // Under load (the last run served several requests), wait a moment for the requests
        // that are still being read: fewer, larger runs. A lone request commits at once.
        let linger = tokio::time::sleep(if under_load { LINGER } else { Duration::ZERO });
        tokio::pin!(linger);
        while size < MAX_MESSAGES_PER_RUN {
            match rx.try_recv() {
                Ok(job) => {
                    size += job.messages.len();
                    jobs.push(job);
                }
                Err(_) => {
                    tokio::select! {
                        job = rx.recv() => match job {
                            Some(job) => {
                                size += job.messages.len();
                                jobs.push(job);
                            }
                            None => break,
                        },
                        _ = &mut linger => break,
                    }
                }
            }
        }
        under_load = jobs.len() > 1;
        let command = match jobs.as_slice() {
            [one] => one.command.clone(),
            many => Some(format!("mxpipe serve: {} requests in one run", many.len())),
        };
        let started = Instant::now();
        let refs: Vec<&PreparedMessage> = jobs.iter().flat_map(|j| &j.messages).collect();
        let result = writer.ingest(&refs, command.as_deref()).await;
        drop(refs);
        if let Ok(o) = &result
            && o.committed
        {
            let mut s = stats.lock().expect("commit stats lock");
            s.runs += 1;
            s.requests += jobs.len() as u64;
            s.seconds += started.elapsed().as_secs_f64();
        }
        let mut offset = 0;
        for job in jobs {
            let n = job.messages.len();
            let answer = match &result {
                Ok(o) => Ok(share(o, offset, n)),
                Err(e) => Err(e.to_string()),
            };
            offset += n;
            // A request that gave up (its client went away) needs no answer.
            let _ = job.reply.send((job.messages, answer));
        }
        if let (Some(_), Ok(o)) = (&pid, &result)
            && o.committed
        {
            to_mint.push(o.ingest_id.clone());
        }
        if let Some(config) = &pid
            && !to_mint.is_empty()
            && rx.is_empty()
        {
            let store = writer.store().clone();
            let ids = std::mem::take(&mut to_mint);
            match mxpipe_app::ingest::mint_after_commit(&store, &mut writer, config, ids, false)
                .await
            {
                Ok(report) => {
                    if let Some(line) = report.summary() {
                        tracing::info!("{line}");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "minting PIDs failed; `mxpipe pid mint` completes it")
                }
            }
        }
        // Keep the number of small files (and with it the cost of each commit and query)
        // bounded: tables due are compacted by the compactor, beside the next runs.
        for table in writer.due_for_compaction(compact_every) {
            compactor.request(table);
        }
    }
    compactor.finish().await;
}

/// Compacts tables on a thread of its own (its own runtime): a compaction rewrites a table's
/// files for a second or more of CPU, and on the service's runtime it would hold up the tasks
/// that answer requests. Requests never wait for it; the committer's appends that race it are
/// retried by Delta.
struct Compactor {
    due: Option<std::sync::mpsc::Sender<&'static str>>,
    done: Option<oneshot::Receiver<()>>,
}

impl Compactor {
    fn start(store: Store, stats: std::sync::Arc<std::sync::Mutex<CommitStats>>) -> Compactor {
        let (due, tables) = std::sync::mpsc::channel::<&'static str>();
        let (finished, done) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("mxpipe-compactor".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(error = %e, "no compactor (`mxpipe store optimize` compacts)");
                        return;
                    }
                };
                while let Ok(table) = tables.recv() {
                    let started = Instant::now();
                    match runtime.block_on(store.compact_table(table)) {
                        Ok(files) => {
                            stats.lock().expect("commit stats lock").compactions += 1;
                            tracing::info!(
                                table,
                                files,
                                seconds = started.elapsed().as_secs_f64(),
                                "compacted"
                            );
                        }
                        Err(e) => {
                            tracing::warn!(table, error = %e, "compaction failed (the store is unaffected; `mxpipe store optimize` retries)")
                        }
                    }
                }
                let _ = finished.send(());
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no compactor thread (`mxpipe store optimize` compacts)");
        }
        Compactor {
            due: Some(due),
            done: Some(done),
        }
    }

    /// Compact `table` when the compactor gets to it.
    fn request(&self, table: &'static str) {
        if let Some(due) = &self.due {
            let _ = due.send(table);
        }
    }

    /// Let the compactor finish what it was asked to do, then stop it.
    async fn finish(mut self) {
        self.due = None;
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

/// One request's part of a run's outcome: its messages' counts; committed when it wrote anything.
fn share(run: &IngestOutcome, offset: usize, n: usize) -> IngestOutcome {
    let per_input = run.per_input[offset..offset + n].to_vec();
    let recorded = run.recorded[offset..offset + n].to_vec();
    let wrote =
        per_input.iter().any(|(new, changed, _)| new + changed > 0) || recorded.iter().any(|r| *r);
    IngestOutcome {
        ingest_id: run.ingest_id.clone(),
        committed: run.committed && wrote,
        per_input,
        recorded,
        rows_written: Default::default(),
    }
}
