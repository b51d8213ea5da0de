//! # mxpipe-ingest
//!
//! Readers for collection output, one module per format, each implementing [`Reader`] and
//! registered by one line in [`READERS`]:
//! - [`mxlims`]: MXLIMS messages (any of the three kinds), validated by both layers first;
//! - [`nxmx`]: NeXus/NXmx master files (HDF5), metadata only — data links are never opened;
//! - [`cbf`]: Pilatus mini-CBF headers — the text before the binary section only;
//! - [`autoproc_xml`]: AutoProcContainer XML (autoPROC, xia2, fast_dp processing results);
//! - [`xds_correct`], [`xds_ascii`]: XDS CORRECT.LP statistics and the XDS_ASCII.HKL header;
//! - [`mmcif`]: PDBx/mmCIF reflection statistics and SSX counts (with our own CIF reader, [`cif`]);
//! - [`dials`]: DIALS experiment lists (`.expt`);
//! - [`crystfel`]: CrystFEL streams (SSX), streamed with constant memory;
//! - [`mtz`]: MTZ reflection files, header and batch headers only.
//!
//! Collection files become [`ImageRun`]s, which [`assemble`] groups into MXLIMS messages:
//! one MxExperiment per directory, one CollectionSweep per wavelength and orientation, one Scan
//! per contiguous run of images, ordinals in acquisition order.

pub mod assemble;
pub mod formats;
pub mod sniff;

pub use formats::{
    autoproc_xml, cbf, cif, crystfel, dials, hdf5_superblock, mmcif, mtz, mxlims, nxmx, nxmx_data,
    nxmx_layout, xds_ascii, xds_correct,
};

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use mxpipe_model::AnyMessage;
use serde_json::Value;

/// A problem with one input file: which file, where in it, what was expected and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Place in the file: an HDF5 path, a header line, a JSON pointer.
    pub location: String,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub found: String,
    /// Every problem found, when the reader checks the whole file (an MXLIMS message's
    /// validation findings); empty when it stops at the first (the one above).
    pub problems: Vec<Problem>,
}

/// One problem in a file: where, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// Place in the file (a JSON pointer and the rule, a line, an HDF5 path).
    pub location: String,
    /// What was expected there.
    pub expected: String,
    /// What was found.
    pub found: String,
}

impl ReadError {
    /// A new error.
    pub fn new(
        path: &Path,
        location: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        ReadError {
            path: path.to_owned(),
            location: location.into(),
            expected: expected.into(),
            found: found.into(),
            problems: Vec::new(),
        }
    }

    /// The same error listing every problem found in the file.
    pub fn with_problems(mut self, problems: Vec<Problem>) -> Self {
        self.problems = problems;
        self
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: expected {}; found {}",
            self.path.display(),
            self.location,
            self.expected,
            self.found
        )
    }
}

impl std::error::Error for ReadError {}

/// Metadata of a run of images read from one collection file (an NXmx master file, or one CBF image).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRun {
    /// The file read.
    pub source: PathBuf,
    /// Reader name.
    pub format: &'static str,
    /// Image directory.
    pub directory: String,
    /// File name template, e.g. `x_%04d.cbf` or the master file name `x_master.h5`.
    pub template: String,
    /// Prefix of the file names.
    pub prefix: String,
    /// Number of the first image (1-based within the file series).
    pub first_image: i64,
    /// Number of images.
    pub number_images: i64,
    /// `HDF5` or `cbf`.
    pub file_type: &'static str,
    /// Scan axis, e.g. `omega`, `phi`, or a translation such as `sam_x` for grid scans.
    pub scan_axis: String,
    /// Scan-axis position of the first image (degrees, or mm for translations).
    pub scan_start: f64,
    /// Signed step per image along the scan axis (0 for stills).
    pub scan_step: f64,
    /// `simple` (rotation), `mesh` (grid), `line`, or `still`.
    pub sweep_type: &'static str,
    /// Grid lines (mesh scans).
    pub number_lines: Option<i64>,
    /// Grid extent [fast, slow] in mm (mesh scans).
    pub mesh_range: Option<[f64; 2]>,
    /// Positions of all goniometer axes at the first image (degrees / mm).
    pub axes_start: IndexMap<String, f64>,
    /// Positions at the last image, for the axes that move.
    pub axes_end: IndexMap<String, f64>,
    /// Exposure per image (s).
    pub exposure_s: Option<f64>,
    /// Wavelength (Å).
    pub wavelength_a: Option<f64>,
    /// Detector distance (mm).
    pub distance_mm: Option<f64>,
    /// Beam centre (pixels).
    pub beam_center_px: Option<[f64; 2]>,
    /// Detector description, e.g. `Eiger 16M`, `PILATUS 300K`.
    pub detector: Option<String>,
    /// Detector serial number.
    pub detector_serial: Option<String>,
    /// Transmission (%).
    pub transmission_pct: Option<f64>,
    /// Start (ISO 8601 with zone).
    pub start_time: Option<String>,
    /// End (ISO 8601 with zone).
    pub end_time: Option<String>,
    /// Sample name.
    pub sample_name: Option<String>,
    /// Facility and beamline as the file names them (NXmx source and instrument names, kept as
    /// written too: the experiment's `experimentLocation`).
    pub site: Option<mxpipe_model::Instrument>,
    /// Detector pixel size x, y (mm), as the file states it.
    pub pixel_size_mm: Option<[f64; 2]>,
    /// Image data files holding the run's frames, in order (NXmx `/entry/data` links).
    pub data_files: Vec<DataFile>,
}

pub use mxpipe_model::DataFile;

/// A batch of bulk rows: (store table name, rows as JSON objects without the owner column).
pub type RowBatch = Result<(&'static str, Vec<Value>), ReadError>;

/// Rows too many for an MXLIMS message (one per SSX frame, say), streamed from the source file
/// again when the store writes them, so memory stays flat however large the file.
#[derive(Clone)]
pub struct BulkSource {
    /// Dictionary and key of the message object that owns the rows.
    pub owner: (String, String),
    /// Column of the bulk tables that receives the owner's uuid.
    pub owner_column: &'static str,
    /// Opens the stream of row batches.
    #[allow(clippy::type_complexity)]
    pub open: std::sync::Arc<dyn Fn() -> Box<dyn Iterator<Item = RowBatch> + Send> + Send + Sync>,
}

impl fmt::Debug for BulkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BulkSource({}/{})", self.owner.0, self.owner.1)
    }
}

/// What a reader produced from one file.
#[derive(Debug, Clone)]
pub enum Fragment {
    /// A complete MXLIMS message (validated).
    Message {
        /// The JSON as read.
        value: Value,
        /// The typed message.
        message: Box<AnyMessage>,
        /// Bulk rows that go with it (e.g. SSX frames).
        bulk: Vec<BulkSource>,
    },
    /// Collection metadata to be assembled into a message with other runs.
    Images(Box<ImageRun>),
    /// The file is in a container format the reader knows but holds no metadata (an HDF5 data
    /// file without `/entry`, say); the reason says what it is.
    NotMetadata(String),
}

/// The facility's time zone, for timestamps written without one: an IANA name (daylight saving
/// applied, e.g. `Europe/London`) or a fixed offset (`+01:00`, `Z`, `UTC`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FacilityZone {
    /// A fixed offset from UTC.
    Fixed(chrono::FixedOffset),
    /// An IANA time zone.
    Iana(chrono_tz::Tz),
}

impl FacilityZone {
    /// Parse `Europe/London`, `+01:00`, `-05:00`, `Z` or `UTC`.
    pub fn parse(text: &str) -> Result<FacilityZone, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(FacilityZone::Fixed(
                chrono::FixedOffset::east_opt(0).expect("zero"),
            ));
        }
        if t.starts_with(['+', '-']) {
            return chrono::DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{t}"))
                .map(|d| FacilityZone::Fixed(*d.offset()))
                .map_err(|_| format!("expected an offset such as +01:00; found {text:?}"));
        }
        t.parse::<chrono_tz::Tz>().map(FacilityZone::Iana).map_err(|_| {
            format!(
                "expected an IANA time zone such as Europe/London or an offset such as +01:00; found {text:?}"
            )
        })
    }

    /// The instant a local wall-clock time denotes (the earlier one when a clock change makes it
    /// ambiguous; `None` when it falls in a spring-forward gap).
    pub fn localize(
        &self,
        naive: chrono::NaiveDateTime,
    ) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        use chrono::TimeZone;
        match self {
            FacilityZone::Fixed(o) => o.from_local_datetime(&naive).earliest(),
            FacilityZone::Iana(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.fixed_offset()),
        }
    }
}

/// Settings readers need.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Time zone for naive timestamps (NXmx, CBF headers, XML); UTC if unset.
    pub timezone: Option<FacilityZone>,
    /// Set by a reader that met a timestamp without a zone (so the run can say which files had
    /// naive times and which zone was assumed).
    pub naive_time_seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Source name → facility short name, the site's own (`[ingest] source_names`), consulted
    /// before `mxpipe_model::facilities::SOURCE_SHORT_NAMES`.
    pub source_names: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

impl ReadOptions {
    /// A naive local time as an instant in the configured zone (UTC when none is set), noting
    /// that a naive time was met.
    pub fn localize(
        &self,
        naive: chrono::NaiveDateTime,
    ) -> Option<chrono::DateTime<chrono::FixedOffset>> {
        self.naive_time_seen
            .store(true, std::sync::atomic::Ordering::Relaxed);
        match &self.timezone {
            Some(z) => z.localize(naive),
            None => Some(naive.and_utc().fixed_offset()),
        }
    }

    /// The same settings with a fresh "naive time seen" flag (one per file).
    pub fn for_file(&self) -> ReadOptions {
        ReadOptions {
            timezone: self.timezone,
            naive_time_seen: Default::default(),
            source_names: self.source_names.clone(),
        }
    }

    /// Did a reader meet a naive timestamp with these options?
    pub fn saw_naive_time(&self) -> bool {
        self.naive_time_seen
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A source format.
pub trait Reader: Sync {
    /// Short name (`mxlims`, `nxmx`, `cbf`), as used by `--format`.
    fn name(&self) -> &'static str;
    /// What the format is, for help texts and error messages (e.g. `a CrystFEL stream`).
    fn description(&self) -> &'static str;
    /// Does this look like our format? `head` is the first bytes of the file (up to 4 KiB).
    fn sniff(&self, path: &Path, head: &[u8]) -> bool;
    /// Read the file.
    fn read(&self, path: &Path, options: &ReadOptions) -> Result<Vec<Fragment>, ReadError>;
}

/// Every reader; adding a format = one module + one line here.
pub static READERS: &[&dyn Reader] = &[
    &dials::DialsReader,
    &mxlims::MxlimsReader,
    &nxmx::NxmxReader,
    &cbf::CbfReader,
    &autoproc_xml::AutoProcXmlReader,
    &xds_correct::XdsCorrectReader,
    &xds_ascii::XdsAsciiReader,
    &mmcif::MmcifReader,
    &crystfel::CrystfelReader,
    &mtz::MtzReader,
];

/// Find a reader by name.
pub fn reader_named(name: &str) -> Option<&'static dyn Reader> {
    READERS.iter().copied().find(|r| r.name() == name)
}

/// The supported formats as a sentence, generated from [`READERS`].
pub fn supported_formats() -> String {
    READERS
        .iter()
        .map(|r| format!("{} [{}]", r.description(), r.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Detect the format of a file from its content.
pub fn detect(path: &Path) -> Result<&'static dyn Reader, ReadError> {
    let head = sniff::read_head(path)
        .map_err(|e| ReadError::new(path, "file", "a readable file", e.to_string()))?;
    READERS
        .iter()
        .copied()
        .find(|r| r.sniff(path, &head))
        .ok_or_else(|| {
            ReadError::new(
                path,
                "start of file",
                format!("a supported format: {}", supported_formats()),
                sniff::describe(path, &head),
            )
        })
}

/// Split a file name into (prefix, template, image number): `x_0012.cbf` → (`x`, `x_%04d.cbf`, 12).
pub fn template_of(file_name: &str) -> (String, String, Option<i64>) {
    // The extension, including a compression suffix: `x_0001.cbf.gz` → `.cbf.gz`.
    let last_dot = |s: &str| s.rfind('.');
    let cut = match last_dot(file_name) {
        Some(i) if matches!(&file_name[i..], ".gz" | ".bz2" | ".xz" | ".zst") => {
            last_dot(&file_name[..i]).unwrap_or(i)
        }
        other => other.unwrap_or(file_name.len()),
    };
    let (stem, ext) = (&file_name[..cut], &file_name[cut..]);
    let digits = stem
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 {
        return (stem.to_owned(), file_name.to_owned(), None);
    }
    let cut = stem.len() - digits;
    let number = stem[cut..].parse().ok();
    let prefix = stem[..cut].trim_end_matches(['_', '.', '-']).to_owned();
    (prefix, format!("{}%0{digits}d{ext}", &stem[..cut]), number)
}

/// The absolute, normalised directory of a file (`a/./b/../x.cbf` → `/cwd/a/x.cbf`'s folder), so
/// that image directories compare equal however the path was given.
pub fn directory_of(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    clean
        .parent()
        .map(mxpipe_model::paths::path_text)
        .unwrap_or_default()
}

/// Validate a message a reader built from a file (both layers); an invalid one is reported
/// against that file with the first problem.
pub fn validated(path: &Path, value: Value) -> Result<Vec<Fragment>, ReadError> {
    match mxpipe_model::validate::parse_message(&value, &mxpipe_model::validate::Options::default())
    {
        Ok((message, _)) => Ok(vec![Fragment::Message {
            value,
            message: Box::new(message),
            bulk: Vec::new(),
        }]),
        Err(report) => {
            let f = report
                .errors()
                .next()
                .cloned()
                .expect("an invalid report has an error");
            Err(ReadError::new(
                path,
                format!("{} (in the MXLIMS built from it) [{}]", f.pointer, f.rule),
                f.expected,
                f.found,
            ))
        }
    }
}
