//! Processing of a group: AutoProcProgram → MxProcessing (program, version, command line,
//! inputs from its AutoProcIntegrations), AutoProc + AutoProcScaling + AutoProcScalingStatistics
//! → ReflectionSets with overall and per-shell statistics, normalised by the rules (CC as a
//! coefficient, shells by type), downstream programs (dimple) started from their parent.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::batch::Batch;
use super::collection::{GroupMessage, mxpipe_uuid, printf_template, reference};
use super::read::{Row, int};
use super::rules::Tally;
use super::values::Values;
use super::{Settings, derived_uuid};

/// The name of mxpipe's own SSX run-summary program (an export artefact, not processing).
pub const SSX_SUMMARY: &str = "mxpipe SSX run summary";

/// `autoPROC 1.0.4 (see: …)` → (`autoPROC`, `1.0.4`); `xia2 3dii` → (`xia2 3dii`, none): the
/// version is the first word that starts with a digit and has a dot.
pub fn program_and_version(programs: &str) -> (String, Option<String>) {
    let words: Vec<&str> = programs.split_whitespace().collect();
    match words.iter().position(|w| {
        let w = w.trim_start_matches('v');
        w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.')
    }) {
        Some(i) if i > 0 => (words[..i].join(" "), Some(words[i].to_owned())),
        _ => (programs.trim().to_owned(), None),
    }
}

/// The release folder of fast_dp in a command path (`/dls_sw/apps/fast_dp/2395/…` → `2395`).
fn version_in_path(command: &str, program: &str) -> Option<String> {
    let marker = format!("/{program}/");
    let rest = &command[command.find(&marker)? + marker.len()..];
    let v = rest.split('/').next()?;
    (!v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.')).then(|| v.to_owned())
}

impl Batch {
    /// The rows of `rows` whose indexed key is `key`.
    fn rows<'a>(
        &self,
        rows: &'a [Row],
        index: &'a std::collections::HashMap<i64, Vec<usize>>,
        key: i64,
    ) -> impl Iterator<Item = &'a Row> {
        index
            .get(&key)
            .into_iter()
            .flatten()
            .map(move |i| &rows[*i])
    }

    /// The uuid of program `id`: `jobUuid` or the job's mxpipe comment, else derived.
    fn program_uuid(&self, row: &Row, id: i64, s: &Settings, t: &mut Tally) -> (String, bool) {
        if let Some(h) = row.get("jobUuid").filter(|h| h.len() == 32)
            && let Ok(u) = uuid::Uuid::parse_str(h)
        {
            t.applied("mxpipe-comments");
            return (u.to_string(), true);
        }
        let job = int(row, "processingJobId").and_then(|j| self.jobs.get(&j));
        if let Some(u) = mxpipe_uuid(
            job.and_then(|j| j.get("comments")).map(String::as_str),
            "processing",
        ) {
            t.applied("mxpipe-comments");
            return (u.to_owned(), true);
        }
        (derived_uuid(s, "AutoProcProgram", id), false)
    }

    /// Add the processing whose home is this group.
    pub(super) fn add_processing(&self, gm: &mut GroupMessage, s: &Settings, t: &mut Tally) {
        let mine: &[i64] = self
            .by
            .programs_of_group
            .get(&gm.group)
            .map_or(&[], Vec::as_slice);
        let keys: std::collections::HashMap<i64, String> = mine
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, format!("MxProcessing{}", i + 1)))
            .collect();
        let mut set_no = 0;
        for p in mine {
            let Some(row) = self.programs.get(p) else {
                continue;
            };
            let pv = Values::of(row, "AutoProcProgram", "autoProcProgramId");
            let programs = pv.text("processingPrograms", t).unwrap_or_default();
            let (uuid, from_mxpipe) = self.program_uuid(row, *p, s, t);
            if programs == SSX_SUMMARY {
                // mxpipe's export of an SSX run's counts: the id map only.
                let exp = &gm.experiment.1;
                gm.ids.push((
                    format!("AutoProcProgram:{exp}#ssx-summary"),
                    "AutoProcProgram",
                    *p,
                ));
                if let Some(j) = int(row, "processingJobId") {
                    gm.ids.push((
                        format!("ProcessingJob:{exp}#ssx-summary"),
                        "ProcessingJob",
                        j,
                    ));
                }
                self.attachment_ids(*p, gm);
                t.applied("mxpipe-comments");
                continue;
            }
            let (name, mut version) = program_and_version(&programs);
            t.applied("pipeline-from-programs");
            let command = pv.text("processingCommandLine", t);
            if version.is_none() {
                version = command.as_deref().and_then(|c| version_in_path(c, &name));
            }
            let mut job = json!({"mxlimsType": "MxProcessing", "uuid": uuid});
            if !name.is_empty() {
                job["programName"] = json!(name);
            }
            if let Some(v) = &version {
                job["programVersion"] = json!(v);
            }
            for (k, col) in [
                ("startTime", "processingStartTime"),
                ("endTime", "processingEndTime"),
            ] {
                if let Some(x) = pv.time(col, s.timezone, t) {
                    job[k] = json!(x);
                }
            }
            match pv.int("processingStatus", t) {
                Some(1) => job["jobStatus"] = json!("Completed"),
                Some(0) => job["jobStatus"] = json!("Failed"),
                _ => {}
            }
            if !gm.sample_refs.0.is_null() {
                job["sampleRef"] = gm.sample_refs.0.clone();
            }
            if !gm.sample_refs.1.is_null() {
                job["logisticalSampleRef"] = gm.sample_refs.1.clone();
            }
            if let Some(parent) = self.parent.get(p) {
                t.applied("downstream-parent");
                if let Some(k) = keys.get(parent) {
                    job["startedFromRef"] = reference("MxProcessing", k);
                }
            }
            let mut ext = json!({});
            if !gm.session.is_null() {
                ext["session"] = gm.session.clone();
            }
            if let Some(c) = &command {
                if c.chars().count() == 255 {
                    t.warn("truncated-text", format!("AutoProcProgram {p}: processingCommandLine is 255 characters, probably cut by the column"));
                }
                ext["commandLine"] = json!(c);
            }
            // Inputs.
            let integrations: Vec<&Row> = self
                .rows(&self.integrations, &self.by.integrations, *p)
                .collect();
            let mut refs: Vec<String> = Vec::new();
            let mut images = Vec::new();
            let mut integration_keys = Vec::new();
            // A sweep is an input as a whole only when the program read every wedge of it whole;
            // otherwise each integration is an image range (the exporter would otherwise write
            // integrations for wedges the program never read).
            let covers = |i: &Row, pl: &super::collection::Placed| {
                let (lo, hi) = (int(i, "startImageNumber"), int(i, "endImageNumber"));
                lo.is_none_or(|l| l <= pl.first) && hi.is_none_or(|h| h >= pl.last)
            };
            let mut whole: HashMap<&str, std::collections::HashSet<i64>> = HashMap::new();
            for i in &integrations {
                if let Some((dc, pl)) =
                    int(i, "dataCollectionId").and_then(|d| Some((d, gm.placed.get(&d)?)))
                    && covers(i, pl)
                {
                    whole.entry(pl.sweep_key.as_str()).or_default().insert(dc);
                }
            }
            let whole_sweeps: std::collections::HashSet<String> = whole
                .iter()
                .filter(|(k, dcs)| {
                    gm.placed.values().filter(|pl| pl.sweep_key == **k).count() == dcs.len()
                })
                .map(|(k, _)| (*k).to_owned())
                .collect();
            for i in &integrations {
                t.applied("integration-identity");
                let iv = Values::of(i, "AutoProcIntegration", "autoProcIntegrationId");
                let Some(dc_id) = int(i, "dataCollectionId") else {
                    continue;
                };
                let Some(dc) = self.dcs.get(&dc_id) else {
                    t.warn("dangling-keys", format!("AutoProcIntegration {}: dataCollectionId {dc_id} names no DataCollection", iv.key));
                    continue;
                };
                let (lo, hi) = (iv.int("startImageNumber", t), iv.int("endImageNumber", t));
                match gm.placed.get(&dc_id) {
                    Some(pl) if covers(i, pl) && whole_sweeps.contains(&pl.sweep_key) => {
                        if !refs.contains(&pl.sweep_key) {
                            refs.push(pl.sweep_key.clone());
                        }
                        let key = format!("{uuid}#{}#{}", pl.sweep_uuid, pl.ordinal);
                        gm.ids.push((
                            format!("AutoProcIntegration:{key}"),
                            "AutoProcIntegration",
                            iv.key,
                        ));
                        integration_keys.push((iv.key, key));
                    }
                    placed => {
                        let dv = Values::of(dc, "DataCollection", "dataCollectionId");
                        let first = lo.unwrap_or_else(|| {
                            dv.raw("startImageNumber")
                                .and_then(|x| x.parse().ok())
                                .unwrap_or(1)
                        });
                        let last = hi.unwrap_or(first);
                        images.push(json!({"path": dv.raw("imageDirectory").unwrap_or("").trim_end_matches('/'),
                            "filenameTemplate": printf_template(dv.raw("fileTemplate").unwrap_or("")),
                            "firstImageNumber": first, "lastImageNumber": last, "dataCollectionId": dc_id}));
                        if let Some(pl) = placed {
                            let key = format!("{uuid}#{}#{}", pl.sweep_uuid, pl.ordinal);
                            gm.ids.push((
                                format!("AutoProcIntegration:{key}"),
                                "AutoProcIntegration",
                                iv.key,
                            ));
                            integration_keys.push((iv.key, key));
                        }
                    }
                }
            }
            if !refs.is_empty() {
                job["inputDataRefs"] = json!(
                    refs.iter()
                        .map(|k| reference("CollectionSweep", k))
                        .collect::<Vec<_>>()
                );
            }
            if !images.is_empty() {
                ext["inputImages"] = json!(images);
            }
            ext["legacySource"] = json!({"catalogue": "ispyb", "instance": s.instance, "table": "AutoProcProgram", "keys": [p]});
            job["extensions"] = json!({"mxpipe.org": ext});
            gm.ids
                .push((format!("AutoProcProgram:{uuid}"), "AutoProcProgram", *p));
            if let Some(j) = int(row, "processingJobId") {
                gm.ids
                    .push((format!("ProcessingJob:{uuid}"), "ProcessingJob", j));
                for js in self.job_sweeps.get(&j).into_iter().flatten() {
                    if let (Some(id), Some(pl)) = (
                        int(js, "processingJobImageSweepId"),
                        int(js, "dataCollectionId").and_then(|d| gm.placed.get(&d)),
                    ) {
                        gm.ids.push((
                            format!(
                                "ProcessingJobImageSweep:{uuid}#{}#{}",
                                pl.sweep_uuid, pl.ordinal
                            ),
                            "ProcessingJobImageSweep",
                            id,
                        ));
                    }
                }
            }
            self.attachment_ids(*p, gm);
            let job_key = keys[p].clone();
            gm.value["MxProcessing"][&job_key] = job;
            // Reflection sets.
            let cc_percent = from_mxpipe || name.to_ascii_lowercase().contains("fast_dp");
            for a in self.rows(&self.autoprocs, &self.by.autoprocs, *p) {
                set_no += 1;
                if let Some(set) =
                    self.reflection_set(a, &job_key, cc_percent, &integration_keys, s, t, gm)
                {
                    gm.value["ReflectionSet"][format!("ReflectionSet{set_no}")] = set;
                }
            }
        }
    }

    /// Id-map entries of mxpipe's SSX attachments of program `p`.
    fn attachment_ids(&self, p: i64, gm: &mut GroupMessage) {
        for a in self.rows(&self.attachments, &self.by.attachments, p) {
            let name = a.get("fileName").map_or("", String::as_str);
            if let (Some(u), Some(id)) = (
                name.strip_prefix("mxpipe-ssx-")
                    .and_then(|n| n.strip_suffix(".json")),
                int(a, "autoProcProgramAttachmentId"),
            ) {
                gm.ids.push((
                    format!("AutoProcProgramAttachment:{u}"),
                    "AutoProcProgramAttachment",
                    id,
                ));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reflection_set(
        &self,
        a: &Row,
        job_key: &str,
        cc_percent: bool,
        integrations: &[(i64, String)],
        s: &Settings,
        t: &mut Tally,
        gm: &mut GroupMessage,
    ) -> Option<Value> {
        let av = Values::of(a, "AutoProc", "autoProcId");
        let set_uuid = derived_uuid(s, "AutoProc", av.key);
        let mut set = json!({"mxlimsType": "ReflectionSet", "uuid": set_uuid, "role": "Result", "sourceRef": reference("MxProcessing", job_key)});
        if let Some(sg) = av.text("spaceGroup", t) {
            match mxpipe_model::space_groups::pdb_space_group_name(&sg) {
                Some(name) => {
                    if name != sg {
                        t.applied("spacegroup-one-spelling");
                    }
                    set["spaceGroupName"] = json!(name);
                }
                None => t.keep_out(
                    "AutoProc",
                    av.key,
                    "spaceGroup",
                    &sg,
                    "not a space group name",
                ),
            }
        }
        let cell: Vec<Option<f64>> = [
            "refinedCell_a",
            "refinedCell_b",
            "refinedCell_c",
            "refinedCell_alpha",
            "refinedCell_beta",
            "refinedCell_gamma",
        ]
        .iter()
        .map(|c| av.positive(c, t))
        .collect();
        if cell.iter().all(Option::is_some) {
            let c: Vec<f64> = cell.into_iter().flatten().collect();
            set["refinedUnitCell"] = json!({"a": c[0], "b": c[1], "c": c[2], "alpha": c[3], "beta": c[4], "gamma": c[5]});
        }
        gm.ids
            .push((format!("AutoProc:{set_uuid}"), "AutoProc", av.key));
        let scaling = self.rows(&self.scalings, &self.by.scalings, av.key).next();
        if let Some(sc) = scaling {
            let sid = int(sc, "autoProcScalingId").unwrap_or(0);
            gm.ids.push((
                format!("AutoProcScaling:{set_uuid}"),
                "AutoProcScaling",
                sid,
            ));
            for h in self.rows(&self.has_int, &self.by.has_int, sid) {
                if let (Some(hid), Some((_, key))) = (
                    int(h, "autoProcScaling_has_IntId"),
                    int(h, "autoProcIntegrationId")
                        .and_then(|i| integrations.iter().find(|(k, _)| *k == i)),
                ) {
                    gm.ids.push((
                        format!("AutoProcScaling_has_Int:{set_uuid}#{key}"),
                        "AutoProcScaling_has_Int",
                        hid,
                    ));
                }
            }
            let rows: Vec<&Row> = self.rows(&self.stats, &self.by.stats, sid).collect();
            let big_cc = rows.iter().any(|r| {
                ["ccHalf", "ccAnomalous"].iter().any(|c| {
                    r.get(*c)
                        .and_then(|v| v.parse::<f64>().ok())
                        .is_some_and(|x| x.abs() > 1.0)
                })
            });
            let percent = cc_percent || big_cc;
            let mut shells = Vec::new();
            for r in rows {
                let v = Values::of(
                    r,
                    "AutoProcScalingStatistics",
                    "autoProcScalingStatisticsId",
                );
                let Some(kind) = v.text("scalingStatisticsType", t) else {
                    continue;
                };
                t.applied("shell-by-type");
                if r.get("anomalous").is_some_and(|a| a == "0")
                    && r.contains_key("anomalousCompleteness")
                {
                    t.applied("anomalous-flag-ignored");
                }
                let Some(stats) = statistics(&v, percent, t) else {
                    continue;
                };
                gm.ids.push((
                    format!("AutoProcScalingStatistics:{set_uuid}#{kind}"),
                    "AutoProcScalingStatistics",
                    v.key,
                ));
                match kind.as_str() {
                    "overall" => set["reflectionStatisticsOverall"] = stats,
                    "innerShell" | "outerShell" => shells.push(stats),
                    other => t.keep_out(
                        "AutoProcScalingStatistics",
                        v.key,
                        "scalingStatisticsType",
                        other,
                        "not overall, innerShell or outerShell",
                    ),
                }
            }
            shells.sort_by(|x, y| {
                y["resolutionLimits"][0]
                    .as_f64()
                    .unwrap_or(0.0)
                    .total_cmp(&x["resolutionLimits"][0].as_f64().unwrap_or(0.0))
            });
            if !shells.is_empty() {
                set["reflectionStatisticsShells"] = json!(shells);
            }
        }
        set["extensions"] = json!({"mxpipe.org": {"legacySource": {"catalogue": "ispyb", "instance": s.instance, "table": "AutoProc", "keys": [av.key]}}});
        Some(set)
    }
}

/// One statistics row → MXLIMS ReflectionStatistics (None without resolution limits).
fn statistics(v: &Values, cc_percent: bool, t: &mut Tally) -> Option<Value> {
    let (Some(low), Some(high)) = (
        v.positive("resolutionLimitLow", t),
        v.positive("resolutionLimitHigh", t),
    ) else {
        t.keep_out(
            "AutoProcScalingStatistics",
            v.key,
            "resolutionLimitLow",
            v.raw("resolutionLimitLow").unwrap_or("NULL"),
            "a statistics row without both resolution limits",
        );
        return None;
    };
    let mut out = json!({"resolutionLimits": [low, high]});
    for (k, col) in [
        ("numberObservations", "nTotalObservations"),
        ("numberObservationsUnique", "nTotalUniqueObservations"),
    ] {
        if let Some(x) = v.int(col, t) {
            out[k] = json!(x);
        }
    }
    let mut r_seen = false;
    for (k, col) in [
        ("R_merge", "rMerge"),
        ("R_meas", "rMeasAllIPlusIMinus"),
        ("R_pim", "rPimAllIPlusIMinus"),
        ("I_over_SigI", "meanIOverSigI"),
        ("Completeness", "completeness"),
        ("Redundancy", "multiplicity"),
        ("CompletenessAno", "anomalousCompleteness"),
        ("RedundancyAno", "anomalousMultiplicity"),
    ] {
        if let Some(x) = v.num(col, t) {
            r_seen |= k.starts_with("R_");
            out[k] = json!(x);
        }
    }
    if r_seen {
        t.applied("r-factors-fraction");
    }
    for (k, col) in [("CC_one_half", "ccHalf"), ("CC_ano", "ccAnomalous")] {
        if let Some(x) = v.num(col, t) {
            let c = if cc_percent {
                t.applied("cc-percent-by-program");
                super::sweeps::round(x / 100.0, 6)
            } else {
                x
            };
            if (-1.0..=1.0).contains(&c) {
                out[k] = json!(c);
            } else {
                t.keep_out(
                    "AutoProcScalingStatistics",
                    v.key,
                    if k == "CC_ano" {
                        "ccAnomalous"
                    } else {
                        "ccHalf"
                    },
                    &x.to_string(),
                    "a correlation coefficient outside −1…1 after the program's convention",
                );
            }
        }
    }
    Some(out)
}
