//! # mxpipe-store
//!
//! The mxpipe store: a directory (or object-store prefix) of **Delta Lake tables** — Parquet data
//! files plus a transaction log — readable by DataFusion here and by Spark, Trino, DuckDB or polars
//! elsewhere. The layout is defined in [`tables`] and documented in `docs/store.md`.
//!
//! Guarantees:
//! - **Atomic across tables**: every row carries its `ingest_id`; an ingest writes all data tables
//!   first and its `ingests` record last, and readers only see rows whose ingest is recorded.
//!   [`Store::repair`] deletes rows of ingests that never committed (a crashed process).
//! - **Idempotent**: an object is written only if its (uuid, content hash) is not stored yet; the
//!   same uuid with new content becomes a new version. Re-ingesting the same input writes nothing.
//! - **Concurrent**: appends from several processes are serialised by Delta's optimistic
//!   concurrency control, with retries.

pub mod append;
pub mod catalogue_ids;
pub mod current;
pub mod links;
pub mod listing;
pub mod maintenance;
pub mod neighbourhood;
pub mod prepare;
pub mod read;
pub mod read_back;
pub mod rows;
pub mod sample_pids;
pub mod tables;
pub mod writer;

use std::collections::HashMap;
use std::path::Path;

use url::Url;

pub use append::{IngestOutcome, ObjectStatus};
pub use catalogue_ids::CatalogueId;
pub use links::InputLink;
pub use neighbourhood::Until;
pub use prepare::{
    BulkBatch, BulkRows, PreparedMessage, SourceFile, prepare_file_message, prepare_message,
};
pub use read_back::{LatestObjects, Link, Selection, StoredObject};
pub use sample_pids::SamplePid;
pub use writer::{CommitWatch, Writer};

/// Default store location (embedded, no server).
pub const DEFAULT_LOCATION: &str = "./mxpipe-store";

/// What a local folder holds, told from its layout without opening (or creating) anything —
/// [`Store::open`] creates the table folders, so a reader asks this first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalState {
    /// A committed `ingests` table: a store with data (what [`Store::holds_tables`] checks).
    Committed,
    /// The table folders of a store that no ingest run has committed to (a first ingest that
    /// failed or stored nothing).
    Empty,
    /// Anything else (a folder of stores, a typo'd path, any other folder).
    NotAStore,
}

/// The folder of a local store location (a path, or `file://PATH`); `None` for an object store
/// (`s3://…`).
pub fn local_folder(location: &str) -> Option<&Path> {
    match location.strip_prefix("file://") {
        Some(path) => Some(Path::new(path)),
        None if !location.contains("://") => Some(Path::new(location)),
        None => None,
    }
}

/// The [`LocalState`] of a local folder.
pub fn local_state(dir: &Path) -> LocalState {
    let ingests = dir.join(tables::INGESTS.name);
    if ingests.join("_delta_log").is_dir() {
        LocalState::Committed
    } else if ingests.is_dir() {
        LocalState::Empty
    } else {
        LocalState::NotAStore
    }
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Delta Lake failed.
    #[error("store table {table}: {source}")]
    Delta {
        /// Table.
        table: String,
        /// Cause.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// DataFusion failed.
    #[error("store query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// Arrow failed.
    #[error("store data conversion failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Bad location.
    #[error("store location {location:?}: {reason}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// Something in the stored data is not as expected.
    #[error("{0}")]
    Data(String),
}

/// Result type of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An opened store.
#[derive(Clone)]
pub struct Store {
    root: Url,
    site: String,
    storage_options: HashMap<String, String>,
    /// Table handles kept for reading the latest version (shared by clones): see
    /// [`Store::current_table`].
    handles: std::sync::Arc<std::sync::Mutex<HashMap<String, TableSlot>>>,
}

/// One kept table handle (empty until the table was first read with commits).
type TableSlot = std::sync::Arc<tokio::sync::Mutex<Option<deltalake::DeltaTable>>>;

impl Store {
    /// Open (creating the folder if needed) a store at a local path or an object-store URL
    /// (`file://`, `s3://` with `storage_options` such as `AWS_ENDPOINT_URL`). Rows written
    /// through this handle carry `site`.
    pub fn open(
        location: &str,
        site: &str,
        storage_options: HashMap<String, String>,
    ) -> Result<Store> {
        let root = if location.contains("://") {
            let mut url = Url::parse(location).map_err(|e| StoreError::Location {
                location: location.into(),
                reason: e.to_string(),
            })?;
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            if url.scheme() == "file" {
                let path = url.to_file_path().map_err(|_| StoreError::Location {
                    location: location.into(),
                    reason: "not a local path".into(),
                })?;
                std::fs::create_dir_all(&path).map_err(|e| StoreError::Location {
                    location: location.into(),
                    reason: e.to_string(),
                })?;
            }
            url
        } else {
            let path = Path::new(location);
            std::fs::create_dir_all(path).map_err(|e| StoreError::Location {
                location: location.into(),
                reason: format!("cannot create the folder: {e}"),
            })?;
            let abs = path.canonicalize().map_err(|e| StoreError::Location {
                location: location.into(),
                reason: e.to_string(),
            })?;
            Url::from_directory_path(&abs).map_err(|_| StoreError::Location {
                location: location.into(),
                reason: "not an absolute path".into(),
            })?
        };
        if root.scheme() == "file"
            && let Ok(dir) = root.to_file_path()
        {
            for def in tables::ALL {
                std::fs::create_dir_all(dir.join(def.name)).map_err(|e| StoreError::Location {
                    location: location.into(),
                    reason: format!("cannot create table folder {}: {e}", def.name),
                })?;
            }
        }
        Ok(Store {
            root,
            site: site.to_owned(),
            storage_options,
            handles: Default::default(),
        })
    }

    /// The store's root URL.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The site name written on new rows.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// URL of one table.
    pub fn table_url(&self, table: &str) -> Url {
        self.root
            .join(&format!("{table}/"))
            .expect("table names are URL-safe")
    }

    /// Does this location hold an mxpipe store (a committed `ingests` table)? A folder that
    /// exists but was never ingested into does not.
    pub async fn holds_tables(&self) -> Result<bool> {
        Ok(self.open_table("ingests").await?.version().is_some())
    }

    /// The latest version of a table, through a handle this store (and its clones) keeps: the
    /// first call opens the table, later ones read only the commits added since — a service
    /// that reopens its read session after every commit no longer replays every table's log
    /// each time. A handle that cannot be brought forward (its log cleaned away) is opened anew.
    pub(crate) async fn current_table(&self, table: &str) -> Result<deltalake::DeltaTable> {
        let slot = self
            .handles
            .lock()
            .expect("table handles lock")
            .entry(table.to_owned())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(t) = slot.as_mut() {
            if crate::writer::refresh(t, table).await.is_ok() {
                return Ok(t.clone());
            }
            *slot = None;
        }
        let t = self.open_table(table).await?;
        if t.version().is_some() {
            *slot = Some(t.clone());
        }
        Ok(t)
    }

    pub(crate) async fn open_table(&self, table: &str) -> Result<deltalake::DeltaTable> {
        deltalake::DeltaTable::try_from_url_with_storage_options(
            self.table_url(table),
            self.storage_options.clone(),
        )
        .await
        .map_err(|source| StoreError::Delta {
            table: table.into(),
            source,
        })
    }
}
