//! DataCite DOIs for physical samples (IGSN-style, `types.resourceTypeGeneral = PhysicalObject`)
//! through DataCite's REST API: the metadata (schema 4.5, the flat `attributes` of a JSON:API
//! body), checked here before every request, and a client that creates DOIs (`POST /dois`),
//! draft unless asked to publish. See `../shared/notes/pids-lineage.md` §1–3.

use serde_json::{Value, json};

use crate::{Candidate, Outcome, PidConfig};

/// Where DataCite's REST API is and who we are there.
#[derive(Debug, Clone)]
pub struct DataCiteConfig {
    /// API base, e.g. `https://api.test.datacite.org` (no trailing slash needed).
    pub api_url: String,
    /// Repository account id (HTTP Basic user).
    pub repository_id: String,
    /// Its password (never logged).
    pub password: String,
}

/// The DOI name for a local id: `prefix/id`.
pub fn doi_name(prefix: &str, id: &str) -> String {
    format!("{}/{id}", prefix.trim_end_matches('/'))
}

/// The landing page a DOI resolves to: the configured landing base + the DOI's suffix.
pub fn landing_url(config: &PidConfig, id: &str) -> String {
    format!("{}{id}", config.landing_base())
}

/// The metadata DataCite gets for one sample or crystal (the `attributes` object).
pub fn attributes(config: &PidConfig, c: &Candidate, doi: &str, id: &str, publish: bool) -> Value {
    let today = chrono::Utc::now();
    let kind = if c.mxlims_type == "Crystal" {
        "Crystal"
    } else {
        "Macromolecule sample"
    };
    let mut title = format!("{kind} {}", c.name.as_deref().unwrap_or(&c.uuid));
    if let Some(s) = &c.sample_name {
        title.push_str(&format!(" of {s}"));
    }
    if let Some(v) = &c.visit {
        title.push_str(&format!(", session {v}"));
    }
    let mut alternate =
        vec![json!({"alternateIdentifier": c.uuid, "alternateIdentifierType": "MXLIMS uuid"})];
    if let Some(b) = &c.barcode {
        alternate.push(json!({"alternateIdentifier": b, "alternateIdentifierType": "Barcode at assignment (barcodes are reused)"}));
    }
    let mut dates =
        vec![json!({"date": today.format("%Y-%m-%d").to_string(), "dateType": "Created"})];
    if let Some(t) = &c.first_collected {
        dates.push(json!({"date": t.get(..10).unwrap_or(t), "dateType": "Collected"}));
    }
    let mut a = json!({
        "doi": doi,
        "url": landing_url(config, id),
        "types": {"resourceTypeGeneral": "PhysicalObject", "resourceType": kind},
        "creators": [{"name": config.creator(), "nameType": "Organizational"}],
        "titles": [{"title": title}],
        "publisher": {"name": config.publisher()},
        "publicationYear": today.format("%Y").to_string(),
        "subjects": [{"subject": "macromolecular crystallography", "subjectScheme": "PaNET",
                      "schemeUri": "http://purl.org/pan-science/PaNET/", "valueUri": "http://purl.org/pan-science/PaNET/PaNET01164"}],
        "alternateIdentifiers": alternate,
        "dates": dates,
        "descriptions": [{"description": if c.mxlims_type == "Crystal" {
            format!("Crystal registered by {} (mxpipe). Ephemeral: a crystal may be consumed by its measurement; this record stays.", config.publisher())
        } else {
            format!("Macromolecule sample registered by {} (mxpipe).", config.publisher())
        }, "descriptionType": "Other"}],
        "schemaVersion": "http://datacite.org/schema/kernel-4",
    });
    if let Some(parent) = &c.parent_pid {
        let (id_type, value) = match parent.strip_prefix("https://doi.org/") {
            Some(d) => ("DOI", d.to_owned()),
            None if parent.starts_with("10.") => ("DOI", parent.clone()),
            None => ("URL", parent.clone()),
        };
        a["relatedIdentifiers"] = json!([{"relatedIdentifier": value, "relatedIdentifierType": id_type,
            "relationType": "IsDerivedFrom", "resourceTypeGeneral": "PhysicalObject"}]);
    }
    if publish {
        a["event"] = json!("publish");
    }
    a
}

/// What DataCite's schema requires, checked before sending (the REST API lets some invalid
/// updates through, and the JSON Schema does not check URL or date formats): every problem.
pub fn check(a: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let s = |p: &str| a.pointer(p).and_then(Value::as_str);
    for p in [
        "/creators/0/name",
        "/titles/0/title",
        "/publisher/name",
        "/types/resourceTypeGeneral",
    ] {
        if s(p).is_none_or(|v| v.trim().is_empty()) {
            problems.push(format!("{p}: required, found nothing"));
        }
    }
    if s("/types/resourceTypeGeneral").is_some_and(|t| t != "PhysicalObject") {
        problems.push("/types/resourceTypeGeneral: samples are PhysicalObject".into());
    }
    match s("/publicationYear") {
        Some(y) if y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) => {}
        other => problems.push(format!(
            "/publicationYear: expected four digits as a string, found {other:?}"
        )),
    }
    if s("/schemaVersion") != Some("http://datacite.org/schema/kernel-4") {
        problems.push("/schemaVersion: expected http://datacite.org/schema/kernel-4".into());
    }
    let doi = s("/doi").unwrap_or_default();
    let valid_doi = doi.split_once('/').is_some_and(|(prefix, suffix)| {
        prefix
            .strip_prefix("10.")
            .is_some_and(|n| (4..=5).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
            && !suffix.is_empty()
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._;()/:*~$=".contains(c))
    });
    if !valid_doi {
        problems.push(format!(
            "/doi: expected 10.NNNN/suffix (DataCite's DOI pattern), found {doi:?}"
        ));
    }
    match s("/url").map(url::Url::parse) {
        Some(Ok(u)) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        other => problems.push(format!(
            "/url: expected an http(s) URL of the landing page, found {other:?}"
        )),
    }
    for (i, d) in a["dates"].as_array().into_iter().flatten().enumerate() {
        let date = d["date"].as_str().unwrap_or_default();
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            problems.push(format!(
                "/dates/{i}/date: expected YYYY-MM-DD, found {date:?}"
            ));
        }
    }
    problems
}

/// Create one DOI: `POST {api}/dois` with the JSON:API body. 201 → accepted (its state); 422
/// "already been taken" → the DOI is read back and accepted if it is ours (same landing URL: a
/// retry after a lost answer); anything else → pending with DataCite's answer. 429 is waited
/// out (`Retry-After`, at most three times).
pub async fn create(client: &reqwest::Client, dc: &DataCiteConfig, attributes: &Value) -> Outcome {
    let problems = check(attributes);
    if !problems.is_empty() {
        return Outcome::Pending(format!(
            "metadata not sent, it would be invalid: {}",
            problems.join("; ")
        ));
    }
    let url = format!("{}/dois", dc.api_url.trim_end_matches('/'));
    let body = json!({"data": {"type": "dois", "attributes": attributes}});
    let mut waited = 0;
    loop {
        let answer = client
            .post(&url)
            .basic_auth(&dc.repository_id, Some(&dc.password))
            .header("Content-Type", "application/vnd.api+json")
            .header("Accept", "application/vnd.api+json")
            .body(body.to_string())
            .send()
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => return Outcome::Pending(format!("DataCite unreachable at {url}: {e}")),
        };
        let status = answer.status().as_u16();
        if status == 429 && waited < 3 {
            let secs = answer
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
                .min(30);
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
            waited += 1;
            continue;
        }
        let text = answer.text().await.unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        return match status {
            200 | 201 => Outcome::Accepted(
                parsed
                    .pointer("/data/attributes/state")
                    .and_then(Value::as_str)
                    .unwrap_or(if attributes.get("event").is_some() {
                        "findable"
                    } else {
                        "draft"
                    })
                    .to_owned(),
            ),
            422 if errors_text(&parsed).contains("already been taken") => {
                already_ours(client, dc, attributes).await
            }
            401 | 403 => Outcome::Pending(format!(
                "DataCite refused the repository credentials ({status}): check [pid] repository_id and the password (MXPIPE_DATACITE_PASSWORD)"
            )),
            _ => Outcome::Pending(format!(
                "DataCite answered {status}: {}",
                errors_text(&parsed).if_empty(&text)
            )),
        };
    }
}

/// A DOI DataCite already has: ours when its landing URL is the one we send.
async fn already_ours(
    client: &reqwest::Client,
    dc: &DataCiteConfig,
    attributes: &Value,
) -> Outcome {
    let doi = attributes["doi"].as_str().unwrap_or_default();
    let url = format!("{}/dois/{doi}", dc.api_url.trim_end_matches('/'));
    let got = client
        .get(&url)
        .basic_auth(&dc.repository_id, Some(&dc.password))
        .send()
        .await;
    let Ok(got) = got else {
        return Outcome::Pending(format!(
            "{doi} is taken and DataCite could not be asked whose it is"
        ));
    };
    let value: Value = got.json().await.unwrap_or(Value::Null);
    let theirs = value
        .pointer("/data/attributes/url")
        .and_then(Value::as_str);
    if theirs.is_some() && theirs == attributes["url"].as_str() {
        let state = value
            .pointer("/data/attributes/state")
            .and_then(Value::as_str)
            .unwrap_or("draft");
        Outcome::Accepted(state.to_owned())
    } else {
        Outcome::Pending(format!(
            "{doi} is already registered for another landing page ({theirs:?})"
        ))
    }
}

/// The `errors[]` of a JSON:API error answer as one line.
fn errors_text(v: &Value) -> String {
    v["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| match e["source"].as_str() {
            Some(s) => format!("{s}: {}", e["title"].as_str().unwrap_or_default()),
            None => e["title"].as_str().unwrap_or_default().to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

trait IfEmpty {
    fn if_empty(self, other: &str) -> String;
}
impl IfEmpty for String {
    fn if_empty(self, other: &str) -> String {
        if self.is_empty() {
            other.chars().take(300).collect()
        } else {
            self
        }
    }
}
