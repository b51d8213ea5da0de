//! `/v1/query` on a Ballista cluster (`[cluster] url`, `docs/cluster.md`): the store's tables as
//! Parquet listing tables of their snapshots, opened on the cluster once per commit; for a token
//! limited to proposals, what it may see is worked out on that same session (one snapshot for the
//! rule and the rows) and its tables confined before the plan is distributed
//! ([`mxpipe_queries::isolation::confine_on_cluster`]). Failures are logged; the client is told
//! the cluster cannot answer, never the store's location or the scheduler's address.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use mxpipe_queries::as_of::AsOf;

use crate::read::{keep, proposal_key, session_at};

/// What a client is told when the cluster cannot answer.
const UNAVAILABLE: &str =
    "the query cluster cannot answer now: retry later (the server's log says why)";

/// The session a token limited to `proposals` (none: unlimited) queries on the cluster.
pub(crate) async fn session_for(
    s: &crate::AppState,
    proposals: &[String],
) -> Result<SessionContext, String> {
    let unavailable = |e: String| {
        tracing::warn!(error = %e, "the query cluster cannot answer");
        UNAVAILABLE.to_owned()
    };
    let (stamp, _, _) = session_at(s).await?;
    let admin = admin_session(s, stamp).await.map_err(unavailable)?;
    if proposals.is_empty() {
        return Ok(admin);
    }
    let key = proposal_key(proposals);
    if let Some((_, _, ctx)) = s
        .cluster_confined
        .lock()
        .expect("cluster confined lock")
        .iter()
        .find(|(k, at, _)| *k == key && *at == stamp)
    {
        return Ok(ctx.clone());
    }
    let visible = mxpipe_queries::isolation::visible(&admin, &key)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let ctx = mxpipe_queries::isolation::confine_on_cluster(&admin, &s.config.cluster, &visible)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    keep(
        &mut s.cluster_confined.lock().expect("cluster confined lock"),
        key,
        stamp,
        ctx.clone(),
    );
    Ok(ctx)
}

/// The unrestricted cluster session at commit `stamp` (opened once per commit).
async fn admin_session(s: &crate::AppState, stamp: Option<u64>) -> Result<SessionContext, String> {
    let mut cached = s.cluster_session.lock().await;
    if let Some((at, ctx)) = cached.as_ref()
        && *at == stamp
    {
        return Ok(ctx.clone());
    }
    let site = mxpipe_queries::Site {
        name: s.config.site.clone(),
        location: s.config.store.clone(),
    };
    let (ctx, _) = mxpipe_queries::open_sites_on(
        &[site],
        &s.config.storage_options,
        stamp.is_none(),
        &AsOf::Now,
        &s.config.cluster,
    )
    .await
    .map_err(|e| e.to_string())?;
    *cached = Some((stamp, ctx.clone()));
    Ok(ctx)
}

/// On a cluster the functions that multiply their input run on the executors, where the size
/// checks of [`crate::limits`] do not travel (a plan names a function and an executor calls its
/// own): a statement calling one is refused, naming it.
pub(crate) fn check_sql(sql: &str) -> Result<(), String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(());
    };
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .peekable();
    while let Some(t) = words.next() {
        if let Token::Word(w) = t
            && matches!(words.peek(), Some(Token::LParen))
            && let Some((name, _)) = crate::limits::GROWING
                .iter()
                .find(|(name, _)| w.value.eq_ignore_ascii_case(name))
        {
            return Err(format!(
                "{name}() is not available when queries run on the cluster ([cluster] url): its answer's size cannot be bounded on the executors"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_sql;

    #[test]
    fn growing_functions_are_refused_by_name_and_others_pass() {
        assert!(
            check_sql("SELECT REPEAT ('x', 3)")
                .unwrap_err()
                .contains("repeat()")
        );
        assert!(check_sql("SELECT lpad(name, 9) FROM samples").is_err());
        assert!(check_sql("SELECT name AS repeat FROM samples").is_ok());
        assert!(check_sql("SELECT 'repeat(' FROM samples").is_ok());
    }
}
