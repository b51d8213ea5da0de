//! NeXus/NXmx master files (HDF5). Reads metadata datasets only; `/entry/data/data_*` external
//! links and virtual datasets are never opened. Paths follow the NXmx application definition,
//! with the fallbacks seen in DLS/nexgen and DECTRIS files (see `docs/ingest.md`).

use std::path::Path;

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use indexmap::IndexMap;

use crate::{Fragment, ImageRun, ReadError, ReadOptions, Reader};

/// Reader for NXmx master files.
pub struct NxmxReader;

use crate::hdf5_superblock::SIGNATURE as HDF5_SIGNATURE;

impl Reader for NxmxReader {
    fn name(&self) -> &'static str {
        "nxmx"
    }

    fn description(&self) -> &'static str {
        "an HDF5 (NeXus/NXmx) master file"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(HDF5_SIGNATURE)
    }

    fn read(&self, path: &Path, options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        // libhdf5 trusts unchecksummed superblocks (see hdf5_superblock): check it first.
        let (head, len) = crate::hdf5_superblock::read_start(path)
            .map_err(|e| ReadError::new(path, "file", "a readable file", e.to_string()))?;
        crate::hdf5_superblock::check(&head, len).map_err(|found| {
            ReadError::new(
                path,
                "superblock",
                "an HDF5 file (NeXus/NXmx master)",
                found,
            )
        })?;
        hdf5::silence_errors(true);
        let file = hdf5::File::open(path).map_err(|e| {
            ReadError::new(
                path,
                "file",
                "an HDF5 file (NeXus/NXmx master)",
                short(&e.to_string()),
            )
        })?;
        if file.group("/entry").is_err() {
            return Ok(vec![Fragment::NotMetadata(
                "HDF5 file without an /entry group: not an NXmx master (an image data file?)"
                    .into(),
            )]);
        }
        // A sweep master written by `mxpipe repackage` carries its experiment as MXLIMS: that is
        // read instead of the per-sweep view (same uuids, sweeps and ordinals).
        if let Ok(ds) = file.dataset(EMBEDDED_MXLIMS) {
            let text = read_dataset_string(&ds).ok_or_else(|| {
                ReadError::new(path, EMBEDDED_MXLIMS, "an MXLIMS JSON string", "unreadable")
            })?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                ReadError::new(
                    path,
                    EMBEDDED_MXLIMS,
                    "an MXLIMS JSON document",
                    e.to_string(),
                )
            })?;
            return crate::mxlims::message_fragment(path, value);
        }
        let mut run = read_run(&File { f: &file, path }, options)?;
        run.data_files = crate::nxmx_data::data_files(&file);
        Ok(vec![Fragment::Images(Box::new(run))])
    }
}

pub use super::nxmx_layout::EMBEDDED_MXLIMS;

fn short(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or(text)
        .chars()
        .take(160)
        .collect()
}

struct File<'a> {
    f: &'a hdf5::File,
    path: &'a Path,
}

impl File<'_> {
    fn err(&self, location: &str, expected: &str, found: impl Into<String>) -> ReadError {
        ReadError::new(self.path, location, expected, found)
    }

    fn dataset(&self, p: &str) -> Option<hdf5::Dataset> {
        self.f.dataset(p).ok()
    }

    fn units(&self, p: &str) -> Option<String> {
        let ds = self.dataset(p)?;
        let attr = ds.attr("units").ok()?;
        read_attr_string(&attr)
    }

    /// Numbers of a dataset (scalar or array), with the dataset path for error messages.
    fn floats(&self, p: &str) -> Result<Option<Vec<f64>>, ReadError> {
        let Some(ds) = self.dataset(p) else {
            return Ok(None);
        };
        let values = if ds.shape().is_empty() {
            ds.read_scalar::<f64>().map(|v| vec![v])
        } else {
            ds.read_raw::<f64>()
        };
        values
            .map(Some)
            .map_err(|e| self.err(p, "a numeric dataset", short(&e.to_string())))
    }

    fn float(&self, p: &str) -> Result<Option<f64>, ReadError> {
        Ok(self.floats(p)?.and_then(|v| v.first().copied()))
    }

    fn first_float(&self, paths: &[&str]) -> Result<Option<(f64, String)>, ReadError> {
        for p in paths {
            if let Some(v) = self.float(p)? {
                return Ok(Some((v, (*p).to_owned())));
            }
        }
        Ok(None)
    }

    fn string(&self, p: &str) -> Result<Option<String>, ReadError> {
        let Some(ds) = self.dataset(p) else {
            return Ok(None);
        };
        read_dataset_string(&ds)
            .map(Some)
            .ok_or_else(|| self.err(p, "a string (fixed- or variable-length)", "another type"))
    }
}

fn read_dataset_string(ds: &hdf5::Dataset) -> Option<String> {
    let desc = ds.dtype().ok()?.to_descriptor().ok()?;
    let text = match desc {
        TypeDescriptor::FixedAscii(_) => ds
            .read_scalar::<FixedAscii<1024>>()
            .ok()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                ds.read_raw::<FixedAscii<1024>>()
                    .ok()
                    .and_then(|v| v.first().map(|s| s.as_str().to_owned()))
            }),
        TypeDescriptor::FixedUnicode(_) => ds
            .read_scalar::<FixedUnicode<1024>>()
            .ok()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                ds.read_raw::<FixedUnicode<1024>>()
                    .ok()
                    .and_then(|v| v.first().map(|s| s.as_str().to_owned()))
            }),
        TypeDescriptor::VarLenAscii => ds
            .read_scalar::<VarLenAscii>()
            .ok()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                ds.read_raw::<VarLenAscii>()
                    .ok()
                    .and_then(|v| v.first().map(|s| s.as_str().to_owned()))
            }),
        TypeDescriptor::VarLenUnicode => ds
            .read_scalar::<VarLenUnicode>()
            .ok()
            .map(|s| s.as_str().to_owned())
            .or_else(|| {
                ds.read_raw::<VarLenUnicode>()
                    .ok()
                    .and_then(|v| v.first().map(|s| s.as_str().to_owned()))
            }),
        _ => None,
    }?;
    Some(text.trim_end_matches('\0').trim().to_owned())
}

fn read_attr_string(attr: &hdf5::Attribute) -> Option<String> {
    let desc = attr.dtype().ok()?.to_descriptor().ok()?;
    let text = match desc {
        TypeDescriptor::FixedAscii(_) => attr
            .read_scalar::<FixedAscii<1024>>()
            .ok()
            .map(|s| s.as_str().to_owned()),
        TypeDescriptor::FixedUnicode(_) => attr
            .read_scalar::<FixedUnicode<1024>>()
            .ok()
            .map(|s| s.as_str().to_owned()),
        TypeDescriptor::VarLenAscii => attr
            .read_scalar::<VarLenAscii>()
            .ok()
            .map(|s| s.as_str().to_owned()),
        TypeDescriptor::VarLenUnicode => attr
            .read_scalar::<VarLenUnicode>()
            .ok()
            .map(|s| s.as_str().to_owned()),
        _ => None,
    }?;
    Some(text.trim_end_matches('\0').trim().to_owned())
}

/// Factor from a length unit to mm.
fn to_mm(units: Option<&str>) -> f64 {
    units
        .and_then(mxpipe_model::units::mm_per_length_unit)
        .unwrap_or(1.0)
}

/// Factor from an angle unit to degrees.
fn to_deg(units: Option<&str>) -> f64 {
    match units.map(|u| u.trim().to_ascii_lowercase()).as_deref() {
        Some("rad" | "radian" | "radians") => 180.0 / std::f64::consts::PI,
        _ => 1.0,
    }
}

struct Axis {
    name: String,
    rotation: bool,
    values: Vec<f64>,
    increment: Option<f64>,
}

fn read_axes(f: &File<'_>) -> Result<Vec<Axis>, ReadError> {
    let mut out: Vec<Axis> = Vec::new();
    for group in ["/entry/sample/transformations", "/entry/data"] {
        let Ok(g) = f.f.group(group) else { continue };
        let names = g.member_names().unwrap_or_default();
        for name in names {
            if name.starts_with("data")
                || name.ends_with("_end")
                || name.ends_with("_increment_set")
                || out.iter().any(|a| a.name == name)
            {
                continue;
            }
            let p = format!("{group}/{name}");
            let Some(ds) = f.dataset(&p) else { continue };
            let kind = ds
                .attr("transformation_type")
                .ok()
                .and_then(|a| read_attr_string(&a));
            let units = f.units(&p);
            let rotation = match kind.as_deref() {
                Some("rotation") => true,
                Some("translation") => false,
                _ => matches!(units.as_deref(), Some("deg" | "degree" | "degrees" | "rad")),
            };
            if kind.is_none() && units.is_none() {
                continue;
            }
            let Ok(Some(raw)) = f.floats(&p) else {
                continue;
            };
            let factor = if rotation {
                to_deg(units.as_deref())
            } else {
                to_mm(units.as_deref())
            };
            let increment = f
                .float(&format!("{group}/{name}_increment_set"))?
                .map(|v| v * factor);
            out.push(Axis {
                name,
                rotation,
                values: raw.into_iter().map(|v| v * factor).collect(),
                increment,
            });
        }
    }
    Ok(out)
}

fn moves(a: &Axis) -> bool {
    a.values.len() > 1 && a.values.iter().any(|v| (v - a.values[0]).abs() > 1e-9)
}

fn with_zone(text: &str, options: &ReadOptions) -> String {
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return text.to_owned();
    }
    match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(naive) => options
            .localize(naive)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| text.to_owned()),
        Err(_) => text.to_owned(),
    }
}

fn read_run(f: &File<'_>, options: &ReadOptions) -> Result<ImageRun, ReadError> {
    if f.f.group("/entry").is_err() {
        return Err(f.err(
            "/entry",
            "an NXentry group /entry (NeXus/NXmx master file)",
            "no /entry group",
        ));
    }
    if let Some(def) = f.string("/entry/definition")?
        && !def.eq_ignore_ascii_case("NXmx")
    {
        return Err(f.err("/entry/definition", "\"NXmx\"", format!("{def:?}")));
    }
    let wavelength_paths = [
        "/entry/instrument/beam/incident_wavelength",
        "/entry/instrument/beam/wavelength",
        "/entry/instrument/monochromator/wavelength",
        "/entry/sample/beam/incident_wavelength",
    ];
    let (wavelength_raw, wl_path) = f.first_float(&wavelength_paths)?.ok_or_else(|| {
        f.err(
            "/entry/instrument/beam/incident_wavelength",
            "the incident wavelength (NXmx requires it)",
            "no such dataset",
        )
    })?;
    let wavelength_a = match f.units(&wl_path).map(|u| u.to_ascii_lowercase()).as_deref() {
        Some("nm") => wavelength_raw * 10.0,
        Some("m") => wavelength_raw * 1e10,
        _ => wavelength_raw,
    };
    if !(wavelength_a > 0.0 && wavelength_a < 100.0) {
        return Err(f.err(
            &wl_path,
            "a wavelength in Å between 0 and 100",
            wavelength_raw.to_string(),
        ));
    }
    let axes = read_axes(f)?;
    let nimages = f
        .float("/entry/instrument/detector/detectorSpecific/nimages")?
        .map(|v| v as i64);
    let rotating: Vec<&Axis> = axes
        .iter()
        .filter(|a| a.rotation && (moves(a) || a.increment.is_some_and(|i| i.abs() > 1e-12)))
        .collect();
    let translating: Vec<&Axis> = axes.iter().filter(|a| !a.rotation && moves(a)).collect();
    let number_images = axes
        .iter()
        .map(|a| a.values.len() as i64)
        .filter(|&n| n > 1)
        .max()
        .or(nimages)
        .ok_or_else(|| {
            f.err(
                "/entry/data",
                "per-image axis positions or detectorSpecific/nimages",
                "neither",
            )
        })?;
    let (scan, sweep_type, step) = if let Some(a) = rotating.first() {
        let step = a.increment.filter(|i| i.abs() > 1e-12).unwrap_or_else(|| {
            if a.values.len() > 1 {
                a.values[1] - a.values[0]
            } else {
                0.0
            }
        });
        (a.name.clone(), "simple", step)
    } else if let Some(fast) = translating
        .iter()
        .find(|a| (a.values[1] - a.values[0]).abs() > 1e-9)
        .or(translating.first())
    {
        let kind = if translating.len() > 1 {
            "mesh"
        } else {
            "line"
        };
        (fast.name.clone(), kind, fast.values[1] - fast.values[0])
    } else {
        let name = axes
            .iter()
            .find(|a| a.rotation && a.name == "omega")
            .or_else(|| axes.iter().find(|a| a.rotation))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "omega".into());
        (name, "still", 0.0)
    };
    let scan_axis = axes.iter().find(|a| a.name == scan);
    let scan_start = scan_axis
        .and_then(|a| a.values.first().copied())
        .unwrap_or(0.0);
    let mut axes_start = IndexMap::new();
    let mut axes_end = IndexMap::new();
    for a in &axes {
        if let Some(v) = a.values.first() {
            axes_start.insert(a.name.clone(), *v);
        }
        if moves(a) || (a.name == scan && sweep_type == "simple") {
            let last = if a.name == scan && sweep_type == "simple" {
                scan_start + step * number_images as f64
            } else {
                *a.values.last().expect("non-empty")
            };
            axes_end.insert(a.name.clone(), last);
        }
    }
    let (number_lines, mesh_range) = if sweep_type == "mesh" {
        let fast = translating
            .iter()
            .find(|a| a.name == scan)
            .expect("scan axis translates");
        let slow = translating
            .iter()
            .find(|a| a.name != scan)
            .expect("mesh has two moving axes");
        let mut rows: Vec<i64> = slow
            .values
            .iter()
            .map(|v| (v * 1e6).round() as i64)
            .collect();
        rows.dedup();
        let range = |a: &Axis| {
            a.values.iter().cloned().fold(f64::MIN, f64::max)
                - a.values.iter().cloned().fold(f64::MAX, f64::min)
        };
        (Some(rows.len() as i64), Some([range(fast), range(slow)]))
    } else {
        (None, None)
    };
    let distance = f
        .first_float(&[
            "/entry/instrument/detector/distance",
            "/entry/instrument/detector/detector_distance",
        ])?
        .map(|(v, p)| v * to_mm(f.units(&p).as_deref().or(Some("m"))));
    let beam = match (
        f.float("/entry/instrument/detector/beam_center_x")?,
        f.float("/entry/instrument/detector/beam_center_y")?,
    ) {
        (Some(x), Some(y)) => Some([x, y]),
        _ => None,
    };
    let file_name = f
        .path
        .file_name()
        .map(|n| mxpipe_model::paths::path_text(n.as_ref()))
        .unwrap_or_default();
    let prefix = file_name
        .trim_end_matches(".nxs")
        .trim_end_matches(".h5")
        .trim_end_matches("_master")
        .to_owned();
    let directory = crate::directory_of(f.path);
    Ok(ImageRun {
        source: f.path.to_owned(),
        format: "nxmx",
        directory,
        template: file_name,
        prefix,
        first_image: 1,
        number_images,
        file_type: "HDF5",
        scan_axis: scan,
        scan_start,
        scan_step: step,
        sweep_type,
        number_lines,
        mesh_range,
        axes_start,
        axes_end,
        exposure_s: f.float("/entry/instrument/detector/count_time")?,
        wavelength_a: Some(wavelength_a),
        distance_mm: distance,
        beam_center_px: beam,
        detector: f.string("/entry/instrument/detector/description")?,
        detector_serial: f.string("/entry/instrument/detector/detector_number")?,
        transmission_pct: f
            .float("/entry/instrument/attenuator/attenuator_transmission")?
            .map(|t| t * 100.0),
        start_time: f
            .string("/entry/start_time")?
            .map(|t| with_zone(&t, options)),
        end_time: match f.string("/entry/end_time")? {
            Some(t) => Some(t),
            None => f.string("/entry/end_time_estimated")?,
        }
        .map(|t| with_zone(&t, options)),
        sample_name: f.string("/entry/sample/name")?.filter(|s| !s.is_empty()),
        site: site_of(f, options)?,
        pixel_size_mm: match (
            f.float("/entry/instrument/detector/x_pixel_size")?,
            f.float("/entry/instrument/detector/y_pixel_size")?,
        ) {
            (Some(x), Some(y)) => {
                use mxpipe_model::units::tidy;
                let unit = |p: &str| to_mm(f.units(p).as_deref().or(Some("m")));
                Some([
                    tidy(x * unit("/entry/instrument/detector/x_pixel_size")),
                    tidy(y * unit("/entry/instrument/detector/y_pixel_size")),
                ])
            }
            _ => None,
        },
        data_files: Vec::new(),
    })
}

/// Facility and beamline from `/entry/source/name` (its `short_name` attribute first) and
/// `/entry/instrument/name` (see `mxpipe_model::facilities`).
fn site_of(
    f: &File<'_>,
    options: &ReadOptions,
) -> Result<Option<mxpipe_model::Instrument>, ReadError> {
    use mxpipe_model::facilities::{beamline_of_instrument, facility_short_name};
    let source = f
        .string("/entry/source/name")?
        .filter(|s| !s.trim().is_empty());
    let short = f
        .dataset("/entry/source/name")
        .and_then(|d| d.attr("short_name").ok())
        .and_then(|a| read_attr_string(&a));
    let instrument = f
        .string("/entry/instrument/name")?
        .filter(|s| !s.trim().is_empty());
    if source.is_none() && instrument.is_none() {
        return Ok(None);
    }
    Ok(Some(mxpipe_model::Instrument {
        facility: source
            .as_deref()
            .and_then(|s| facility_short_name(s, short.as_deref(), &options.source_names)),
        beamline: instrument.as_deref().and_then(beamline_of_instrument),
        source_name: source,
        instrument_name: instrument,
    }))
}

/// Give a naive ISO timestamp the configured offset (used by other readers too).
pub fn zone_naive(text: &str, options: &ReadOptions) -> String {
    with_zone(text, options)
}
