//! # mxpipe-queries
//!
//! SQL over one or many sites' stores with DataFusion. Every site's Delta tables are registered
//! in a schema of their own (`site_0`, `site_1`, …); the schema `store` holds, per table, the
//! union over sites of the **committed** rows with the site's name in `site`; the default schema
//! holds the views scientists use ([`views::VIEWS`]: `sweeps`, `scans`, `image_index`,
//! `reflection_sets`, `ssx_runs`, …), documented with examples in `docs/queries.md`.

pub mod as_of;
pub mod cluster;
pub mod encode;
pub mod isolation;
mod lazy;
pub mod lookups;
mod narrow;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use mxpipe_store::{LocalState, Store, tables};

/// A site: a name and a store location (folder, `file://`, `s3://`).
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Name shown in every view's `site` column (empty: the site written on the rows).
    pub name: String,
    /// Store location.
    pub location: String,
}

/// Errors of the query layer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A site could not be opened or read.
    #[error(
        "site {site} ({location}) is unreachable: {reason} (pass --allow-missing-sites to skip it)"
    )]
    Site {
        /// Site name.
        site: String,
        /// Location.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// The location exists but holds no mxpipe store (never ingested into, or a folder of stores).
    #[error(
        "{} is not an mxpipe store: it holds no mxpipe tables{hint}",
        place(site, location)
    )]
    NotAStore {
        /// Site name.
        site: String,
        /// Location.
        location: String,
        /// Suggestions (stores one level down), starting with "; ", or empty.
        hint: String,
    },
    /// An mxpipe store that no ingest has committed to yet (its table folders exist, empty).
    #[error(
        "{} holds nothing yet: no ingest has committed to it (run `mxpipe ingest PATH` first)",
        place(site, location)
    )]
    EmptyStore {
        /// Site name.
        site: String,
        /// Location.
        location: String,
    },
    /// The Ballista scheduler could not be used.
    #[error(
        "cluster {url}: {reason} (is the scheduler running? `scripts/cluster start` starts one on loopback)"
    )]
    Cluster {
        /// The `df://` URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// SQL or planning error.
    #[error("{0}")]
    Sql(#[from] datafusion::error::DataFusionError),
    /// `--as-of` names nothing these sites hold.
    #[error("{0}")]
    AsOf(String),
}

/// How an error names a site: `site NAME (LOCATION)`, or `the store at LOCATION` when the site
/// has no name (`--store`).
fn place(site: &str, location: &str) -> String {
    if site.is_empty() {
        format!("the store at {location}")
    } else {
        format!("site {site} ({location})")
    }
}

/// The engine settings of every session over the sites. A filter on a table is taken to keep
/// 1 % of its rows (DataFusion's default guess is 20 %): the views' filters are mostly lookups
/// by uuid, and with the lower guess the engine builds its hash tables on the looked-up rows and
/// pushes their keys into the scans of the tables they join (a page reads what it shows),
/// instead of hashing whole tables to probe with a handful of rows.
pub fn session_config() -> datafusion::prelude::SessionConfig {
    let mut config = datafusion::prelude::SessionConfig::new().with_information_schema(true);
    config.options_mut().optimizer.default_filter_selectivity = 1;
    config
}

/// `NAME=LOCATION` → a site.
pub fn parse_site(text: &str) -> Result<Site, String> {
    match text.split_once('=') {
        Some((n, l)) if !n.is_empty() && !l.is_empty() => Ok(Site {
            name: n.to_owned(),
            location: l.to_owned(),
        }),
        _ => Err(format!(
            "--site: expected NAME=LOCATION (e.g. ESRF=/data/mxpipe-store or MAXIV=s3://bucket/store); found {text:?}"
        )),
    }
}

/// A session with every site's tables, the `store` unions and the views. Sites that cannot be
/// opened are an error, or skipped with a warning (returned) when `allow_missing` is set.
pub async fn open_sites(
    sites: &[Site],
    options: &HashMap<String, String>,
    allow_missing: bool,
) -> Result<(SessionContext, Vec<String>), QueryError> {
    open_sites_as_of(sites, options, allow_missing, &as_of::AsOf::Now).await
}

/// [`open_sites`] answering as the stores were at `as_of` ([`as_of::AsOf`]).
pub async fn open_sites_as_of(
    sites: &[Site],
    options: &HashMap<String, String>,
    allow_missing: bool,
    as_of: &as_of::AsOf,
) -> Result<(SessionContext, Vec<String>), QueryError> {
    open_sites_on(
        sites,
        options,
        allow_missing,
        as_of,
        &cluster::Engine::Local,
    )
    .await
}

/// [`open_sites_as_of`] planning for `engine` (this process, or a Ballista cluster).
pub async fn open_sites_on(
    sites: &[Site],
    options: &HashMap<String, String>,
    allow_missing: bool,
    as_of: &as_of::AsOf,
    engine: &cluster::Engine,
) -> Result<(SessionContext, Vec<String>), QueryError> {
    let ctx = engine.session().await?;
    let mut warnings = Vec::new();
    let mut opened: Vec<(usize, &Site)> = Vec::new();
    let mut legacy = std::collections::HashSet::new();
    for (i, site) in sites.iter().enumerate() {
        let unreachable = |reason: String| QueryError::Site {
            site: site.name.clone(),
            location: site.location.clone(),
            reason,
        };
        let result = async {
            let folder = mxpipe_store::local_folder(&site.location);
            let local = folder.is_some();
            // A local folder that holds no committed table is not opened (opening creates the
            // table folders): it is a folder of stores, or a store no ingest has committed to.
            if let Some(dir) = folder {
                if !dir.is_dir() {
                    return Err(unreachable("no such folder".into()));
                }
                match mxpipe_store::local_state(dir) {
                    LocalState::Committed => {}
                    LocalState::Empty => {
                        return Err(QueryError::EmptyStore {
                            site: site.name.clone(),
                            location: site.location.clone(),
                        });
                    }
                    LocalState::NotAStore => {
                        return Err(QueryError::NotAStore {
                            site: site.name.clone(),
                            location: site.location.clone(),
                            hint: stores_below(dir, &site.name),
                        });
                    }
                }
            }
            let store = Store::open(&site.location, &site.name, options.clone())
                .map_err(|e| unreachable(e.to_string()))?;
            // A remote location is told by opening its `ingests` table (local ones above).
            if !local
                && !store
                    .holds_tables()
                    .await
                    .map_err(|e| unreachable(e.to_string()))?
            {
                return Err(QueryError::NotAStore {
                    site: site.name.clone(),
                    location: site.location.clone(),
                    hint: String::new(),
                });
            }
            register_site(&ctx, i, &store, engine.lists_files())?;
            // Through the site's schema: the tables it opens stay open for the queries.
            mxpipe_store::current::needs_backfill_in(&ctx, &format!("site_{i}."))
                .await
                .map_err(|e| unreachable(e.to_string()))
        }
        .await;
        match result {
            Ok(old) => {
                if old {
                    legacy.insert(i);
                }
                opened.push((i, site))
            }
            Err(e) if allow_missing => warnings.push(format!("skipped: {e}")),
            Err(e) => return Err(e),
        }
    }
    let indexes: Vec<usize> = opened.iter().map(|(i, _)| *i).collect();
    let at = as_of::moment(&ctx, &indexes, as_of).await?;
    define_views(&ctx, &opened, &legacy, at)?;
    Ok((ctx, warnings))
}

/// A session over stores already opened (one site each, named by the store's site): the same
/// `store.` unions and views as [`open_sites`]. For a library caller that holds a [`Store`]
/// (the ingest pipeline checking barcode reuse after its commit).
pub async fn open_stores(stores: &[Store]) -> Result<SessionContext, QueryError> {
    let ctx = SessionContext::new_with_config(session_config());
    let sites: Vec<Site> = stores
        .iter()
        .map(|s| Site {
            name: s.site().to_owned(),
            location: s.root().to_string(),
        })
        .collect();
    let mut opened = Vec::new();
    let mut legacy = std::collections::HashSet::new();
    for (i, (store, site)) in stores.iter().zip(&sites).enumerate() {
        register_site(&ctx, i, store, false)?;
        let old = mxpipe_store::current::needs_backfill_in(&ctx, &format!("site_{i}."))
            .await
            .map_err(|e| QueryError::Site {
                site: site.name.clone(),
                location: site.location.clone(),
                reason: e.to_string(),
            })?;
        if old {
            legacy.insert(i);
        }
        opened.push((i, site));
    }
    define_views(&ctx, &opened, &legacy, None)?;
    Ok(ctx)
}

/// The `store.` unions over the opened sites (`site_<i>.` schemas) and the views; with `at`, only
/// the runs committed at or before it are visible (time travel, [`as_of`]). Sites in `legacy`
/// were written without `superseded` rows: theirs are derived from history.
fn define_views(
    ctx: &SessionContext,
    opened: &[(usize, &Site)],
    legacy: &std::collections::HashSet<usize>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), QueryError> {
    let mut building_blocks = Vec::new();
    for def in tables::ALL {
        let columns: Vec<String> = def
            .all_columns()
            .iter()
            .skip(1)
            .map(|c| format!("t.\"{}\"", c.0))
            .collect();
        let parts: Vec<String> = opened
            .iter()
            .map(|(i, site)| {
                // An empty name keeps the site written on the rows.
                let name = if site.name.is_empty() {
                    "t.site".to_owned()
                } else {
                    // The name as a value computed from the row, not a constant: with a
                    // constant, the processing inputs of one job at a million sweeps took
                    // 48 s and 9 GB (a hash join on (site, uuid) built over every sweep);
                    // 3.3 s this way, as with the rows' own site.
                    format!(
                        "concat('{}', substr(t.site, 1, 0))",
                        site.name.replace('\'', "''")
                    )
                };
                let runs = as_of::ingests_of(*i, at);
                if def.name == "ingests" {
                    format!(
                        "SELECT {name} AS site, {} FROM {runs} t",
                        columns.join(", ")
                    )
                } else if def.name == "superseded" && (legacy.contains(i) || at.is_some()) {
                    // Written by an mxpipe that kept no `superseded` rows: derived from history
                    // (`mxpipe store repair` writes them, and this site reads fast again). Also
                    // for a past moment: rows a backfill wrote carry the backfilling run, later
                    // than the versions they mark, so as of an earlier moment they would not
                    // count.
                    format!(
                        "SELECT {name} AS site, t.ingest_id, t.uuid, t.ingest_id AS superseded_ingest_id, t.committed_at FROM (\
                         SELECT o.site, o.uuid, o.ingest_id, g.committed_at, ROW_NUMBER() OVER (PARTITION BY o.uuid ORDER BY g.committed_at DESC) AS version_rank \
                         FROM {runs} g JOIN (SELECT DISTINCT site, uuid, ingest_id FROM site_{i}.objects) o ON g.ingest_id = o.ingest_id) t WHERE t.version_rank > 1"
                    )
                } else {
                    // Committed rows (a semi-join) with their run's commit time (an outer
                    // join): the engine then estimates the relation at the table's size (an
                    // inner join with the few runs is estimated at a handful of rows, and it
                    // then chose to hash whole tables to probe them with one looked-up row);
                    // the runs, the smaller side, are what it hashes.
                    format!(
                        "SELECT {name} AS site, {}, g.committed_at AS committed_at FROM site_{i}.{} t \
                         LEFT JOIN {runs} g ON g.ingest_id = t.ingest_id \
                         WHERE t.ingest_id IN (SELECT ingest_id FROM {runs})",
                        columns.join(", "),
                        def.name
                    )
                }
            })
            .collect();
        let body = if parts.is_empty() {
            // No site: an empty relation with the right columns.
            let mut cols: Vec<String> = def
                .all_columns()
                .iter()
                .map(|c| format!("CAST(NULL AS {}) AS \"{}\"", sql_type(c.1), c.0))
                .collect();
            if def.name != "ingests" {
                // As the joined form below: every row carries its run's commit time.
                cols.push(format!(
                    "CAST(NULL AS {}) AS committed_at",
                    sql_type(tables::Col::Time)
                ));
            }
            format!("SELECT {} WHERE false", cols.join(", "))
        } else {
            parts.join(" UNION ALL ")
        };
        building_blocks.push((def.name.to_owned(), body));
    }
    let mut user = Vec::new();
    for v in views::VIEWS {
        match v.name.strip_prefix("store.") {
            Some(name) => building_blocks.push((name.to_owned(), v.sql.to_owned())),
            None => user.push((v.name.to_owned(), v.sql.to_owned())),
        }
    }
    let catalog = default_catalog(ctx)?;
    catalog.register_schema(
        "store",
        Arc::new(lazy::LazyViews::new(building_blocks, ctx)),
    )?;
    catalog.register_schema("public", Arc::new(lazy::LazyViews::new(user, ctx)))?;
    Ok(())
}

fn default_catalog(
    ctx: &SessionContext,
) -> Result<Arc<dyn datafusion::catalog::CatalogProvider>, QueryError> {
    ctx.catalog("datafusion").ok_or_else(|| {
        QueryError::Sql(datafusion::error::DataFusionError::Internal(
            "no default catalog".into(),
        ))
    })
}

/// Site `i`'s tables as the schema `site_<i>`, each opened when a query first names it (as
/// Parquet listing tables of the current snapshots with `listing`, for a cluster).
fn register_site(
    ctx: &SessionContext,
    i: usize,
    store: &Store,
    listing: bool,
) -> Result<(), QueryError> {
    default_catalog(ctx)?.register_schema(
        &format!("site_{i}"),
        Arc::new(lazy::SiteTables::new(store.clone(), ctx, listing)),
    )?;
    Ok(())
}

/// `; did you mean --site DLS=demo-sites/DLS …` when folders below `dir` are stores (as
/// `mxpipe generate` writes them), plus the configuration file that lists them when present.
fn stores_below(dir: &std::path::Path, name: &str) -> String {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| mxpipe_store::local_state(p) == LocalState::Committed)
        .map(|p| p.display().to_string())
        .collect();
    found.sort();
    if found.is_empty() {
        return String::new();
    }
    let one_name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_owned())
    };
    let flags: Vec<String> = found
        .iter()
        .map(|p| format!("--site {}={p}", one_name(p)))
        .collect();
    let mut hint = format!(
        "; its subfolders are stores: did you mean {}",
        flags.join(" ")
    );
    let config = dir.join("mxpipe.toml");
    if config.is_file() {
        hint.push_str(&format!(" (or --config {})", config.display()));
    }
    hint
}

fn sql_type(col: tables::Col) -> &'static str {
    use tables::Col::*;
    match col {
        Text | TextList => "VARCHAR",
        Int => "BIGINT",
        Float => "DOUBLE",
        Bool => "BOOLEAN",
        Time => "TIMESTAMP",
        Bytes => "BYTEA",
    }
}

/// Every row of a query with every column as text (`None` for NULL; timestamps in RFC 3339), for
/// library callers that walk a small answer row by row (the lineage graph, repackaging plans).
pub async fn text_rows(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, datafusion::error::DataFusionError> {
    as_text(&ctx.sql(sql).await?.collect().await?)
}

/// Batches as rows of text cells (`None` for null).
pub fn as_text(
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<Vec<Vec<Option<String>>>, datafusion::error::DataFusionError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let mut out = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let s = c.as_string::<i32>();
                        (!s.is_null(i)).then(|| s.value(i).to_owned())
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}
