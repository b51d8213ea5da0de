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

use super::pages::{failed, lit, object_session, rows};
use super::svg::{self, Wedge};
use super::{Cell, Table, Viewer, encode, page_error, show};
use crate::Shared;

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
    let u = lit(&uuid);
    // The page's queries are independent: run them together.
    let load = async {
        tokio::try_join!(
            rows(
                &ctx,
                format!("SELECT * FROM experiments WHERE experiment_uuid = {u}"),
            ),
            rows(
                &ctx,
                format!("SELECT * FROM sweeps WHERE experiment_uuid = {u}"),
            ),
            rows(
                &ctx,
                format!("SELECT * FROM scans WHERE experiment_uuid = {u} ORDER BY ordinal"),
            ),
            rows(
                &ctx,
                format!(
                    "SELECT DISTINCT i.processing_uuid, p.program_name, p.job_status FROM processing_inputs i \
             LEFT JOIN processing p ON p.processing_uuid = i.processing_uuid WHERE i.experiment_uuid = {u} ORDER BY i.processing_uuid"
                )
            ),
        )
    };
    let (exp, sweeps, wedges, used) = match load.await {
        Ok(x) => x,
        Err(e) => return failed(e),
    };
    let Some(e) = exp.first() else {
        return page_error(
            StatusCode::NOT_FOUND,
            "no such experiment (or not one of your token's proposals)",
        );
    };
    let mut warnings = Vec::new();
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

    // Sample and crystal, with persistent ids and barcodes; a reused barcode is flagged.
    let mut sample = Table::new(
        "sample and crystal",
        &["", "Name", "Persistent id", "Barcode(s)", "uuid"],
    );
    let sample_uuid = show(&e["sample_uuid"]);
    let crystal_uuid = show(&e["crystal_uuid"]);
    let mut barcodes: Vec<String> = Vec::new();
    if !sample_uuid.is_empty()
        && let Ok(r) = rows(
            &ctx,
            format!(
                "SELECT * FROM samples WHERE sample_uuid = {}",
                lit(&sample_uuid)
            ),
        )
        .await
        && let Some(r) = r.first()
    {
        sample.rows.push(vec![
            Cell::text("Sample"),
            Cell::of(&r["name"]),
            Cell::of(&r["pid"]),
            Cell::of(&r["barcodes"]),
            Cell::link(sample_uuid.clone(), format!("/v1/samples/{sample_uuid}")),
        ]);
    }
    if !crystal_uuid.is_empty()
        && let Ok(r) = rows(
            &ctx,
            format!(
                "SELECT * FROM crystals WHERE crystal_uuid = {}",
                lit(&crystal_uuid)
            ),
        )
        .await
        && let Some(r) = r.first()
    {
        for b in ["barcode", "container_barcode"] {
            let v = show(&r[b]);
            if !v.is_empty() {
                barcodes.push(v);
            }
        }
        sample.rows.push(vec![
            Cell::text("Crystal"),
            Cell::of(&r["name"]),
            Cell::of(&r["pid"]),
            Cell::text(barcodes.join(", ")),
            Cell::link(crystal_uuid.clone(), format!("/v1/samples/{crystal_uuid}")),
        ]);
    }
    for b in &barcodes {
        if let Ok(r) = rows(
            &ctx,
            format!("SELECT * FROM barcode_reuse WHERE barcode = {}", lit(b)),
        )
        .await
            && let Some(r) = r.first()
        {
            warnings.push(format!(
                "Barcode {b} was used for {} different sample identities (first seen {}, last seen {}): identify this crystal by its persistent id, not by the barcode.",
                show(&r["identities"]),
                show(&r["first_seen"]),
                show(&r["last_seen"])
            ));
        }
    }

    // Sweeps numbered in the order their first wedge was collected.
    let mut order: Vec<String> = Vec::new();
    for w in &wedges {
        let id = show(&w["sweep_uuid"]);
        if !order.contains(&id) {
            order.push(id);
        }
    }
    for sw in &sweeps {
        let id = show(&sw["sweep_uuid"]);
        if !order.contains(&id) {
            order.push(id);
        }
    }
    let sweep_number = |id: &str| order.iter().position(|x| x == id).map_or(0, |i| i + 1);
    let mut sweeps_sorted: Vec<&Value> = sweeps.iter().collect();
    sweeps_sorted.sort_by_key(|sw| sweep_number(&show(&sw["sweep_uuid"])));
    let mut sweep_table = Table::new(
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
    for sw in &sweeps_sorted {
        let n = sweep_number(&show(&sw["sweep_uuid"]));
        labels.push(format!("sweep {n}: {} eV", show(&sw["energy_ev"])));
        sweep_table.rows.push(vec![
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

    // Wedges in acquisition order; the timeline and the image lookup read the same rows.
    let mut wedge_table = Table::new(
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
    for w in &wedges {
        let n = sweep_number(&show(&w["sweep_uuid"]));
        let start = w["scan_position_start"].as_f64().unwrap_or(0.0);
        let count = w["number_images"].as_f64().unwrap_or(0.0);
        let width = w["image_width_deg"].as_f64().unwrap_or(0.0);
        let end = start + count * width;
        marks.push(Wedge {
            ordinal: w["ordinal"].as_i64().unwrap_or(0),
            sweep: n,
            start_deg: start,
            end_deg: end,
            label: format!(
                "wedge {}: sweep {n}, images {}–{}, {start:.1}–{end:.1}°",
                show(&w["ordinal"]),
                show(&w["first_image_number"]),
                show(&w["last_image_number"])
            ),
        });
        wedge_table.rows.push(vec![
            Cell::of(&w["ordinal"]),
            Cell::text(n.to_string()),
            Cell::text(format!(
                "{}–{}",
                show(&w["first_image_number"]),
                show(&w["last_image_number"])
            )),
            Cell::text(format!("{start:.2}")),
            Cell::text(format!("{end:.2}")),
            Cell::of(&w["energy_ev"]),
            Cell::of(&w["filename_template"]),
        ]);
    }
    let timeline = svg::timeline(&marks, &labels);

    let image_text = q.image.clone().unwrap_or_default();
    let answer = match q.image.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(match t.parse::<i64>() {
            Ok(n) if n >= 1 => {
                let axes: std::collections::HashMap<String, String> = sweeps
                    .iter()
                    .map(|sw| (show(&sw["sweep_uuid"]), show(&sw["scan_axis"])))
                    .collect();
                lookup(&ctx, &uuid, &wedges, n, &sweep_number, &axes).await
            }
            _ => format!("{t:?} is not an image number (1, 2, …)"),
        }),
    };

    let mut processing = Table::new("processing", &["Processing", "Program", "Status"]);
    for p in &used {
        let id = show(&p["processing_uuid"]);
        processing.rows.push(vec![
            Cell::link(id.clone(), format!("/processing/{id}")),
            Cell::of(&p["program_name"]),
            Cell::of(&p["job_status"]),
        ]);
    }
    ExperimentPage {
        short: uuid.chars().take(8).collect(),
        uuid,
        warnings,
        summary,
        sample,
        sweeps: sweep_table,
        wedges: wedge_table,
        processing,
        timeline,
        image_text,
        answer,
    }
    .into_response()
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
            let file = rows(
                ctx,
                format!(
                    "SELECT file_name, frame_in_file, data_file, frame_in_data_file FROM image_index \
                     WHERE experiment_uuid = {} AND sweep_uuid = {} AND image_number = {image} AND scan_ordinal = {}",
                    lit(experiment),
                    lit(&sweep),
                    w["ordinal"].as_i64().unwrap_or(0)
                ),
            )
            .await
            .ok()
            .and_then(|r| r.into_iter().next())
            .map(|r| {
                let mut f = format!(", file {} frame {}", show(&r["file_name"]), show(&r["frame_in_file"]));
                if !r["data_file"].is_null() {
                    f.push_str(&format!(" (data file {} frame {})", show(&r["data_file"]), show(&r["frame_in_data_file"])));
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
