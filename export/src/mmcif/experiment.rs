//! A processing job's neighbourhood as PDBx categories: which sweeps (diffraction data sets),
//! crystals and wavelengths it stands on, and the rows of each category.

use mxpipe_model::pdbx::{DETECTOR_CLASSES, STATISTICS_ITEMS, diffrn_source};
use mxpipe_model::units::wavelength_a_from_ev;
use serde_json::Value;

mod serial;

use super::Objects;
use super::text::{Category, CifValue};
use crate::ExportError;

/// Two wavelengths closer than this (Å) are one (a sweep's energy against a set's wavelength).
const SAME_WAVELENGTH_A: f64 = 2e-4;

/// One diffraction data set (`diffrn`): a sweep the job read, or — when the store holds none of
/// its sweeps — one per wavelength its results name.
struct Diffrn<'a> {
    sweep: Option<&'a Value>,
    experiment: Option<&'a Value>,
    /// The images the job reports reading, when none of its sweeps is stored.
    images: Option<String>,
    crystal: usize,
    wavelength: Option<usize>,
}

/// The job, its results and what they stand on.
pub(crate) struct Neighbourhood<'a> {
    objects: Objects<'a>,
    job: &'a Value,
    /// The job's ReflectionSets (by first wavelength, then uuid).
    pub sets: Vec<&'a Value>,
    diffrn: Vec<Diffrn<'a>>,
    /// Crystal descriptions (`exptl_crystal`).
    crystals: Vec<String>,
    wavelengths: Vec<f64>,
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v[key].as_str().filter(|s| !s.is_empty())
}

fn ext<'v>(v: &'v Value, key: &str) -> &'v Value {
    &v["extensions"]["mxpipe.org"][key]
}

impl<'a> Neighbourhood<'a> {
    pub(crate) fn new(
        message: &'a Value,
        processing: &str,
    ) -> Result<Neighbourhood<'a>, ExportError> {
        let objects = Objects::new(message);
        let job = objects
            .get(processing)
            .filter(|o| o["mxlimsType"] == "MxProcessing")
            .ok_or_else(|| ExportError::Selection(format!("no processing job {processing} in the store (`mxpipe query \"SELECT processing_uuid, program_name FROM processing\"` lists them)")))?;
        let mut sets: Vec<&Value> = objects
            .of_type("ReflectionSet")
            .into_iter()
            .filter(|s| {
                objects
                    .follow(&s["sourceRef"])
                    .is_some_and(|j| j["uuid"] == processing)
            })
            .collect();
        let first_wavelength = |s: &Value| s["wavelengths"][0].as_f64().unwrap_or(f64::INFINITY);
        // Sets with shells first (the reader gives shells to the sets in order), then by wavelength.
        let shell_less = |s: &Value| {
            s["reflectionStatisticsShells"]
                .as_array()
                .is_none_or(Vec::is_empty)
        };
        sets.sort_by(|a, b| {
            shell_less(a)
                .cmp(&shell_less(b))
                .then(first_wavelength(a).total_cmp(&first_wavelength(b)))
        });
        let mut wavelengths: Vec<f64> = Vec::new();
        let add = |w: f64, list: &mut Vec<f64>| match list
            .iter()
            .position(|x| (x - w).abs() < SAME_WAVELENGTH_A)
        {
            Some(i) => i,
            None => {
                list.push(w);
                list.len() - 1
            }
        };
        for s in &sets {
            for w in s["wavelengths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
            {
                add(w, &mut wavelengths);
            }
        }
        // The sweeps the job names; else (inputs reported as images) every sweep read with it.
        let named: Vec<&Value> = job["inputDataRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| objects.follow(r))
            .collect();
        let candidates = if named.is_empty() {
            objects.of_type("CollectionSweep")
        } else {
            named
        };
        let mut sweeps: Vec<(&Value, Option<&Value>)> = candidates
            .into_iter()
            .map(|s| (s, objects.follow(&s["sourceRef"])))
            .collect();
        let start = |s: &Value, e: Option<&Value>| {
            text(s, "startTime")
                .or(e.and_then(|e| text(e, "startTime")))
                .unwrap_or("")
                .to_owned()
        };
        sweeps.sort_by_key(|(s, e)| (start(s, *e), s["uuid"].as_str().unwrap_or("").to_owned()));
        let mut crystal_keys: Vec<String> = Vec::new();
        let mut crystals: Vec<String> = Vec::new();
        let mut crystal_of = |logistical: Option<&Value>, sample: Option<&Value>| {
            let key = logistical
                .or(sample)
                .and_then(|o| o["uuid"].as_str())
                .unwrap_or("")
                .to_owned();
            if let Some(i) = crystal_keys.iter().position(|k| *k == key) {
                return i;
            }
            let name = logistical.and_then(|o| text(o, "name"));
            let sample_name = sample.and_then(|o| text(o, "name"));
            crystals.push(match (name, sample_name) {
                (Some(c), Some(s)) => format!("crystal {c} of sample {s}"),
                (Some(c), None) => format!("crystal {c}"),
                (None, Some(s)) => format!("sample {s}"),
                (None, None) => String::new(),
            });
            crystal_keys.push(key);
            crystals.len() - 1
        };
        let mut diffrn = Vec::new();
        for (sweep, experiment) in sweeps {
            let follow = |field: &str| {
                objects
                    .follow(&sweep[field])
                    .or(experiment.and_then(|e| objects.follow(&e[field])))
            };
            let crystal = crystal_of(
                follow("logisticalSampleRef"),
                follow("sampleRef").or(objects.follow(&job["sampleRef"])),
            );
            let wavelength = sweep["energy"].as_f64().filter(|e| *e > 0.0).map(|e| {
                add(
                    (wavelength_a_from_ev(e) * 1e5).round() / 1e5,
                    &mut wavelengths,
                )
            });
            diffrn.push(Diffrn {
                sweep: Some(sweep),
                experiment,
                images: None,
                crystal,
                wavelength,
            });
        }
        if diffrn.is_empty() {
            let crystal = crystal_of(
                objects.follow(&job["logisticalSampleRef"]),
                objects.follow(&job["sampleRef"]),
            );
            // No sweep stored: the image ranges the job reports, else one per wavelength.
            let images: Vec<String> = ext(job, "inputImages")
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    Some(format!(
                        "images {}-{} of {}/{}",
                        i["firstImageNumber"].as_i64()?,
                        i["lastImageNumber"].as_i64()?,
                        i["path"].as_str()?,
                        i["filenameTemplate"].as_str()?
                    ))
                })
                .collect();
            let one_wavelength = (wavelengths.len() == 1).then_some(0);
            for t in &images {
                diffrn.push(Diffrn {
                    sweep: None,
                    experiment: None,
                    images: Some(t.clone()),
                    crystal,
                    wavelength: one_wavelength,
                });
            }
            if images.is_empty() {
                for i in 0..wavelengths.len().max(1) {
                    diffrn.push(Diffrn {
                        sweep: None,
                        experiment: None,
                        images: None,
                        crystal,
                        wavelength: (i < wavelengths.len()).then_some(i),
                    });
                }
            }
        }
        Ok(Neighbourhood {
            objects,
            job,
            sets,
            diffrn,
            crystals,
            wavelengths,
        })
    }

    pub(crate) fn exptl_crystal(&self) -> Category {
        let mut c = Category::new("exptl_crystal");
        for (i, d) in self.crystals.iter().enumerate() {
            c.row([
                ("id".to_owned(), CifValue::from((i + 1) as i64)),
                (
                    "description".to_owned(),
                    CifValue::from((!d.is_empty()).then(|| d.clone())),
                ),
            ]);
        }
        c
    }

    /// `diffrn`, `diffrn_radiation`, `diffrn_radiation_wavelength`, `diffrn_source`, `diffrn_detector`.
    pub(crate) fn diffrn(&self) -> Vec<Category> {
        let serial = if self.serial() { "Y" } else { "N" };
        let ssx = self.ssx_run();
        let protocol = if self.wavelengths.len() > 1 && self.sets.len() > 1 {
            "MAD"
        } else {
            "SINGLE WAVELENGTH"
        };
        let mut diffrn = Category::new("diffrn");
        let mut radiation = Category::new("diffrn_radiation");
        let mut source = Category::new("diffrn_source");
        let mut detector = Category::new("diffrn_detector");
        for (i, d) in self.diffrn.iter().enumerate() {
            let id = CifValue::from((i + 1) as i64);
            let details = d
                .sweep
                .map(|s| {
                    let mut t = format!("{} images", s["numberImages"].as_i64().unwrap_or(0));
                    if let Some(w) = s["imageWidth"].as_f64() {
                        t.push_str(&format!(
                            " of {w} deg about {}",
                            text(s, "scanAxis").unwrap_or("the scan axis")
                        ));
                    }
                    if let (Some(p), Some(f)) = (text(s, "path"), text(s, "filenameTemplate")) {
                        t.push_str(&format!(", {p}/{f}"));
                    }
                    t
                })
                .or(d.images.clone());
            diffrn.row([
                ("id".to_owned(), id.clone()),
                (
                    "crystal_id".to_owned(),
                    CifValue::from((d.crystal + 1) as i64),
                ),
                ("ambient_temp".to_owned(), CifValue::Unknown),
                ("pdbx_serial_crystal_experiment".to_owned(), serial.into()),
                ("details".to_owned(), details.into()),
            ]);
            radiation.row([
                ("diffrn_id".to_owned(), id.clone()),
                (
                    "wavelength_id".to_owned(),
                    CifValue::from(d.wavelength.map(|w| (w + 1) as i64)),
                ),
                ("pdbx_monochromatic_or_laue_m_l".to_owned(), "M".into()),
                ("pdbx_diffrn_protocol".to_owned(), protocol.into()),
                ("pdbx_scattering_type".to_owned(), "x-ray".into()),
            ]);
            let (facility, beamline) = self.site(d);
            let named = facility
                .as_deref()
                .zip(beamline.as_deref())
                .map(|(f, b)| diffrn_source(f, b));
            let list = d.wavelength.map(|w| self.wavelengths[w].to_string());
            source.row([
                ("diffrn_id".to_owned(), id.clone()),
                (
                    "source".to_owned(),
                    CifValue::from(named.as_ref().map(|n| n.2)),
                ),
                (
                    "type".to_owned(),
                    CifValue::from(named.as_ref().map(|n| n.0.clone())),
                ),
                (
                    "pdbx_synchrotron_site".to_owned(),
                    CifValue::from(named.as_ref().map(|n| n.1.clone())),
                ),
                (
                    "pdbx_synchrotron_beamline".to_owned(),
                    beamline.clone().into(),
                ),
                ("pdbx_wavelength_list".to_owned(), list.into()),
            ]);
            let kind = d.sweep.and_then(|s| text(s, "detectorType"));
            let class = kind.filter(|k| DETECTOR_CLASSES.iter().any(|c| c.eq_ignore_ascii_case(k)));
            let make = kind.filter(|_| class.is_none());
            let date = d
                .sweep
                .and_then(|s| text(s, "startTime"))
                .or(d.experiment.and_then(|e| text(e, "startTime")))
                .map(|t| t.chars().take(10).collect::<String>());
            let mut row = vec![
                ("diffrn_id".to_owned(), id.clone()),
                ("detector".to_owned(), CifValue::from(class)),
                ("type".to_owned(), CifValue::from(make)),
                ("pdbx_collection_date".to_owned(), date.into()),
            ];
            if let Some(rate) = ssx.as_ref().and_then(|r| r.frame_rate_hz) {
                row.push(("pdbx_frequency".to_owned(), rate.into()));
            }
            detector.row(row);
        }
        let mut waves = Category::new("diffrn_radiation_wavelength");
        for (i, w) in self.wavelengths.iter().enumerate() {
            waves.row([
                ("id".to_owned(), CifValue::from((i + 1) as i64)),
                ("wavelength".to_owned(), (*w).into()),
                ("wt".to_owned(), 1.0.into()),
            ]);
        }
        vec![diffrn, radiation, waves, source, detector]
    }

    /// Facility and beamline of a data set: its experiment's session or instrument, else the job's.
    fn site(&self, d: &Diffrn) -> (Option<String>, Option<String>) {
        let from = |o: &Value| {
            for key in ["session", "instrument"] {
                let e = ext(o, key);
                if let (Some(f), Some(b)) = (text(e, "facility"), text(e, "beamline")) {
                    return Some((f.to_owned(), b.to_owned()));
                }
            }
            None
        };
        d.experiment
            .and_then(from)
            .or_else(|| from(self.job))
            .map_or((None, None), |(f, b)| (Some(f), Some(b)))
    }

    /// The `diffrn` ids a ReflectionSet merges: those at its wavelengths (every one when it names none).
    fn diffrn_ids_of(&self, set: &Value) -> String {
        let mine: Vec<usize> = set["wavelengths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .filter_map(|w| {
                self.wavelengths
                    .iter()
                    .position(|x| (x - w).abs() < SAME_WAVELENGTH_A)
            })
            .collect();
        let ids: Vec<String> = self
            .diffrn
            .iter()
            .enumerate()
            .filter(|(_, d)| mine.is_empty() || d.wavelength.is_some_and(|w| mine.contains(&w)))
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if ids.is_empty() {
            (1..=self.diffrn.len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        } else {
            ids.join(",")
        }
    }

    /// `reflns` (one row per ReflectionSet) and `reflns_shell` (every shell of each).
    pub(crate) fn reflns(&self, entry: &str) -> (Category, Category) {
        let mut reflns = Category::new("reflns");
        let mut shells = Category::new("reflns_shell");
        let mut ordinal = 0;
        for (k, set) in self.sets.iter().enumerate() {
            let ids = self.diffrn_ids_of(set);
            let overall = &set["reflectionStatisticsOverall"];
            let limits = &overall["resolutionLimits"];
            let mut row: Vec<(String, CifValue)> = vec![
                ("entry_id".into(), entry.into()),
                ("pdbx_ordinal".into(), ((k + 1) as i64).into()),
                ("pdbx_diffrn_id".into(), ids.as_str().into()),
                ("d_resolution_low".into(), limits[0].as_f64().into()),
                (
                    "d_resolution_high".into(),
                    limits[1]
                        .as_f64()
                        .or(set["operationalResolution"].as_f64())
                        .into(),
                ),
            ];
            row.extend(statistics(overall, true));
            for (item, key) in [
                ("pdbx_number_measured_all", "numberReflections"),
                ("number_obs", "numberReflectionsUnique"),
            ] {
                if !row.iter().any(|(i, _)| i == item)
                    && let Some(n) = set[key].as_i64()
                {
                    row.push((item.into(), n.into()));
                }
            }
            if let Some(b) = set["isoBWilsonEstimate"].as_f64() {
                row.push(("B_iso_Wilson_estimate".into(), b.into()));
            }
            // Ellipsoids as PDBx writes them: three values, three axes of three components.
            for (value, axis, tensor) in [
                (
                    "pdbx_aniso_diffraction_limit",
                    "pdbx_aniso_diffraction_limit_axis",
                    &set["diffractionLimitsEstimated"],
                ),
                (
                    "pdbx_aniso_B_tensor_eigenvalue",
                    "pdbx_aniso_B_tensor_eigenvector",
                    &set["anisoBtensor"],
                ),
            ] {
                let (Some(values), Some(vectors)) = (
                    tensor["eigenvalues"].as_array(),
                    tensor["eigenvectors"].as_array(),
                ) else {
                    continue;
                };
                for (i, (v, vector)) in values.iter().zip(vectors).enumerate() {
                    row.push((format!("{value}_{}", i + 1), v.as_f64().into()));
                    for (c, x) in vector.as_array().into_iter().flatten().enumerate() {
                        row.push((
                            format!("{axis}_{}_ortho[{}]", i + 1, c + 1),
                            x.as_f64().into(),
                        ));
                    }
                }
            }
            reflns.row(row);
            // Low to high resolution (the reader starts a set's shells at a new low-to-high run).
            let mut list: Vec<&Value> = set["reflectionStatisticsShells"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let high = |s: &Value| s["resolutionLimits"][1].as_f64().unwrap_or(0.0);
            list.sort_by(|a, b| high(b).total_cmp(&high(a)));
            for shell in list {
                ordinal += 1;
                let limits = &shell["resolutionLimits"];
                let mut row: Vec<(String, CifValue)> = vec![
                    ("pdbx_ordinal".into(), (ordinal as i64).into()),
                    ("pdbx_diffrn_id".into(), ids.as_str().into()),
                    ("d_res_low".into(), limits[0].as_f64().into()),
                    ("d_res_high".into(), limits[1].as_f64().into()),
                ];
                row.extend(statistics(shell, false));
                shells.row(row);
            }
        }
        (reflns, shells)
    }

    /// The job and the jobs it started from, each with its version and role.
    pub(crate) fn software(&self) -> Category {
        let mut c = Category::new("software");
        let mut job = Some(self.job);
        let mut seen = Vec::new();
        while let Some(j) = job {
            if seen.contains(&j["uuid"]) {
                break;
            }
            seen.push(j["uuid"].clone());
            // Scaling: a job with merging statistics (an MTZ file read alone has none).
            let scaled = self.sets.iter().any(|s| {
                s["reflectionStatisticsOverall"]
                    .as_object()
                    .is_some_and(|o| o.keys().any(|k| k != "resolutionLimits"))
            });
            let role = if seen.len() == 1 && scaled {
                "data scaling"
            } else {
                "data reduction"
            };
            if let Some(name) = text(j, "programName") {
                let ordinal = c.rows.len() as i64 + 1;
                c.row([
                    ("pdbx_ordinal".to_owned(), CifValue::from(ordinal)),
                    ("name".to_owned(), name.into()),
                    ("version".to_owned(), text(j, "programVersion").into()),
                    ("classification".to_owned(), role.into()),
                ]);
            }
            job = self.objects.follow(&j["startedFromRef"]);
        }
        c
    }
}

/// The statistics of one shell (or of all data) as `(item, value)` pairs, from the shared table.
fn statistics(stats: &Value, overall: bool) -> Vec<(String, CifValue)> {
    let mut out = Vec::new();
    for s in STATISTICS_ITEMS {
        let items = if overall { s.overall } else { s.shell };
        let (Some(item), Some(v)) = (items.first(), stats.get(s.field)) else {
            continue;
        };
        let value = if s.count {
            v.as_i64().map(CifValue::Integer)
        } else {
            v.as_f64().map(CifValue::from)
        };
        if let Some(value) = value {
            out.push(((*item).to_owned(), value));
        }
    }
    out
}
