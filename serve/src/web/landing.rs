//! `/pid/{id}`: the landing page a sample's or crystal's PID resolves to (a local PID's URL, or
//! the `url` registered with its DataCite DOI). Public, as a PID resolver must be — so it shows
//! by default only the PID, the type, the facility and the dates measured; the name, parent,
//! sites and counts of what was measured only when `[pid] public_fields` lists them (the
//! facility's data policy). HTML for browsers (with the PID as `cite-as`, signposting links and
//! schema.org JSON-LD embedded), JSON-LD for `Accept: application/ld+json` or `?format=jsonld`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::pages::public;
use super::{page_error, show};
use crate::Shared;

#[derive(Template, WebTemplate)]
#[template(path = "landing.html")]
struct LandingPage {
    kind: String,
    facility: String,
    name: Option<String>,
    counts: bool,
    pid: String,
    iri: String,
    state: String,
    parent: Option<String>,
    parent_kind: String,
    parent_href: Option<String>,
    sites: Option<String>,
    experiments: i64,
    sweeps: i64,
    results: i64,
    first_measured: Option<String>,
    last_measured: Option<String>,
    self_path: String,
    json_ld: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FormatParam {
    format: Option<String>,
}

/// `/pid/{id}`: `id` is the local id (`7f3a-9c2k-x`), a DOI (`10.80000/7f3a-9c2k-x`), or the
/// whole PID.
pub(crate) async fn landing(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<FormatParam>,
    headers: HeaderMap,
) -> Response {
    let id = id
        .trim_start_matches("https://doi.org/")
        .trim_start_matches("doi:")
        .to_owned();
    let ctx = match crate::read::session(&s).await {
        Ok(c) => c,
        Err(e) => return page_error(StatusCode::SERVICE_UNAVAILABLE, &e),
    };
    let found = public(mxpipe_queries::lookups::pid_owners(&ctx, &id).await);
    let found = match found {
        Ok(f) => f,
        Err(e) => return page_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let Some(first) = found.first() else {
        return page_error(
            StatusCode::NOT_FOUND,
            &format!("No sample or crystal has the persistent identifier {id} here."),
        );
    };
    let uuid = show(&first["uuid"]);
    let kind = show(&first["kind"]);
    let counts = public(mxpipe_queries::lookups::measured(&ctx, kind == "Crystal", &uuid).await)
        .unwrap_or_default();
    let c = counts.first().cloned().unwrap_or(Value::Null);
    let sites: Vec<String> = found.iter().map(|r| show(&r["site"])).collect();
    let pid = show(&first["pid"]);
    let iri = mxpipe_lineage::vocab::node_iri(Some(&pid), &uuid);
    let parent_pid = first["parent_pid"].as_str().map(str::to_owned);
    let parent_iri = parent_pid
        .as_deref()
        .map(|p| mxpipe_lineage::vocab::node_iri(Some(p), ""));
    let self_path = format!("/pid/{}", super::encode(&id).replace("%2F", "/"));
    let public = |f: &str| s.config.public_fields.iter().any(|p| p == f);
    let facility = s
        .config
        .pid
        .as_ref()
        .and_then(|p| p.publisher.clone())
        .unwrap_or_else(|| s.config.site.clone());
    let mut ld = json!({
        "@context": {"@vocab": "https://schema.org/", "prov": "http://www.w3.org/ns/prov#", "mxp": mxpipe_lineage::vocab::MXP},
        "@id": iri,
        "@type": ["Thing", "prov:Entity", format!("mxp:{}", if kind == "Crystal" { "Crystal" } else { "Sample" })],
        "identifier": pid,
        "url": self_path,
        "publisher": facility,
    });
    if let Some(d) = c["first_measured"].as_str() {
        ld["mxp:firstMeasured"] = json!(d);
    }
    if let Some(d) = c["last_measured"].as_str() {
        ld["mxp:lastMeasured"] = json!(d);
    }
    if public("name") {
        ld["name"] = first["name"].clone();
    }
    if public("counts") {
        ld["mxp:experiments"] = c["experiments"].clone();
        ld["mxp:sweeps"] = c["sweeps"].clone();
    }
    if let Some(p) = parent_iri.as_ref().filter(|_| public("parent")) {
        ld["prov:wasDerivedFrom"] = json!({"@id": p});
    }
    let wants_ld = q.format.as_deref() == Some("jsonld")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/ld+json"));
    let link = format!(
        "<{iri}>; rel=\"cite-as\", <{self_path}?format=jsonld>; rel=\"describedby\"; type=\"application/ld+json\""
    );
    let mut response = if wants_ld {
        let mut r = Json(ld).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/ld+json"),
        );
        r
    } else {
        LandingPage {
            kind: kind.clone(),
            facility: facility.clone(),
            name: public("name").then(|| show(&first["name"])),
            counts: public("counts"),
            pid: pid.clone(),
            iri: iri.clone(),
            state: show(&first["pid_state"]),
            parent_href: parent_pid.as_ref().filter(|_| public("parent")).map(|p| {
                if p.starts_with("http") {
                    p.clone()
                } else {
                    format!("/pid/{p}")
                }
            }),
            parent: first["parent_name"]
                .as_str()
                .filter(|_| public("parent"))
                .map(|n| match &parent_pid {
                    Some(p) => format!("{n} ({p})"),
                    None => n.to_owned(),
                }),
            parent_kind: "Sample".into(),
            sites: public("sites").then(|| sites.join(", ")),
            experiments: c["experiments"].as_i64().unwrap_or(0),
            sweeps: c["sweeps"].as_i64().unwrap_or(0),
            results: c["results"].as_i64().unwrap_or(0),
            first_measured: c["first_measured"].as_str().map(str::to_owned),
            last_measured: c["last_measured"].as_str().map(str::to_owned),
            self_path,
            // In a <script> element: `</` must not appear literally.
            json_ld: ld.to_string().replace("</", "<\\/"),
        }
        .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&link) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

use axum::Json;
