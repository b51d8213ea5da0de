//! Where a session's plans run: in this process (DataFusion), or on an Apache Ballista cluster
//! (`mxpipe query --cluster df://HOST:PORT`, `[cluster] url`). On a cluster the client plans
//! (the same views, the same SQL) and the scheduler and executors run the plan; each site's Delta
//! tables reach them as Parquet listing tables of their current snapshots
//! ([`mxpipe_store::Store::listing_provider`]), which Ballista's stock codecs carry, so the
//! executors need no mxpipe code. See `docs/cluster.md`.

use ballista::prelude::SessionContextExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::QueryError;

/// Ballista settings of every cluster session. Ballista 55's adaptive planner (its default) hung
/// a job for good on three of mxpipe's views — the scheduler refused a task status whose operator
/// metrics did not line up with the stage's, and never finished the stage — and tripped a
/// DataFusion assertion (a top-k sort restricted to no partition); its static planner runs every
/// view (`docs/cluster.md`).
pub const BALLISTA_SETTINGS: &[(&str, &str)] = &[("ballista.planner.adaptive.enabled", "false")];

/// The engine a session plans for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Engine {
    /// DataFusion in this process, reading the Delta tables directly.
    #[default]
    Local,
    /// An Apache Ballista scheduler (`df://HOST:PORT`, as given).
    Cluster(String),
}

impl Engine {
    /// `df://HOST:PORT` → a cluster engine; anything else is refused with what was expected.
    pub fn cluster(url: &str) -> Result<Engine, String> {
        let expected =
            "expected df://HOST:PORT (the Ballista scheduler, e.g. df://127.0.0.1:50050)";
        // A URL with credentials is never echoed (keys belong in the executors' environment).
        if url.contains('@') {
            return Err(format!(
                "cluster URL: a cluster URL carries no credentials (object-store keys are the executors' environment); {expected}"
            ));
        }
        let parsed =
            url::Url::parse(url).map_err(|e| format!("cluster URL {url:?}: {e}; {expected}"))?;
        if parsed.scheme() != "df"
            || parsed.host_str().is_none_or(str::is_empty)
            || !parsed.path().trim_matches('/').is_empty()
            || parsed.query().is_some()
        {
            return Err(format!("cluster URL {url:?}: {expected}"));
        }
        Ok(Engine::Cluster(url.to_owned()))
    }

    /// Does this engine read Delta tables as Parquet listing tables?
    pub fn lists_files(&self) -> bool {
        matches!(self, Engine::Cluster(_))
    }

    /// A session with the settings of [`crate::session_config`], planning for this engine.
    pub async fn session(&self) -> Result<SessionContext, QueryError> {
        match self {
            Engine::Local => Ok(SessionContext::new_with_config(crate::session_config())),
            Engine::Cluster(url) => {
                let state = SessionStateBuilder::new()
                    .with_config(crate::session_config())
                    .with_default_features()
                    .build();
                let failed = |e: datafusion::error::DataFusionError| QueryError::Cluster {
                    url: url.clone(),
                    reason: e.to_string(),
                };
                let ctx = SessionContext::remote_with_state(url, state)
                    .await
                    .map_err(failed)?;
                for (key, value) in BALLISTA_SETTINGS {
                    ctx.sql(&format!("SET {key} = {value}"))
                        .await
                        .map_err(failed)?;
                }
                Ok(ctx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Engine;

    #[test]
    fn only_a_df_url_names_a_cluster() {
        assert_eq!(
            Engine::cluster("df://127.0.0.1:50050"),
            Ok(Engine::Cluster("df://127.0.0.1:50050".into()))
        );
        for bad in [
            "http://127.0.0.1:50050",
            "df://",
            "127.0.0.1:50050",
            "df://key:secret@host:1",
            "df://host:1/x",
        ] {
            let e = Engine::cluster(bad).unwrap_err();
            assert!(e.contains("df://HOST:PORT"), "{bad}: {e}");
            assert!(
                !e.contains("secret"),
                "the URL's password is not echoed: {e}"
            );
        }
    }
}
