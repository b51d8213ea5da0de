//! Pilatus mini-CBF headers. Only the text before the binary section is read (at most 64 KiB);
//! pixels are never touched. The scan axis comes from the imgCIF `_diffrn_scan_axis` loop when the
//! file has one (it names the axis), otherwise from the mini-header `<Axis>_increment` that is
//! non-zero, otherwise `Start_angle`/`Angle_increment` about omega.

use std::io::Read;
use std::path::Path;

use indexmap::IndexMap;

use crate::nxmx::zone_naive;
use crate::{Fragment, ImageRun, ReadError, ReadOptions, Reader, template_of};

/// Reader for CBF image headers.
pub struct CbfReader;

const MAX_HEADER: u64 = 64 * 1024;

impl Reader for CbfReader {
    fn name(&self) -> &'static str {
        "cbf"
    }

    fn description(&self) -> &'static str {
        "a CBF image (header)"
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(b"###CBF")
            || (head.starts_with(b"data_") && head.windows(12).any(|w| w == b"_array_data."))
    }

    fn read(&self, path: &Path, options: &ReadOptions) -> Result<Vec<Fragment>, ReadError> {
        let mut raw = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_HEADER).read_to_end(&mut raw))
            .map_err(|e| ReadError::new(path, "file", "a readable file", e.to_string()))?;
        let end = find(&raw, b"--CIF-BINARY-FORMAT-SECTION--")
            .or_else(|| find(&raw, b"_array_data.data"))
            .unwrap_or(raw.len());
        let text = String::from_utf8_lossy(&raw[..end]).replace('\r', "");
        let header = Header::parse(&text);
        let run = header.to_run(path, options)?;
        Ok(vec![Fragment::Images(Box::new(run))])
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The parsed header: mini-header lines (line number, key, rest) and imgCIF scan-axis rows.
struct Header {
    lines: Vec<(usize, String, String)>,
    timestamp: Option<(usize, String)>,
    scan_axes: Vec<(String, f64, f64)>,
}

impl Header {
    fn parse(text: &str) -> Header {
        let mut lines = Vec::new();
        let mut timestamp = None;
        for (i, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("# ") else {
                continue;
            };
            let rest = rest.trim();
            if rest.chars().next().is_some_and(|c| c.is_ascii_digit()) && rest.contains(':') {
                timestamp = Some((i + 1, rest.to_owned()));
                continue;
            }
            let (key, value) = match rest.split_once([' ', ':']) {
                Some((k, v)) => (
                    k.trim_end_matches(':').to_owned(),
                    v.trim_start_matches(':').trim().to_owned(),
                ),
                None => (rest.to_owned(), String::new()),
            };
            lines.push((i + 1, key, value));
        }
        // imgCIF: rows after the _diffrn_scan_axis.* header lines.
        let mut scan_axes = Vec::new();
        let all: Vec<&str> = text.lines().collect();
        if let Some(start) = all
            .iter()
            .position(|l| l.trim() == "_diffrn_scan_axis.scan_id")
        {
            let mut i = start;
            let mut columns = Vec::new();
            while i < all.len() && all[i].trim().starts_with("_diffrn_scan_axis.") {
                columns.push(
                    all[i]
                        .trim()
                        .trim_start_matches("_diffrn_scan_axis.")
                        .to_owned(),
                );
                i += 1;
            }
            let col = |name: &str| columns.iter().position(|c| c == name);
            while i < all.len() {
                let parts: Vec<&str> = all[i].split_whitespace().collect();
                if parts.len() != columns.len()
                    || all[i].trim_start().starts_with(['_', '#'])
                    || all[i].trim() == "loop_"
                {
                    break;
                }
                if let (Some(a), Some(s), Some(inc)) =
                    (col("axis_id"), col("angle_start"), col("angle_increment"))
                    && let (Ok(start), Ok(step)) =
                        (parts[s].parse::<f64>(), parts[inc].parse::<f64>())
                {
                    scan_axes.push((parts[a].to_owned(), start, step));
                }
                i += 1;
            }
        }
        Header {
            lines,
            timestamp,
            scan_axes,
        }
    }

    /// `# Pixel_size 172e-6 m x 172e-6 m` → [0.172, 0.172] (mm); a unit that is not a length,
    /// or a malformed value, gives none (the exporters then warn).
    fn pixel_size_mm(&self) -> Option<[f64; 2]> {
        let (_, v) = self.get("Pixel_size")?;
        let sizes: Vec<f64> = v
            .split(['x', 'X'])
            .map(|part| {
                let mut words = part.split_whitespace();
                let value: f64 = words.next()?.parse().ok()?;
                let factor = mxpipe_model::units::mm_per_length_unit(words.next().unwrap_or("m"))?;
                (value.is_finite() && value > 0.0)
                    .then(|| mxpipe_model::units::tidy(value * factor))
            })
            .collect::<Option<Vec<f64>>>()?;
        match sizes[..] {
            [x, y] => Some([x, y]),
            [x] => Some([x, x]),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<(usize, &str)> {
        self.lines
            .iter()
            .find(|(_, k, _)| k.eq_ignore_ascii_case(key))
            .map(|(n, _, v)| (*n, v.as_str()))
    }

    /// The first number of a header value, with the unit that follows it.
    fn number(
        &self,
        path: &Path,
        key: &str,
        required: bool,
    ) -> Result<Option<(f64, String)>, ReadError> {
        let Some((line, value)) = self.get(key) else {
            return if required {
                Err(ReadError::new(
                    path,
                    format!("header line `# {key}`"),
                    format!("a `# {key} <value>` line"),
                    "no such line",
                ))
            } else {
                Ok(None)
            };
        };
        let mut parts = value.split_whitespace();
        let first = parts.next().unwrap_or("");
        let n: f64 = first.parse().map_err(|_| {
            ReadError::new(
                path,
                format!("header line {line} (`{key}`)"),
                "a number",
                format!("{value:?}"),
            )
        })?;
        if !n.is_finite() {
            return Err(ReadError::new(
                path,
                format!("header line {line} (`{key}`)"),
                "a finite number",
                format!("{value:?}"),
            ));
        }
        Ok(Some((
            n,
            parts.next().unwrap_or("").trim_end_matches('.').to_owned(),
        )))
    }

    fn to_run(&self, path: &Path, options: &ReadOptions) -> Result<ImageRun, ReadError> {
        if self.lines.is_empty() {
            return Err(ReadError::new(
                path,
                "_array_data.header_contents",
                "a Pilatus mini-CBF header (lines starting with `# `)",
                "no header lines",
            ));
        }
        let (exposure, _) = self.number(path, "Exposure_time", true)?.expect("required");
        let (wavelength, _) = self.number(path, "Wavelength", true)?.expect("required");
        if !(wavelength > 0.0 && wavelength < 100.0) {
            let line = self.get("Wavelength").map(|(n, _)| n).unwrap_or(0);
            return Err(ReadError::new(
                path,
                format!("header line {line} (`Wavelength`)"),
                "a wavelength in Å between 0 and 100",
                wavelength.to_string(),
            ));
        }
        let distance = self
            .number(path, "Detector_distance", false)?
            .map(|(v, unit)| {
                if unit == "mm" {
                    v
                } else {
                    mxpipe_model::units::m_to_mm(v)
                }
            });
        let beam = self.get("Beam_xy").and_then(|(_, v)| {
            let nums: Vec<f64> = v
                .trim_start_matches('(')
                .split([',', ')'])
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            (nums.len() >= 2).then(|| [nums[0], nums[1]])
        });
        let transmission = self
            .number(path, "Filter_transmission", false)?
            .map(|(v, _)| v * 100.0);
        let (detector, serial) = match self.get("Detector") {
            Some((_, v)) => {
                let mut parts = v.split(',').map(str::trim);
                let name = parts.next().map(str::to_owned);
                let serial = parts.find_map(|p| p.strip_prefix("S/N").map(|s| s.trim().to_owned()));
                (name, serial)
            }
            None => (None, None),
        };
        // Goniometer axes in the mini header.
        let mut axes_start = IndexMap::new();
        let mut increments: Vec<(String, f64)> = Vec::new();
        for axis in ["Omega", "Kappa", "Phi", "Chi", "Alpha", "Detector_2theta"] {
            if let Some((v, _)) = self.number(path, axis, false)? {
                axes_start.insert(axis.to_ascii_lowercase(), v);
            }
            if let Some((v, _)) = self.number(path, &format!("{axis}_increment"), false)? {
                increments.push((axis.to_ascii_lowercase(), v));
            }
        }
        if let Some(d) = distance {
            axes_start.insert("detector_distance".into(), d);
        }
        let (scan_axis, start, step) = if let Some((name, s, inc)) = self
            .scan_axes
            .iter()
            .find(|(n, _, inc)| inc.abs() > 1e-12 && n.starts_with("GONIOMETER"))
        {
            let name = name.trim_start_matches("GONIOMETER_").to_ascii_lowercase();
            for (n, s, _) in &self.scan_axes {
                if let Some(short) = n.strip_prefix("GONIOMETER_") {
                    axes_start.insert(short.to_ascii_lowercase(), *s);
                }
            }
            (name, *s, *inc)
        } else if let Some((name, inc)) = increments.iter().find(|(_, v)| v.abs() > 1e-12) {
            (
                name.clone(),
                axes_start.get(name).copied().unwrap_or(0.0),
                *inc,
            )
        } else {
            let start = self.number(path, "Start_angle", true)?.expect("required").0;
            let inc = self
                .number(path, "Angle_increment", true)?
                .expect("required")
                .0;
            ("omega".to_owned(), start, inc)
        };
        axes_start.insert(scan_axis.clone(), start);
        let mut axes_end = IndexMap::new();
        axes_end.insert(scan_axis.clone(), start + step);
        let file_name = path
            .file_name()
            .map(|n| mxpipe_model::paths::path_text(n.as_ref()))
            .unwrap_or_default();
        let (prefix, template, number) = template_of(&file_name);
        let time = self
            .timestamp
            .as_ref()
            .map(|(line, t)| parse_time(path, *line, t, options))
            .transpose()?;
        Ok(ImageRun {
            source: path.to_owned(),
            format: "cbf",
            directory: crate::directory_of(path),
            template,
            prefix,
            first_image: number.unwrap_or(1),
            number_images: 1,
            file_type: "cbf",
            scan_axis,
            scan_start: start,
            scan_step: step,
            sweep_type: if step.abs() > 1e-12 {
                "simple"
            } else {
                "still"
            },
            number_lines: None,
            mesh_range: None,
            axes_start,
            axes_end,
            exposure_s: Some(exposure),
            wavelength_a: Some(wavelength),
            distance_mm: distance,
            beam_center_px: beam,
            detector,
            detector_serial: serial,
            transmission_pct: transmission,
            start_time: time.clone(),
            end_time: time,
            sample_name: None,
            site: None,
            pixel_size_mm: self.pixel_size_mm(),
            data_files: Vec::new(),
        })
    }
}

/// Pilatus timestamps: `2011-07-14T12:45:19.719`, `2007/Jun/13 13:13:16.286`, `2011-Nov-01T17:59:04.733`.
fn parse_time(
    path: &Path,
    line: usize,
    text: &str,
    options: &ReadOptions,
) -> Result<String, ReadError> {
    let formats = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y/%b/%d %H:%M:%S%.f",
        "%Y-%b-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
    ];
    for f in formats {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, f) {
            return Ok(zone_naive(
                &t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
                options,
            ));
        }
    }
    Err(ReadError::new(
        path,
        format!("header line {line} (timestamp)"),
        "a date-time such as 2011-07-14T12:45:19.719",
        format!("{text:?}"),
    ))
}
