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

/// A uuid in any case and form (as stored: lower case, hyphenated), or a usage error naming the flag.
fn uuid(flag: &str, u: String) -> AppResult<String> {
    uuid::Uuid::parse_str(u.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::Usage(format!("{flag} {u:?}: expected a uuid (e.g. 0b4a31c2-2f6d-4c53-8a3d-2f1d2b9e3c11); `mxpipe query` lists them")))
}

/// One processing job (or the job that produced a ReflectionSet) as a PDBx/mmCIF data block
/// for deposition (`mxpipe_export::mmcif`), read by keys: the cost of the job's neighbourhood,
/// not of the store.
pub async fn mmcif(
    store: &Store,
    processing: Option<String>,
    reflection_set: Option<String>,
) -> AppResult<String> {
    let processing = match (processing, reflection_set) {
        (Some(p), _) => uuid("--processing", p)?,
        (None, Some(r)) => {
            let r = uuid("--reflection-set", r)?;
            let message = store
                .export_message_with_uuids(&Selection::Experiment(r.clone()))
                .await
                .map_err(|_| AppError::Failed(format!("no ReflectionSet {r} in the store (`mxpipe query \"SELECT reflection_set_uuid FROM reflection_sets\"` lists them)")))?;
            let set = message["ReflectionSet"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, o)| o)
                .find(|o| o["uuid"] == r.as_str())
                .ok_or_else(|| AppError::Failed(format!("{r} is not a ReflectionSet")))?;
            let pointer = set["sourceRef"]["$ref"].as_str().unwrap_or("");
            message
                .pointer(pointer.trim_start_matches('#'))
                .and_then(|p| p["uuid"].as_str())
                .map(str::to_owned)
                .ok_or_else(|| {
                    AppError::Failed(format!(
                        "ReflectionSet {r} names no processing job that produced it"
                    ))
                })?
        }
        (None, None) => {
            return Err(AppError::usage(
                "choose what to export: --processing or --reflection-set",
            ));
        }
    };
    let message = store
        .export_message_with_uuids(&Selection::Processing(processing.clone()))
        .await
        .map_err(|e| match e {
            mxpipe_store::StoreError::Data(m) if m.starts_with("nothing stored matches") => AppError::Failed(format!("no processing job {processing} in the store (`mxpipe query \"SELECT processing_uuid, program_name FROM processing\"` lists them)")),
            e => AppError::failed(e),
        })?;
    mxpipe_export::mmcif::write(&message, &processing).map_err(AppError::failed)
}

/// What `export mxlims` takes: one of experiment, sample, shipment (uuids in any case and form)
/// or session (a visit label).
pub fn mxlims_selection(
    experiment: Option<String>,
    sample: Option<String>,
    shipment: Option<String>,
    session: Option<String>,
) -> AppResult<Selection> {
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
