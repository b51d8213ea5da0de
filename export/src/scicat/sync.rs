//! The requests of one export, entity by entity: proposals, samples, datasets and their
//! origdatablocks created, found again (by deterministic pid, id map or `mxpipe:<key>` keyword),
//! compared and patched. Every body is checked first with `--check`; a dry run logs the
//! requests instead of sending them.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{self, segment};
use super::{Done, SciCat, bodies, changed, content_hash, count, entry};
use crate::driver::{IdMap, Summary, Written};
use crate::icat::graph::{Dataset, Investigation};

impl SciCat {
    /// Check (with `--check`) and send one request; a dry run logs it and answers `None`.
    async fn request(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        log: &mut Vec<String>,
    ) -> Result<Option<client::Answer>, String> {
        if let (Some(c), Some(b)) = (&self.checker, body) {
            c.check(method.as_str(), path, b)?;
        }
        match &mut self.client {
            None => {
                if method != Method::GET {
                    log.push(
                        json!({"method": method.as_str(), "path": path, "body": body}).to_string(),
                    );
                }
                Ok(None)
            }
            Some(c) => c.send(method, path, query, body).await.map(Some),
        }
    }

    async fn get(&mut self, path: &str, query: &[(&str, String)]) -> Result<Option<Value>, String> {
        let a = self
            .request(Method::GET, path, query, None, &mut Vec::new())
            .await?;
        match a {
            Some(a) if a.status == 200 && !a.body.is_null() && a.body != json!("") => {
                Ok(Some(a.body))
            }
            Some(a) if a.status == 200 || a.status == 404 => Ok(None),
            Some(a) => Err(format!("GET {path}: {} {}", a.status, a.message())),
            None => Ok(None),
        }
    }

    async fn post(
        &mut self,
        path: &str,
        body: &Value,
        log: &mut Vec<String>,
    ) -> Result<Value, String> {
        match self
            .request(Method::POST, path, &[], Some(body), log)
            .await?
        {
            None => Ok(body.clone()),
            Some(a) if (200..300).contains(&a.status) => Ok(a.body),
            Some(a) => Err(format!("POST {path}: {} {}", a.status, a.message())),
        }
    }

    async fn patch(
        &mut self,
        path: &str,
        body: &Value,
        log: &mut Vec<String>,
    ) -> Result<(), String> {
        match self
            .request(Method::PATCH, path, &[], Some(body), log)
            .await?
        {
            Some(a) if !(200..300).contains(&a.status) => {
                Err(format!("PATCH {path}: {} {}", a.status, a.message()))
            }
            _ => Ok(()),
        }
    }

    /// The proposal: created when the site allows, else it must exist.
    pub(super) async fn proposal(
        &mut self,
        inv: &Investigation,
        counts: &mut Summary,
        log: &mut Vec<String>,
    ) -> Result<(), String> {
        // Remembered only once known to be there: a missing proposal fails every experiment
        // of it, not just the first.
        if self.proposals.contains(&inv.name) {
            return Ok(());
        }
        let path = format!("/api/v3/proposals/{}", segment(&inv.name));
        let exists = self.client.is_some() && self.get(&path, &[]).await?.is_some();
        if exists {
            count(counts, "Proposal", &Done::Unchanged);
        } else if self.settings.create_proposals {
            let body = bodies::proposal(&self.settings.site, inv);
            self.post("/api/v3/proposals", &body, log).await?;
            count(counts, "Proposal", &Done::Created);
        } else if self.client.is_some() {
            return Err(format!(
                "proposal {} is not in SciCat and this run may not create it: create it there first, or set [scicat] create_proposals = true when the account is in SciCat's PROPOSAL_GROUPS",
                inv.name
            ));
        }
        self.proposals.insert(inv.name.clone());
        Ok(())
    }

    /// One sample: fetched by its id, created when missing, patched when different.
    pub(super) async fn sample(
        &mut self,
        key: &str,
        body: Value,
        map: &IdMap,
        w: &mut Written,
        log: &mut Vec<String>,
    ) -> Result<(), String> {
        let id = body["sampleId"].as_str().unwrap_or_default().to_owned();
        let map_key = format!("Sample:{key}");
        let hash = content_hash(&body);
        if map.get(&map_key).is_some_and(|c| c.content_sha256 == hash) {
            count(&mut w.counts, "Sample", &Done::Unchanged);
            return Ok(());
        }
        let path = format!("/api/v3/samples/{}", segment(&id));
        let done = match self.get(&path, &[]).await? {
            None => {
                self.post("/api/v3/samples", &body, log).await?;
                Done::Created
            }
            Some(theirs) => {
                let diff = changed(&body, &theirs);
                if diff.as_object().is_some_and(|m| m.is_empty()) {
                    Done::Unchanged
                } else {
                    self.patch(&path, &diff, log).await?;
                    Done::Updated
                }
            }
        };
        count(&mut w.counts, "Sample", &done);
        w.ids.push((map_key, entry("Sample", hash, id)));
        Ok(())
    }

    /// Where a dataset already is, if anywhere: its pid (deterministic, from the id map, or
    /// found by its key keyword) and the server's copy.
    async fn existing(
        &mut self,
        key: &str,
        pid: Option<&str>,
    ) -> Result<Option<(String, Value)>, String> {
        if let Some(p) = pid {
            return Ok(self
                .get(&format!("/api/v4/datasets/{}", segment(p)), &[])
                .await?
                .map(|v| (p.to_owned(), v)));
        }
        let filter =
            json!({"where": {"keywords": bodies::key_keyword(key)}, "limits": {"limit": 1}});
        let found = self
            .get("/api/v4/datasets", &[("filter", filter.to_string())])
            .await?;
        Ok(found
            .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
            .and_then(|d| d["pid"].as_str().map(|p| (p.to_owned(), d.clone()))))
    }

    /// One dataset (and for a raw one its origdatablock); returns its pid.
    pub(super) async fn dataset(
        &mut self,
        d: &Dataset,
        mut body: Value,
        datablock: Option<Value>,
        map: &IdMap,
        w: &mut Written,
        log: &mut Vec<String>,
    ) -> Result<String, String> {
        let map_key = format!("Dataset:{}", d.key);
        let known = map.get(&map_key);
        let hash = content_hash(&json!([&body, &datablock]));
        let client_pid = body["pid"].as_str().map(str::to_owned);
        if let Some(c) = known.filter(|c| c.content_sha256 == hash) {
            count(&mut w.counts, "Dataset", &Done::Unchanged);
            if datablock.is_some() {
                count(&mut w.counts, "OrigDatablock", &Done::Unchanged);
            }
            return Ok(client_pid.or(c.pid.clone()).unwrap_or_default());
        }
        let kind = if d.raw { "raw" } else { "derived" };
        // A dry run sends nothing; with deterministic pids POST first (a 409 says it is there).
        let mut found = if self.client.is_none() || client_pid.is_some() {
            None
        } else {
            self.existing(&d.key, known.and_then(|c| c.pid.as_deref()))
                .await?
        };
        let mut created = false;
        if found.is_none() {
            match self
                .request(Method::POST, "/api/v4/datasets", &[], Some(&body), log)
                .await?
            {
                None => created = true,
                Some(a) if (200..300).contains(&a.status) => {
                    created = true;
                    body["pid"] = a.body["pid"].clone();
                }
                Some(a) if a.status == 409 && client_pid.is_some() => {
                    found = self.existing(&d.key, client_pid.as_deref()).await?;
                    if found.is_none() {
                        return Err(format!(
                            "POST /api/v4/datasets: 409 for {kind} dataset {}, but GET finds no dataset with that pid",
                            d.name
                        ));
                    }
                }
                Some(a) => {
                    return Err(format!(
                        "POST /api/v4/datasets ({kind} dataset {}): {} {}",
                        d.name,
                        a.status,
                        a.message()
                    ));
                }
            }
        }
        let pid = match &found {
            Some((p, theirs)) => {
                let diff = changed(&body, theirs);
                if diff.as_object().is_some_and(|m| m.is_empty()) {
                    count(&mut w.counts, "Dataset", &Done::Unchanged);
                } else {
                    self.patch(&format!("/api/v4/datasets/{}", segment(p)), &diff, log)
                        .await?;
                    count(&mut w.counts, "Dataset", &Done::Updated);
                }
                p.clone()
            }
            None => {
                count(&mut w.counts, "Dataset", &Done::Created);
                body["pid"]
                    .as_str()
                    .map_or_else(|| format!("<pid of {}>", d.key), str::to_owned)
            }
        };
        if let Some(mut block) = datablock {
            block["datasetId"] = json!(pid);
            let done = self.datablock(&pid, block, created, log).await?;
            count(&mut w.counts, "OrigDatablock", &done);
        }
        w.ids.push((map_key, entry("Dataset", hash, pid.clone())));
        Ok(pid)
    }

    async fn datablock(
        &mut self,
        pid: &str,
        block: Value,
        created: bool,
        log: &mut Vec<String>,
    ) -> Result<Done, String> {
        if !created {
            let filter = json!({"where": {"datasetId": pid}});
            let have = self
                .get("/api/v4/origdatablocks", &[("filter", filter.to_string())])
                .await?;
            if let Some(theirs) = have.and_then(|v| v.as_array().and_then(|a| a.first().cloned())) {
                let diff = changed(&block, &theirs);
                if diff.as_object().is_some_and(|m| m.is_empty()) {
                    return Ok(Done::Unchanged);
                }
                let id = theirs["_id"]
                    .as_str()
                    .or(theirs["id"].as_str())
                    .unwrap_or_default();
                self.patch(
                    &format!("/api/v4/origdatablocks/{}", segment(id)),
                    &diff,
                    log,
                )
                .await?;
                return Ok(Done::Updated);
            }
        }
        self.post("/api/v4/origdatablocks", &block, log).await?;
        Ok(Done::Created)
    }
}
