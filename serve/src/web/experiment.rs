//! `/experiments/{uuid}`: sample and crystal (persistent ids, barcodes, a reused barcode
//! flagged), sweeps, wedges in acquisition order, the interleaving timeline, and the image
//! lookup (`?image=N`: the N-th image in acquisition order → sweep, wedge, angle, file, frame).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use serde_json::Value;

use super::pages::{failed, json, object_session};
use super::svg::{self, Wedge};
use super::{Cell, Table, Viewer, encode, page_error, show};
use crate::Shared;
use mxpipe_queries::lookups;

#[derive(Template, WebTemplate)]
#[template(path = "experiment.html")]
struct ExperimentPage {
    uuid: String,
    short: String,
    warnings: Vec<String>,
    summary: Table,
    sample: Table,
    sweeps: Table,
    wedges: Table,
    processing: Table,
    timeline: String,
    image_text: String,
    answer: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageQuery {
    image: Option<String>,
}

/// What the experiment page reads, as JSON rows.
struct Loaded {
    experiment: Value,
    sweeps: Vec<Value>,
    wedges: Vec<Value>,
    used: Vec<Value>,
}

/// `/experiments/{uuid}` (`?image=N` answers the image lookup).
pub(crate) async fn experiment(
    State(s): State<Shared>,
    viewer: Viewer,
    Path(uuid): Path<String>,
    Query(q): Query<ImageQuery>,
) -> Response {
    let ctx = match object_session(&s, &viewer, &uuid, "an experiment").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = match load(&ctx, &uuid).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            return page_error(
                StatusCode::NOT_FOUND,
                "no such experiment (or not one of your token's proposals)",
            );
        }
        Err(e) => return failed(e),
    };
    let (sample, warnings) = sample_table(&ctx, &loaded.experiment).await;
    let mut summary = summary_table(&loaded.experiment);
    if let Some(source) = imported_from(&ctx, &uuid).await {
        summary.headers.push("Source".into());
        summary.rows[0].push(Cell::of(&Value::String(source)));
    }
    let order = sweep_order(&loaded);
    let sweep_number = |id: &str| order.iter().position(|x| x == id).map_or(0, |i| i + 1);
    let (sweeps, labels) = sweeps_table(&loaded.sweeps, &sweep_number);
    let (wedges, marks) = wedges_table(&loaded.wedges, &sweep_number);
    let answer = match q.image.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(match t.parse::<i64>() {
            Ok(n) if n >= 1 => {
                let axes: std::collections::HashMap<String, String> = loaded
                    .sweeps
                    .iter()
                    .map(|sw| (show(&sw["sweep_uuid"]), show(&sw["scan_axis"])))
                    .collect();
                lookup(&ctx, &uuid, &loaded.wedges, n, &sweep_number, &axes).await
            }
            _ => format!("{t:?} is not an image number (1, 2, …)"),
        }),
    };
    ExperimentPage {
        short: uuid.chars().take(8).collect(),
        uuid,
        warnings,
        summary,
        sample,
        sweeps,
        wedges,
        processing: processing_table(&loaded.used),
        timeline: svg::timeline(&marks, &labels),
        image_text: q.image.clone().unwrap_or_default(),
        answer,
    }
    .into_response()
}

/// Where an imported experiment came from (`mxpipe import ispyb`): its catalogue rows.
async fn imported_from(ctx: &SessionContext, uuid: &str) -> Option<String> {
    let rows = lookups::fixed_text(
        ctx,
        "SELECT fields_json FROM store.extensions WHERE object_uuid = $1 AND domain = 'mxpipe.org'",
        vec![lookups::param(uuid)],
    )
    .await
    .ok()?;
    rows.into_iter().find_map(|r| {
        let v: Value = serde_json::from_str(r.into_iter().next()??.as_str()).ok()?;
        let src = &v["legacySource"];
        let keys: Vec<String> = src["keys"]
            .as_array()?
            .iter()
            .map(Value::to_string)
            .collect();
        Some(format!(
            "Imported from {} {} {} at {}",
            src["catalogue"].as_str()?,
            src["table"].as_str()?,
            keys.join(", "),
            src["instance"].as_str()?
        ))
    })
}

/// The page's rows (`None`: no such experiment visible to the viewer).
async fn load(ctx: &SessionContext, uuid: &str) -> Result<Option<Loaded>, String> {
    let page = lookups::experiment_page(ctx, uuid)
        .await
        .map_err(|e| crate::limits::public_error(&e, 0).1)?;
    let Some(experiment) = json(&page.experiment)?.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(Loaded {
        experiment,
        sweeps: json(&page.sweeps)?,
        wedges: json(&page.wedges)?,
        used: json(&page.processing)?,
    }))
}

fn summary_table(e: &Value) -> Table {
    let mut summary = Table::new(
        "summary",
        &[
            "Visit", "Beamline", "Strategy", "Start", "End", "Status", "Site",
        ],
    );
    summary.rows.push(vec![
        Cell::link(
            show(&e["visit"]),
            format!("/experiments?proposal={}", encode(&show(&e["visit"]))),
        ),
        Cell::of(&e["beamline"]),
        Cell::of(&e["experiment_strategy"]),
        Cell::of(&e["start_time"]),
        Cell::of(&e["end_time"]),
        Cell::of(&e["job_status"]),
        Cell::of(&e["site"]),
    ]);
    summary
}

/// Sample and crystal, with persistent ids and barcodes; a reused barcode is flagged (the
/// warnings).
async fn sample_table(ctx: &SessionContext, e: &Value) -> (Table, Vec<String>) {
    let mut sample = Table::new(
        "sample and crystal",
        &["", "Name", "Persistent id", "Barcode(s)", "uuid"],
    );
    let first = |rows: datafusion::error::Result<Vec<datafusion::arrow::array::RecordBatch>>| {
        rows.ok()
            .and_then(|b| json(&b).ok())
            .and_then(|r| r.into_iter().next())
    };
    let sample_uuid = show(&e["sample_uuid"]);
    if !sample_uuid.is_empty()
        && let Some(r) = first(lookups::sample(ctx, &sample_uuid).await)
    {
        sample.rows.push(vec![
            Cell::text("Sample"),
            Cell::of(&r["name"]),
            Cell::of(&r["pid"]),
            Cell::of(&r["barcodes"]),
            Cell::link(sample_uuid.clone(), format!("/v1/samples/{sample_uuid}")),
        ]);
    }
    let crystal_uuid = show(&e["crystal_uuid"]);
    let mut barcodes: Vec<String> = Vec::new();
    if !crystal_uuid.is_empty()
        && let Some(r) = first(lookups::crystal(ctx, &crystal_uuid).await)
    {
        barcodes.extend(
            ["barcode", "container_barcode"]
                .map(|b| show(&r[b]))
                .into_iter()
                .filter(|v| !v.is_empty()),
        );
        sample.rows.push(vec![
            Cell::text("Crystal"),
            Cell::of(&r["name"]),
            Cell::of(&r["pid"]),
            Cell::text(barcodes.join(", ")),
            Cell::link(crystal_uuid.clone(), format!("/v1/samples/{crystal_uuid}")),
        ]);
    }
    // One warning per barcode of the crystal that was reused, in the crystal's order.
    let reused = lookups::barcode_reuse(ctx, &barcodes)
        .await
        .unwrap_or_default();
    let warnings = barcodes
        .iter()
        .filter_map(|b| reused.iter().find(|r| &r.barcode == b))
        .map(|r| format!(
            "Barcode {} was used for {} different sample identities (first seen {}, last seen {}): identify this crystal by its persistent id, not by the barcode.",
            r.barcode, r.identities, r.first_seen, r.last_seen
        ))
        .collect();
    (sample, warnings)
}

/// Sweep uuids numbered in the order their first wedge was collected.
fn sweep_order(loaded: &Loaded) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for row in loaded.wedges.iter().chain(&loaded.sweeps) {
        let id = show(&row["sweep_uuid"]);
        if !order.contains(&id) {
            order.push(id);
        }
    }
    order
}

/// The sweeps table and the timeline's sweep labels.
fn sweeps_table(sweeps: &[Value], sweep_number: &dyn Fn(&str) -> usize) -> (Table, Vec<String>) {
    let mut sorted: Vec<&Value> = sweeps.iter().collect();
    sorted.sort_by_key(|sw| sweep_number(&show(&sw["sweep_uuid"])));
    let mut table = Table::new(
        "sweeps",
        &[
            "Sweep",
            "Energy (eV)",
            "Wavelength (Å)",
            "Images",
            "Image width (°)",
            "Exposure (s)",
            "Transmission (%)",
            "Distance (mm)",
            "Files",
        ],
    );
    let mut labels = Vec::new();
    for sw in &sorted {
        let n = sweep_number(&show(&sw["sweep_uuid"]));
        labels.push(format!("sweep {n}: {} eV", show(&sw["energy_ev"])));
        table.rows.push(vec![
            Cell::text(n.to_string()),
            Cell::of(&sw["energy_ev"]),
            Cell::of(&sw["wavelength_a"]),
            Cell::of(&sw["number_images"]),
            Cell::of(&sw["image_width_deg"]),
            Cell::of(&sw["exposure_time_s"]),
            Cell::of(&sw["transmission_pct"]),
            Cell::of(&sw["detector_distance_mm"]),
            Cell::text(format!(
                "{}/{}",
                show(&sw["path"]),
                show(&sw["filename_template"])
            )),
        ]);
    }
    (table, labels)
}

/// Wedges in acquisition order, and the timeline's marks (the same rows).
fn wedges_table(wedges: &[Value], sweep_number: &dyn Fn(&str) -> usize) -> (Table, Vec<Wedge>) {
    let mut table = Table::new(
        "wedges",
        &[
            "Ordinal",
            "Sweep",
            "Images",
            "Start (°)",
            "End (°)",
            "Energy (eV)",
            "File",
        ],
    );
    let mut marks = Vec::new();
    for w in wedges {
        let n = sweep_number(&show(&w["sweep_uuid"]));
        let start = w["scan_position_start"].as_f64().unwrap_or(0.0);
        let count = w["number_images"].as_f64().unwrap_or(0.0);
        let end = start + count * w["image_width_deg"].as_f64().unwrap_or(0.0);
        let images = format!(
            "{}–{}",
            show(&w["first_image_number"]),
            show(&w["last_image_number"])
        );
        marks.push(Wedge {
            ordinal: w["ordinal"].as_i64().unwrap_or(0),
            sweep: n,
            start_deg: start,
            end_deg: end,
            label: format!(
                "wedge {}: sweep {n}, images {images}, {start:.1}–{end:.1}°",
                show(&w["ordinal"])
            ),
        });
        table.rows.push(vec![
            Cell::of(&w["ordinal"]),
            Cell::text(n.to_string()),
            Cell::text(images),
            Cell::text(format!("{start:.2}")),
            Cell::text(format!("{end:.2}")),
            Cell::of(&w["energy_ev"]),
            Cell::of(&w["filename_template"]),
        ]);
    }
    (table, marks)
}

fn processing_table(used: &[Value]) -> Table {
    let mut processing = Table::new("processing", &["Processing", "Program", "Status"]);
    for p in used {
        let id = show(&p["processing_uuid"]);
        processing.rows.push(vec![
            Cell::link(id.clone(), format!("/processing/{id}")),
            Cell::of(&p["program_name"]),
            Cell::of(&p["job_status"]),
        ]);
    }
    processing
}

/// "image 100 → sweep 2, wedge 3, omega 49.5°, file …": the n-th image in acquisition order.
async fn lookup(
    ctx: &SessionContext,
    experiment: &str,
    wedges: &[Value],
    n: i64,
    sweep_number: &(dyn Fn(&str) -> usize + Sync),
    axes: &std::collections::HashMap<String, String>,
) -> String {
    let mut before = 0i64;
    for (position_in_order, w) in wedges.iter().enumerate() {
        let count = w["number_images"].as_i64().unwrap_or(0);
        if n <= before + count {
            let k = n - before - 1;
            let sweep = show(&w["sweep_uuid"]);
            let image = w["first_image_number"].as_i64().unwrap_or(1) + k;
            let position = w["scan_position_start"].as_f64().unwrap_or(0.0)
                + k as f64 * w["image_width_deg"].as_f64().unwrap_or(0.0);
            let ordinal = w["ordinal"].as_i64().unwrap_or(0);
            let file = lookups::image_file(ctx, experiment, &sweep, image, ordinal)
                .await
                .ok()
                .and_then(|b| json(&b).ok())
                .and_then(|r| r.into_iter().next())
                .map(|r| {
                    let mut f = format!(
                        ", file {} frame {}",
                        show(&r["file_name"]),
                        show(&r["frame_in_file"])
                    );
                    if !r["data_file"].is_null() {
                        f.push_str(&format!(
                            " (data file {} frame {})",
                            show(&r["data_file"]),
                            show(&r["frame_in_data_file"])
                        ));
                    }
                    f
                })
                .unwrap_or_default();
            let axis = axes
                .get(&sweep)
                .filter(|a| !a.is_empty())
                .cloned()
                .unwrap_or_else(|| "rotation".to_owned());
            return format!(
                "image {n} → sweep {}, wedge {} (ordinal {}), image {image} of the sweep, {axis} {position:.2}°{file}",
                sweep_number(&sweep),
                position_in_order + 1,
                show(&w["ordinal"]),
            );
        }
        before += count;
    }
    format!("image {n} → beyond the last image (this experiment has {before} images)")
}
