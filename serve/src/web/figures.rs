//! Figure pages: an SSX run (`/ssx/{processing uuid}`: hit and indexing rate along the run,
//! unit-cell histograms of the indexed lattices, counts from the frames against the counts the
//! program reported with its merged data) and the site comparison (`/sites`: the resolution
//! distribution of every site's reflection sets).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{failed, json, object_session, public, viewer_session};
use super::svg;
use super::{Cell, Table, Viewer, page_error, show};
use crate::Shared;

struct Figure {
    svg: String,
    caption: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "figures.html")]
struct FiguresPage {
    title: String,
    tables: Vec<Table>,
    figures: Vec<Figure>,
    links: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BinQuery {
    /// Frames per point of the rate plot (default 1 000).
    bin: Option<usize>,
}

/// `/ssx/{uuid}` of an SSX processing job.
pub(crate) async fn ssx(
    State(s): State<Shared>,
    viewer: Viewer,
    Path(uuid): Path<String>,
    Query(q): Query<BinQuery>,
) -> Response {
    let bin = q.bin.unwrap_or(1000).max(1);
    let ctx = match object_session(&s, &viewer, &uuid, "a processing").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let load = async {
        let p = mxpipe_queries::lookups::ssx_page(&ctx, &uuid, bin as i64)
            .await
            .map_err(|e| crate::limits::public_error(&e, 0).1)?;
        Ok::<_, String>((
            json(&p.job)?,
            json(&p.rates)?,
            json(&p.counts)?,
            json(&p.reported)?,
            json(&p.cells)?,
        ))
    };
    let (job, rates, counts, reported, cells) = match load.await {
        Ok(x) => x,
        Err(e) => return failed(e),
    };
    if job.is_empty() {
        return page_error(
            StatusCode::NOT_FOUND,
            "no such processing job (or not one of your token's proposals)",
        );
    }
    let j = &job[0];
    let table = counts_table(&counts, &reported);
    let figures = ssx_figures(&rates, &cells, bin);
    let mut summary = Table::new(
        "processing",
        &["Program", "Status", "Space group", "Visit", "Processing"],
    );
    summary.rows.push(vec![
        Cell::of(&j["program_name"]),
        Cell::of(&j["job_status"]),
        Cell::of(&j["space_group"]),
        Cell::of(&j["visit"]),
        Cell::link(uuid.clone(), format!("/processing/{uuid}")),
    ]);
    FiguresPage {
        title: format!("SSX run {}", uuid.chars().take(8).collect::<String>()),
        tables: vec![summary, table],
        figures,
        links: vec![
            (
                "frames (CSV)".into(),
                format!("/v1/views/ssx_frames?processing_uuid={uuid}&format=csv&limit=100000"),
            ),
            (
                "lattices (CSV)".into(),
                format!("/v1/views/ssx_lattices?processing_uuid={uuid}&format=csv&limit=100000"),
            ),
            (
                "counts (JSON)".into(),
                format!("/v1/views/ssx_runs?job_uuid={uuid}&format=json"),
            ),
        ],
    }
    .into_response()
}

/// Frames, hits, indexed frames and lattices: counted from the frames, and as reported.
fn counts_table(counts: &[serde_json::Value], reported: &[serde_json::Value]) -> Table {
    let mut table = Table::new(
        "counts",
        &[
            "",
            "Frames",
            "Hits",
            "Indexed frames",
            "Lattices",
            "Merged lattices",
            "Hit rate (%)",
            "Indexing rate (%)",
        ],
    );
    let pct = |v: &serde_json::Value| {
        v.as_f64()
            .map(|f| format!("{:.1}", f * 100.0))
            .unwrap_or_default()
    };
    if let Some(c) = counts.first() {
        let frames = c["frames"].as_f64().unwrap_or(0.0);
        let rate = |k: &str| {
            if frames > 0.0 {
                format!("{:.1}", c[k].as_f64().unwrap_or(0.0) / frames * 100.0)
            } else {
                String::new()
            }
        };
        table.rows.push(vec![
            Cell::text("counted from the frames"),
            Cell::of(&c["frames"]),
            Cell::of(&c["hits"]),
            Cell::of(&c["indexed"]),
            Cell::of(&c["lattices"]),
            Cell::text(""),
            Cell::text(rate("hits")),
            Cell::text(rate("indexed")),
        ]);
    }
    for r in reported {
        table.rows.push(vec![
            Cell::text("reported with the merged data"),
            Cell::of(&r["frames_total"]),
            Cell::of(&r["hits"]),
            Cell::of(&r["frames_indexed"]),
            Cell::of(&r["lattices_indexed"]),
            Cell::of(&r["lattices_merged"]),
            Cell::text(pct(&r["hit_rate"])),
            Cell::text(pct(&r["indexing_rate"])),
        ]);
    }
    table
}

/// The hit and indexing rate along the run, and a histogram per cell parameter.
fn ssx_figures(
    rates: &[serde_json::Value],
    cells: &[serde_json::Value],
    bin: usize,
) -> Vec<Figure> {
    let mut figures = Vec::new();
    let point = |r: &serde_json::Value, k: &str| -> Option<(f64, f64)> {
        Some((r["bin"].as_f64()? * bin as f64, r[k].as_f64()? * 100.0))
    };
    let hits: Vec<(f64, f64)> = rates.iter().filter_map(|r| point(r, "hit_rate")).collect();
    let indexed: Vec<(f64, f64)> = rates
        .iter()
        .filter_map(|r| point(r, "indexing_rate"))
        .collect();
    if !hits.is_empty() {
        figures.push(Figure {
            svg: svg::lines(
                "Hit and indexing rate along the run",
                &format!("first frame of each {bin}"),
                "rate (%)",
                &[("hit rate", hits), ("indexing rate", indexed)],
            ),
            caption: format!("Per {bin} frames, in the order the program read them."),
        });
    }
    for (column, name) in [
        ("cell_a_a", "a (Å)"),
        ("cell_b_a", "b (Å)"),
        ("cell_c_a", "c (Å)"),
        ("cell_alpha_deg", "α (°)"),
        ("cell_beta_deg", "β (°)"),
        ("cell_gamma_deg", "γ (°)"),
    ] {
        let values: Vec<f64> = cells.iter().filter_map(|r| r[column].as_f64()).collect();
        if !values.is_empty() {
            figures.push(Figure {
                svg: svg::histogram(&format!("cell {name}"), name, &values, 20),
                caption: format!("{name} of {} indexed lattices", values.len()),
            });
        }
    }
    figures
}

/// `/sites`: the resolution distribution of every site's reflection sets.
pub(crate) async fn sites(State(s): State<Shared>, viewer: Viewer) -> Response {
    let ctx = match viewer_session(&s, &viewer).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found = match public(mxpipe_queries::lookups::site_resolutions(&ctx).await) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    let mut by_site: Vec<(String, Vec<f64>)> = Vec::new();
    for r in &found {
        let site = show(&r["site"]);
        let Some(d) = r["resolution_high_a"].as_f64() else {
            continue;
        };
        match by_site.iter_mut().find(|(s, _)| *s == site) {
            Some((_, v)) => v.push(d),
            None => by_site.push((site, vec![d])),
        }
    }
    let mut table = Table::new(
        "sites",
        &[
            "Site",
            "Reflection sets",
            "Best (Å)",
            "Median (Å)",
            "Worst (Å)",
        ],
    );
    let mut figures = Vec::new();
    for (site, values) in &mut by_site {
        values.sort_by(|a, b| a.total_cmp(b));
        table.rows.push(vec![
            Cell::text(site.clone()),
            Cell::text(values.len().to_string()),
            Cell::text(format!("{:.2}", values[0])),
            Cell::text(format!("{:.2}", values[values.len() / 2])),
            Cell::text(format!("{:.2}", values[values.len() - 1])),
        ]);
        figures.push(Figure {
            svg: svg::histogram(
                &format!("{site}: high-resolution limit"),
                "resolution (Å)",
                values,
                24,
            ),
            caption: format!("{site}: {} reflection sets", values.len()),
        });
    }
    FiguresPage {
        title: "Sites compared".into(),
        tables: vec![table],
        figures,
        links: vec![(
            "reflection sets (CSV)".into(),
            "/v1/views/reflection_sets?format=csv&limit=100000".into(),
        )],
    }
    .into_response()
}
