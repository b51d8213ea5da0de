//! The [`Context`]: the configuration, `--store` and `--site` resolved once, and what every use
//! case asks of them (the store to open, the sites to query, the `[pid]` settings).

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use mxpipe_queries::as_of::AsOf;
use mxpipe_queries::cluster::Engine;
use mxpipe_queries::{QueryError, Site, open_sites_on, parse_site};
use mxpipe_store::{LocalState, Store, local_folder};

use crate::config::Config;
use crate::error::{AppError, AppResult};

/// The global flags, as given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--store LOCATION`.
    pub store: Option<String>,
    /// `--site` values: `NAME` (the single store's site) or `NAME=LOCATION` (a site to query).
    pub sites: Vec<String>,
}

/// Whether a command reads an existing store or may start one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUse {
    /// Reading: a local store that is not there is a usage error (a typo must not leave an
    /// empty store behind).
    Read,
    /// Writing: `ingest`, `serve` and `token` create the store when it is not there.
    Start,
}

/// Everything a use case needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct Context {
    /// The configuration (defaults when there is no file).
    pub config: Config,
    store_flag: Option<String>,
    site_name: Option<String>,
    site_specs: Vec<String>,
}

impl Context {
    /// Load the configuration (`--config`, `$MXPIPE_CONFIG`, `./mxpipe.toml`) and keep the flags.
    pub fn resolve(flags: Flags) -> AppResult<Self> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let config = Config::load(flags.config.as_deref())?;
        let (site_specs, names): (Vec<String>, Vec<String>) =
            flags.sites.into_iter().partition(|s| s.contains('='));
        Ok(Context {
            config,
            store_flag: flags.store,
            site_name: names.last().cloned(),
            site_specs,
        })
    }

    /// A context from a configuration already loaded (the server, tests).
    pub fn with_config(config: Config, store: Option<String>, site: Option<String>) -> Self {
        Context {
            config,
            store_flag: store,
            site_name: site,
            site_specs: Vec::new(),
        }
    }

    /// The store's location: `--store`, else `[store] location`, else `./mxpipe-store`.
    pub fn location(&self) -> String {
        self.store_flag
            .clone()
            .or(self.config.store.location.clone())
            .unwrap_or_else(|| mxpipe_store::DEFAULT_LOCATION.to_owned())
    }

    /// The site written on every row: `--site NAME`, else `[store] site`, else `local`.
    pub fn site(&self) -> String {
        self.site_name
            .clone()
            .or(self.config.store.site.clone())
            .unwrap_or_else(|| "local".to_owned())
    }

    /// `--store` as given (a folder for `generate`).
    pub fn store_flag(&self) -> Option<&str> {
        self.store_flag.as_deref()
    }

    /// Open the one store (not for `--site NAME=LOCATION`, which is for queries).
    pub fn open_store(&self, intent: StoreUse) -> AppResult<Store> {
        if !self.site_specs.is_empty() {
            return Err(AppError::usage(
                "--site NAME=LOCATION is for `mxpipe query`, `sql`, `lineage`, `sparql` and `export rdf`; other commands take --site NAME",
            ));
        }
        let location = self.location();
        if intent == StoreUse::Read && local_folder(&location).is_some_and(|f| !f.exists()) {
            return Err(AppError::Usage(format!(
                "no mxpipe store at {location} (a typo in --store or [store] location? `mxpipe ingest` creates one)"
            )));
        }
        Store::open(&location, &self.site(), self.config.storage_options()).map_err(AppError::usage)
    }

    /// The store's own folder when it is local (never walked into by an ingest).
    pub fn local_store_dir(&self) -> Option<PathBuf> {
        let location = self.location();
        (!location.contains("://")).then(|| PathBuf::from(location))
    }

    /// The sites to query: `--site NAME=LOCATION` flags, else the configuration's `[sites]`,
    /// else the one store.
    pub fn sites(&self) -> AppResult<Vec<Site>> {
        if !self.site_specs.is_empty() {
            return self
                .site_specs
                .iter()
                .map(|s| parse_site(s).map_err(AppError::Usage))
                .collect();
        }
        if !self.config.sites.is_empty() && self.store_flag.is_none() {
            return Ok(self
                .config
                .sites
                .iter()
                .map(|(n, l)| Site {
                    name: n.clone(),
                    location: l.clone(),
                })
                .collect());
        }
        if let Some(site) = self.folder_named_by_site() {
            return Ok(vec![site]);
        }
        let location = self.location();
        if local_folder(&location).is_some_and(|f| !f.exists()) {
            return Err(AppError::Usage(format!(
                "no mxpipe store at {location} (a typo in --store or [store] location? `mxpipe ingest` creates one; several sites: --site NAME=LOCATION)"
            )));
        }
        // Without a name, each row keeps the site it was ingested with.
        Ok(vec![Site {
            name: self.site_name.clone().unwrap_or_default(),
            location,
        }])
    }

    /// `--site FOLDER` without `NAME=` and without `--store`: a store folder by that name is
    /// meant (named after the folder), not the default store relabelled.
    fn folder_named_by_site(&self) -> Option<Site> {
        let folder = self
            .site_name
            .as_deref()
            .filter(|_| self.store_flag.is_none())?;
        if mxpipe_store::local_state(Path::new(folder)) == LocalState::NotAStore {
            return None;
        }
        let name = Path::new(folder)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| folder.to_owned());
        Some(Site {
            name,
            location: folder.to_owned(),
        })
    }

    /// Open the sites as one SQL session with every view; warnings name skipped sites.
    pub async fn session(
        &self,
        allow_missing_sites: bool,
    ) -> AppResult<(SessionContext, Vec<String>)> {
        self.session_as_of(allow_missing_sites, &AsOf::Now).await
    }

    /// [`Context::session`] answering as the stores were at `as_of` (time travel).
    pub async fn session_as_of(
        &self,
        allow_missing_sites: bool,
        as_of: &AsOf,
    ) -> AppResult<(SessionContext, Vec<String>)> {
        self.session_on(allow_missing_sites, as_of, &Engine::Local)
            .await
    }

    /// Where SQL runs: the cluster named by `flag` (`--cluster`), else `[cluster] url`, else in
    /// this process. A malformed URL is a usage error.
    pub fn engine(&self, flag: Option<&str>) -> AppResult<Engine> {
        match flag.or(self.config.cluster.url.as_deref()) {
            None => Ok(Engine::Local),
            Some(url) => Engine::cluster(url).map_err(AppError::Usage),
        }
    }

    /// [`Context::session_as_of`] planning for `engine`.
    pub async fn session_on(
        &self,
        allow_missing_sites: bool,
        as_of: &AsOf,
        engine: &Engine,
    ) -> AppResult<(SessionContext, Vec<String>)> {
        let sites = self.sites()?;
        let options = self.config.storage_options();
        open_sites_on(&sites, &options, allow_missing_sites, as_of, engine)
            .await
            .map_err(|e| match e {
                e @ (QueryError::Site { .. }
                | QueryError::NotAStore { .. }
                | QueryError::AsOf(_)
                | QueryError::Cluster { .. }) => AppError::usage(e),
                e => AppError::failed(e),
            })
    }

    /// The `[pid]` settings, or `None` when there are none; unusable ones are a usage error.
    pub fn pid(&self) -> AppResult<Option<mxpipe_pid::PidConfig>> {
        self.config
            .pid
            .as_ref()
            .map(|p| p.resolve().map_err(AppError::Usage))
            .transpose()
    }
}
