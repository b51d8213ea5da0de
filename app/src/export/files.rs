//! Exports that are files: AutoProcContainer XML (one processing) and MXLIMS JSON (a selection).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mxpipe_export::Records;
use mxpipe_export::ispyb::rows::Settings;
use mxpipe_model::validate::{Options, parse_message};
use mxpipe_store::{Selection, Store};

use crate::context::Context;
use crate::error::{AppError, AppResult};

/// `[ispyb]` settings: the facility's zone for naive times, the pixel size, attachments.
pub(crate) fn ispyb_settings(ctx: &Context) -> AppResult<Settings> {
    let c = &ctx.config.ispyb;
    let timezone = c
        .timezone
        .as_deref()
        .or(ctx.config.timezone.as_deref())
        .unwrap_or("UTC");
    Ok(Settings {
        timezone: timezone.parse().map_err(|_| {
            AppError::Usage(format!(
                "timezone: {timezone:?} is not an IANA time zone such as Europe/London"
            ))
        })?,
        pixel_size_mm: c.pixel_size_mm,
        attachment_dir: c
            .attachment_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("ispyb-attachments")),
    })
}

/// One processing as an AutoProcContainer XML document, named for `out` (`ispyb.xml` by default;
/// the name and folder are written in the document); with an ISPyB database (`db`, else
/// `[ispyb] url`) the DataCollection ids it was exported under.
pub async fn autoproc_xml(
    ctx: &Context,
    store: &Store,
    processing: &str,
    db: Option<String>,
    out: Option<&Path>,
) -> AppResult<String> {
    let settings = ispyb_settings(ctx)?;
    let records = Records::load(store).await.map_err(AppError::failed)?;
    let mut dc_ids = HashMap::new();
    if let Some(url) = db.or(ctx.config.ispyb.url.clone()) {
        let instance = mxpipe_export::ispyb::instance_of(&url).map_err(AppError::usage)?;
        let ids = store
            .catalogue_ids("ispyb", &instance)
            .await
            .map_err(AppError::failed)?;
        dc_ids.extend(
            ids.into_iter()
                .filter(|(k, _)| k.starts_with("DataCollection:"))
                .map(|(k, v)| (k, v.id)),
        );
    }
    let out = out.map_or_else(|| PathBuf::from("ispyb.xml"), Path::to_owned);
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let folder = std::path::absolute(&out)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().into_owned()))
        .unwrap_or_default();
    mxpipe_export::autoproc_xml::write(
        &records,
        processing,
        &dc_ids,
        settings.timezone,
        (&name, &folder),
    )
    .map_err(AppError::failed)
}

/// What `export mxlims` takes: one of experiment, sample, shipment (uuids in any case and form)
/// or session (a visit label).
pub fn mxlims_selection(
    experiment: Option<String>,
    sample: Option<String>,
    shipment: Option<String>,
    session: Option<String>,
) -> AppResult<Selection> {
    // A uuid in any case and form (as stored: lower case, hyphenated), or a usage error.
    let uuid = |flag: &str, u: String| {
        uuid::Uuid::parse_str(u.trim())
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| AppError::Usage(format!("{flag} {u:?}: expected a uuid (e.g. 0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11); `mxpipe query` lists them")))
    };
    match (experiment, sample, shipment, session) {
        (Some(u), _, _, _) => uuid("--experiment", u).map(Selection::Experiment),
        (_, Some(u), _, _) => uuid("--sample", u).map(Selection::Sample),
        (_, _, Some(u), _) => uuid("--shipment", u).map(Selection::Shipment),
        (_, _, _, Some(v)) => Ok(Selection::Session(v)),
        _ => Err(AppError::usage(
            "choose what to export: --experiment, --sample, --shipment or --session",
        )),
    }
}

/// The selection as one MXLIMS message (pretty JSON text), validated before it is returned.
pub async fn mxlims(store: &Store, selection: &Selection) -> AppResult<String> {
    let message = store
        .export_message(selection)
        .await
        .map_err(AppError::failed)?;
    if let Err(report) = parse_message(&message, &Options::default()) {
        let mut text =
            String::from("the exported message does not validate (a bug; please report it):");
        for f in report.errors() {
            text.push_str(&format!(
                "\n  [{}] {}: expected {}; found {}",
                f.rule, f.pointer, f.expected, f.found
            ));
        }
        return Err(AppError::Failed(text));
    }
    Ok(serde_json::to_string_pretty(&message).expect("JSON") + "\n")
}
