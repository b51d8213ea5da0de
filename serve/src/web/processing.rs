//! `/processing/{uuid}`: inputs (linked to the sweeps they used, every crystal of a merge), and
//! per reflection set the statistics per shell, as a table and plotted against resolution.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use datafusion::prelude::SessionContext;

use super::pages::{failed, json, object_session};
use super::svg;
use super::{Cell, Table, Viewer, page_error, show};
use crate::Shared;

#[derive(Template, WebTemplate)]
#[template(path = "processing.html")]
struct ProcessingPage {
    uuid: String,
    ssx: bool,
    short: String,
    summary: Table,
    inputs: Table,
    sets: Vec<SetView>,
}

struct SetView {
    uuid: String,
    /// `anisotropic` / `isotropic` / the program's name (the view's `label`).
    label: String,
    space_group: String,
    cell: String,
    table: Table,
    plots: Vec<Plot>,
}

struct Plot {
    svg: String,
    caption: String,
}

/// `/processing/{uuid}`: inputs (linked to the sweeps they used, every crystal of a merge), and
/// per reflection set the statistics per shell, as a table and plotted against resolution.
pub(crate) async fn processing(
    State(s): State<Shared>,
    viewer: Viewer,
    Path(uuid): Path<String>,
) -> Response {
    let ctx = match object_session(&s, &viewer, &uuid, "a processing").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (job, inputs, sets, shells, frames) = match load(&ctx, &uuid).await {
        Ok(x) => x,
        Err(e) => return failed(e),
    };
    let Some(j) = job.first() else {
        return page_error(
            StatusCode::NOT_FOUND,
            "no such processing job (or not one of your token's proposals)",
        );
    };
    let views = sets.iter().map(|set| set_view(set, &shells)).collect();
    ProcessingPage {
        ssx: frames
            .first()
            .and_then(|r| r["n"].as_i64())
            .is_some_and(|n| n > 0),
        short: uuid.chars().take(8).collect(),
        uuid,
        summary: summary_table(j, &sets),
        inputs: inputs_table(&inputs),
        sets: views,
    }
    .into_response()
}

/// The job's summary: program, status, start, symmetry (of its first result when the job states
/// none), visit.
fn summary_table(j: &Value, sets: &[Value]) -> Table {
    let mut summary = Table::new(
        "summary",
        &[
            "Program",
            "Version",
            "Status",
            "Start",
            "Space group",
            "Cell (Å, °)",
            "Visit",
        ],
    );
    // A job that states no space group or cell of its own (autoPROC's are on its results): those
    // of its first result.
    let symmetry = match sets.first() {
        Some(first) if j["space_group"].is_null() => first,
        _ => j,
    };
    summary.rows.push(vec![
        Cell::of(&j["program_name"]),
        Cell::of(&j["program_version"]),
        Cell::of(&j["job_status"]),
        Cell::of(&j["start_time"]),
        Cell::of(&symmetry["space_group"]),
        Cell::text(cell_text(symmetry)),
        Cell::of(&j["visit"]),
    ]);
    summary
}

/// The inputs, linked to the sweeps and experiments they used.
fn inputs_table(inputs: &[Value]) -> Table {
    let mut input_table = Table::new(
        "inputs",
        &[
            "Input",
            "Images",
            "Linked by",
            "Sweep",
            "Experiment",
            "Crystal",
        ],
    );
    for i in inputs {
        let exp = show(&i["experiment_uuid"]);
        input_table.rows.push(vec![
            Cell::of(&i["list_index"]),
            Cell::text(if i["path"].is_null() {
                show(&i["kind"])
            } else {
                format!(
                    "{}/{} {}–{}",
                    show(&i["path"]),
                    show(&i["filename_template"]),
                    show(&i["first_image_number"]),
                    show(&i["last_image_number"])
                )
            }),
            Cell::text(if i["linked_by"].is_null() {
                "not linked yet".to_owned()
            } else {
                show(&i["linked_by"])
            }),
            Cell::of(&i["sweep_uuid"]),
            if exp.is_empty() {
                Cell::text("")
            } else {
                Cell::link(exp.clone(), format!("/experiments/{exp}"))
            },
            Cell::of(&i["crystal_uuid"]),
        ]);
    }
    input_table
}

/// One reflection set: its statistics per shell as a table and plotted against resolution.
fn set_view(set: &Value, shells: &[Value]) -> SetView {
    let id = show(&set["reflection_set_uuid"]);
    let mine: Vec<&Value> = shells
        .iter()
        .filter(|r| show(&r["reflection_set_uuid"]) == id)
        .collect();
    let mut table = Table::new(
        "statistics per shell",
        &[
            "Shell",
            "Resolution (Å)",
            "CC½",
            "I/σ(I)",
            "Completeness (%)",
            "Rmeas",
            "Multiplicity",
            "Unique",
        ],
    );
    for r in &mine {
        table.rows.push(vec![
            Cell::text(
                match (show(&r["shell"]).as_str(), show(&r["shell_index"])) {
                    ("overall", _) => "overall".to_owned(),
                    ("shell", i) => format!("shell {i}"),
                    (kind, i) => format!("{kind} (shell {i})"),
                },
            ),
            Cell::text(format!(
                "{}–{}",
                show(&r["resolution_low_a"]),
                show(&r["resolution_high_a"])
            )),
            Cell::of(&r["cc_half"]),
            Cell::of(&r["i_over_sigma"]),
            Cell::of(&r["completeness_pct"]),
            Cell::of(&r["r_meas"]),
            Cell::of(&r["multiplicity"]),
            Cell::of(&r["number_observations_unique"]),
        ]);
    }
    let per_shell: Vec<&&Value> = mine.iter().filter(|r| r["shell"] != "overall").collect();
    let series = |column: &str| -> Vec<(f64, f64)> {
        per_shell
            .iter()
            .filter_map(|r| Some((r["resolution_high_a"].as_f64()?, r[column].as_f64()?)))
            .collect()
    };
    let plots = [
        ("CC½", "CC½", "cc_half"),
        ("I/σ(I)", "I/σ(I)", "i_over_sigma"),
        ("Completeness", "completeness (%)", "completeness_pct"),
        ("Rmeas", "Rmeas (fraction)", "r_meas"),
    ]
    .into_iter()
    .filter_map(|(title, axis, column)| {
        let points = series(column);
        (!points.is_empty()).then(|| Plot {
            svg: svg::against_resolution(title, axis, &points),
            caption: format!("{title} per resolution shell ({} shells)", points.len()),
        })
    })
    .collect();
    SetView {
        uuid: id,
        label: show(&set["label"]),
        space_group: show(&set["space_group"]),
        cell: cell_text(set),
        table,
        plots,
    }
}

/// A unit cell as `a b c α β γ` (Å, °) from the `cell_*` columns of a view row.
fn cell_text(row: &Value) -> String {
    [
        "cell_a_a",
        "cell_b_a",
        "cell_c_a",
        "cell_alpha_deg",
        "cell_beta_deg",
        "cell_gamma_deg",
    ]
    .iter()
    .map(|c| show(&row[*c]))
    .collect::<Vec<_>>()
    .join(" ")
}

type ProcessingRows = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

/// The page's rows: job, inputs, reflection sets, shells, SSX frame count.
async fn load(ctx: &SessionContext, uuid: &str) -> Result<ProcessingRows, String> {
    let p = mxpipe_queries::lookups::processing_page(ctx, uuid)
        .await
        .map_err(|e| crate::limits::public_error(&e, 0).1)?;
    Ok((
        json(&p.job)?,
        json(&p.inputs)?,
        json(&p.sets)?,
        json(&p.shells)?,
        json(&p.frames)?,
    ))
}
