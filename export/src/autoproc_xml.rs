//! Writer of the ISPyB `AutoProcContainer` XML for one processing result (one MxProcessing with
//! its ReflectionSets and input wedges): the file `ispyb-api`'s `mxdatareduction2ispyb.py` loads
//! without code. Each integration carries its `<dataCollectionId>` when the wedge has been exported
//! to ISPyB (from the store's id map), so multi-sweep results attach to the right collections.

use std::collections::HashMap;

use crate::xml::Xml;
use serde_json::Value;

use crate::ExportError;
use crate::ispyb::{map, rows};
use crate::records::Records;

/// autoPROC + STARANISO's completeness elements and the MXLIMS ReflectionStatistics fields
/// they carry (the reader maps them the other way).
const STARANISO_COMPLETENESS: [(&str, &str); 4] = [
    ("completenessSpherical", "CompletenessSpherical"),
    ("completenessEllipsoidal", "CompletenessEllipsoidal"),
    ("anomalousCompletenessSpherical", "CompletenessAnoSpherical"),
    (
        "anomalousCompletenessEllipsoidal",
        "CompletenessAnoEllipsoidal",
    ),
];

fn number(v: &Value) -> Option<String> {
    v.as_f64().map(|f| {
        if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{f:.1}")
        } else {
            f.to_string()
        }
    })
}

/// The AutoProcContainer XML of processing `uuid`. `dc_ids` maps `DataCollection:<sweep>#<ordinal>`
/// keys to ISPyB dataCollectionIds (the id map; empty when not exported); `timezone` is the
/// facility's, for the naive times ISPyB uses; `self_name` (file name, folder) is where the XML
/// goes, named as the attachment when the ReflectionSets name no result file.
pub fn write(
    records: &Records,
    uuid: &str,
    dc_ids: &HashMap<String, i64>,
    timezone: chrono_tz::Tz,
    self_name: (&str, &str),
) -> Result<String, ExportError> {
    let job = records.json(uuid);
    if records
        .objects
        .get(uuid)
        .is_none_or(|o| o.mxlims_type != "MxProcessing")
    {
        return Err(ExportError::Selection(format!(
            "no stored MxProcessing with uuid {uuid}"
        )));
    }
    let local = |v: &Value| {
        v.as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                t.with_timezone(&timezone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
    };
    let mut x = Xml::new();
    x.open("AutoProcContainer");
    x.open("AutoProcProgramContainer");
    x.open("AutoProcProgram");
    x.leaf(
        "processingCommandLine",
        job["extensions"]["mxpipe.org"]["commandLine"]
            .as_str()
            .map(str::to_owned),
    );
    let program = job["programName"].as_str().unwrap_or("unknown");
    let version = job["programVersion"]
        .as_str()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    x.leaf("processingPrograms", Some(format!("{program}{version}")));
    x.leaf(
        "processingStatus",
        Some(
            if job["jobStatus"] == "Completed" {
                "1"
            } else {
                "0"
            }
            .into(),
        ),
    );
    x.leaf("processingStartTime", local(&job["startTime"]));
    x.leaf("processingEndTime", local(&job["endTime"]));
    x.close("AutoProcProgram");
    let mut sets = records.linking_to("ReflectionSet", "sourceRef", uuid);
    // In the order the program wrote them (its message keys: autoPROC's isotropic container,
    // then the STARANISO one), not by uuid.
    sets.sort_by_key(|s| {
        let key = records.objects.get(*s).map_or("", |o| o.key.as_str());
        let n: u64 = key
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(u64::MAX);
        (n, *s)
    });
    if sets.is_empty() {
        return Err(ExportError::Selection(format!(
            "processing {uuid} has no ReflectionSet to write"
        )));
    }
    // Attachments: the result files the ReflectionSets name, else this XML itself (ispyb-api's
    // loader needs at least one).
    let mut files: Vec<(String, String)> = sets
        .iter()
        .filter_map(|s| {
            let set = records.json(s);
            Some((
                set["filename"].as_str()?.to_owned(),
                set["path"].as_str().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    if files.is_empty() {
        files.push((self_name.0.to_owned(), self_name.1.to_owned()));
    }
    for (name, path) in files {
        x.open("AutoProcProgramAttachment");
        x.leaf("fileType", Some("Result".into()));
        x.leaf("fileName", Some(name));
        x.leaf("filePath", Some(path));
        x.close("AutoProcProgramAttachment");
    }
    x.close("AutoProcProgramContainer");
    for set_uuid in sets {
        let set = records.json(set_uuid);
        x.open("AutoProc");
        x.leaf(
            "spaceGroup",
            set["spaceGroupName"].as_str().map(str::to_owned),
        );
        for k in ["a", "b", "c", "alpha", "beta", "gamma"] {
            x.leaf(
                &format!("refinedCell_{k}"),
                number(&set["refinedUnitCell"][k]),
            );
        }
        x.close("AutoProc");
        x.open("AutoProcScalingContainer");
        x.open("AutoProcScaling");
        x.leaf(
            "recordTimeStamp",
            local(&job["endTime"])
                .or_else(|| Some(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string())),
        );
        let tensor = &set["diffractionLimitsEstimated"];
        if tensor.is_object() {
            x.open("StaranisoEllipsoid");
            for row in 0..3 {
                for col in 0..3 {
                    x.leaf(
                        &format!("RotationMatrix{}{}", row + 1, col + 1),
                        number(&tensor["eigenvectors"][col][row]),
                    );
                }
            }
            for i in 0..3 {
                x.leaf(
                    &format!("Eigenvalue{}", i + 1),
                    number(&tensor["eigenvalues"][i]),
                );
            }
            x.close("StaranisoEllipsoid");
        }
        x.close("AutoProcScaling");
        for (shell, stats) in rows::ispyb_shells(set) {
            let Some(stats) = stats else { continue };
            x.open("AutoProcScalingStatistics");
            x.leaf("scalingStatisticsType", Some(shell.into()));
            // The same column map as the database export, so both carry the same values.
            for c in map::table("AutoProcScalingStatistics").columns {
                let Some(path) = c.source.strip_prefix("stats/") else {
                    continue;
                };
                let v = stats.pointer(&format!("/{path}")).unwrap_or(&Value::Null);
                let v = match c.conv {
                    map::Conv::CoefficientToPercent => v
                        .as_f64()
                        .map(|f| Value::from(f * 100.0))
                        .unwrap_or(Value::Null),
                    _ => v.clone(),
                };
                x.leaf(c.column, number(&v));
            }
            // STARANISO's completeness, which ISPyB's schema has no column for.
            for (element, field) in STARANISO_COMPLETENESS {
                if let Some(v) = number(&stats[field]) {
                    x.leaf(element, Some(v));
                }
            }
            x.close("AutoProcScalingStatistics");
        }
        for w in rows::input_wedges(records, uuid) {
            let sweep = records.json(&w.sweep_uuid);
            x.open("AutoProcIntegrationContainer");
            x.open("Image");
            let template = sweep["filenameTemplate"].as_str().unwrap_or_default();
            x.leaf("fileName", Some(rows::image_file(template, w.first)));
            x.leaf("fileLocation", sweep["path"].as_str().map(str::to_owned));
            x.close("Image");
            x.open("AutoProcIntegration");
            let id = dc_ids.get(&w.data_collection_key());
            x.leaf("dataCollectionId", id.map(|i| i.to_string()));
            x.leaf("startImageNumber", Some(w.first.to_string()));
            x.leaf("endImageNumber", Some(w.last.to_string()));
            for k in ["a", "b", "c", "alpha", "beta", "gamma"] {
                x.leaf(&format!("cell_{k}"), number(&set["refinedUnitCell"][k]));
            }
            x.close("AutoProcIntegration");
            x.close("AutoProcIntegrationContainer");
        }
        x.close("AutoProcScalingContainer");
    }
    x.close("AutoProcContainer");
    let mut out = String::from_utf8(x.0.into_inner()).expect("UTF-8");
    out.push('\n');
    Ok(out)
}
