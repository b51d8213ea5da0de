//! The HTTP side of the ICAT REST output: login and session refresh, one request with a
//! re-login on ICAT's `SESSION` error, JPQL look-ups, batched writes, ICAT's error answers.

use std::time::Instant;

use serde_json::{Value, json};

use super::{BATCH, IcatRest, REFRESH_AFTER};

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A key condition of a look-up: `x.field = 'text'` or `x.field.id = n`.
pub(super) enum Cond<'a> {
    Text(&'a str, &'a str),
    Id(&'a str, i64),
}

impl IcatRest {
    pub(super) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.conn.url.trim_end_matches('/'))
    }

    pub(super) async fn login(&mut self) -> Result<String, String> {
        let body = json!({"plugin": self.conn.plugin,
            "credentials": [{"username": self.conn.username}, {"password": self.conn.password}]});
        let resp = self
            .http
            .post(self.endpoint("session"))
            .form(&[("json", body.to_string())])
            .send()
            .await
            .map_err(|e| format!("cannot reach ICAT at {}: {e}", self.conn.url))?;
        let v = answer(resp).await?;
        let id = v["sessionId"]
            .as_str()
            .ok_or("ICAT login answered without a sessionId")?
            .to_owned();
        self.logins += 1;
        self.set_session(Some(id.clone()));
        Ok(id)
    }

    fn current_session(&self) -> Option<(String, Instant)> {
        self.session.lock().expect("session lock").clone()
    }

    fn set_session(&self, id: Option<String>) {
        *self.session.lock().expect("session lock") = id.map(|id| (id, Instant::now()));
    }

    /// The session: logged in when there is none, refreshed when it is old. One exporter and its
    /// forks do this one at a time; `refused` is a session ICAT refused (a fork that waited finds
    /// another one in place and takes it).
    pub(super) async fn session_id(&mut self) -> Result<String, String> {
        self.renewed(None).await
    }

    async fn renewed(&mut self, refused: Option<String>) -> Result<String, String> {
        if refused.is_none()
            && let Some((id, at)) = self.current_session()
            && at.elapsed() <= REFRESH_AFTER
        {
            return Ok(id);
        }
        let renewing = self.renewing.clone();
        let _one_at_a_time = renewing.lock().await;
        match self.current_session() {
            Some((id, at)) if Some(&id) != refused.as_ref() && at.elapsed() <= REFRESH_AFTER => {
                Ok(id)
            }
            Some((id, _)) if Some(&id) != refused.as_ref() => {
                let resp = self
                    .http
                    .put(self.endpoint(&format!("session/{id}")))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if answer(resp).await.is_ok() {
                    self.set_session(Some(id.clone()));
                    Ok(id)
                } else {
                    self.login().await
                }
            }
            _ => self.login().await,
        }
    }

    /// One request with the session; a `SESSION` error logs in again and retries once.
    pub(super) async fn call(
        &mut self,
        write: Option<&Value>,
        query: Option<&str>,
    ) -> Result<Value, String> {
        for attempt in 0..2 {
            let sid = self.session_id().await?;
            let req = match (write, query) {
                (Some(entities), _) => self.http.post(self.endpoint("entityManager")).form(&[
                    ("sessionId", sid.as_str()),
                    ("entities", &entities.to_string()),
                ]),
                (None, Some(q)) => self
                    .http
                    .get(self.endpoint("entityManager"))
                    .query(&[("sessionId", sid.as_str()), ("query", q)]),
                (None, None) => unreachable!("a write or a query"),
            };
            let resp = req
                .send()
                .await
                .map_err(|e| format!("ICAT request failed: {e}"))?;
            match answer(resp).await {
                Err(e) if attempt == 0 && e.starts_with("ICAT SESSION") => {
                    self.renewed(Some(sid)).await?;
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    pub(super) async fn find(
        &mut self,
        entity: &str,
        conds: &[Cond<'_>],
    ) -> Result<Option<Value>, String> {
        let wheres: Vec<String> = conds
            .iter()
            .map(|c| match c {
                Cond::Text(f, v) => format!("x.{f} = {}", quote(v)),
                Cond::Id(f, id) => format!("x.{f}.id = {id}"),
            })
            .collect();
        let q = format!("SELECT x FROM {entity} x WHERE {}", wheres.join(" AND "));
        let found = self.call(None, Some(&q)).await?;
        Ok(found
            .as_array()
            .and_then(|a| a.first())
            .map(|o| o[entity].clone()))
    }

    pub(super) async fn create(
        &mut self,
        entity: &str,
        fields: Vec<Value>,
    ) -> Result<Vec<i64>, String> {
        let mut ids = Vec::new();
        for chunk in fields.chunks(BATCH) {
            let body: Vec<Value> = chunk.iter().map(|f| json!({ entity: f })).collect();
            let answer = self.call(Some(&Value::Array(body)), None).await?;
            ids.extend(
                answer
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64),
            );
        }
        if ids.len() != fields.len() {
            return Err(format!(
                "ICAT answered {} ids for {} new {entity}",
                ids.len(),
                fields.len()
            ));
        }
        Ok(ids)
    }

    /// Every `entity` of dataset `id` (one query).
    pub(super) async fn children(
        &mut self,
        entity: &str,
        dataset: i64,
    ) -> Result<Vec<Value>, String> {
        let q = format!("SELECT x FROM {entity} x WHERE x.dataset.id = {dataset} INCLUDE x.type");
        let found = self.call(None, Some(&q)).await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| o[entity].clone())
            .collect())
    }
}

/// Numbers compare as numbers, times as instants, everything else as JSON.
pub(super) fn same_value(ours: &Value, theirs: &Value) -> bool {
    if let (Some(a), Some(b)) = (ours.as_f64(), theirs.as_f64()) {
        return (a - b).abs() <= 1e-12 * a.abs().max(1.0);
    }
    if let (Some(a), Some(b)) = (ours.as_str(), theirs.as_str())
        && let (Ok(x), Ok(y)) = (
            chrono::DateTime::parse_from_rfc3339(a),
            chrono::DateTime::parse_from_rfc3339(b),
        )
    {
        return x == y;
    }
    ours == theirs
}

/// The JSON of a 2xx answer, or ICAT's error as `ICAT <code>: <message> (HTTP <status>)`.
async fn answer(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
    }
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Err(format!(
        "ICAT {}: {} (HTTP {status})",
        v["code"].as_str().unwrap_or("ERROR"),
        v["message"].as_str().unwrap_or(text.trim())
    ))
}
