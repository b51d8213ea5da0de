//! Export to ICAT. One mapping ([`map`], parameters as data; [`graph`], the entities of a unit)
//! and one output per form ICAT sites take:
//! - [`icatdata`]: python-icat's icatdump/icatingest XML (icatdata 6.2, or 5.0 for older
//!   servers), for `icatingest` at any ICAT site;
//! - [`esrf`]: one pyicat-plus dataset message per dataset (`--flavour esrf`), for ESRF's ingester;
//! - [`rest`]: ICAT's REST API (`--url`), idempotent through look-ups by uniqueness key.
//!
//! Both run on the catalogue seam ([`crate::driver`]): the driver selects experiments and orders
//! processing after every experiment whose sweeps it read; this target gathers the entities and
//! writes the file(s) at the end. Rules and guarantees: `docs/icat.md`.

pub mod esrf;
pub mod graph;
pub mod icatdata;
pub mod map;
pub mod rest;

use std::collections::HashMap;
use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use mxpipe_store::Store;
use mxpipe_store::read::strings;

use crate::ExportError;
use crate::driver::{Catalogue, IdMap, Summary, Unit, Written};
use crate::records::Records;
pub use graph::{FileFacts, Settings, UnitGraph};

/// Where the export goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// One icatdata XML file of the given version (`6.2` or `5.0`).
    Icatdata {
        /// The file.
        path: PathBuf,
        /// icatdata version.
        version: String,
    },
    /// One ESRF dataset message per dataset in a folder.
    Esrf {
        /// The folder.
        dir: PathBuf,
    },
}

/// The ICAT file exporter (a [`Catalogue`]). Streams: each unit is written when it is built, so
/// memory stays bounded by one unit.
pub struct IcatFiles {
    output: Output,
    builder: graph::Builder,
    dry_run: bool,
    /// icatdata: the writer and the partial file (renamed onto the target at the end).
    stream: Option<(
        icatdata::IcatdataWriter,
        std::io::BufWriter<std::fs::File>,
        PathBuf,
    )>,
    /// ESRF: dataset key → folder, for `input_datasets` of later units.
    locations: HashMap<String, String>,
    /// Files written by [`Catalogue::finish`].
    pub written: Vec<PathBuf>,
    /// Units written into the icatdata stream (none: no file is left behind).
    units: usize,
}

impl IcatFiles {
    /// Prepare an export (reads file sizes and checksums from the store).
    pub async fn new(
        store: &Store,
        output: Output,
        settings: Settings,
        dry_run: bool,
    ) -> Result<IcatFiles, ExportError> {
        if let Output::Icatdata { version, .. } = &output
            && !icatdata::VERSIONS.contains(&version.as_str())
        {
            return Err(ExportError::Config(format!(
                "--icatdata-version {version}: expected one of {}",
                icatdata::VERSIONS.join(", ")
            )));
        }
        let mut stream = None;
        if !dry_run {
            match &output {
                Output::Icatdata { path, version } => {
                    let partial = path.with_extension("xml.partial");
                    let file = std::fs::File::create(&partial).map_err(|e| {
                        ExportError::Config(format!("cannot write {}: {e}", partial.display()))
                    })?;
                    let writer = icatdata::IcatdataWriter::new(
                        version,
                        &format!("mxpipe {}", env!("CARGO_PKG_VERSION")),
                    );
                    let mut out = std::io::BufWriter::new(file);
                    std::io::Write::write_all(&mut out, &writer.head())
                        .map_err(|e| ExportError::Config(format!("{}: {e}", partial.display())))?;
                    stream = Some((writer, out, partial));
                }
                Output::Esrf { dir } => std::fs::create_dir_all(dir).map_err(|e| {
                    ExportError::Config(format!("cannot create {}: {e}", dir.display()))
                })?,
            }
        }
        Ok(IcatFiles {
            output,
            builder: graph::Builder::new(settings, file_facts(store).await?),
            dry_run,
            stream,
            locations: HashMap::new(),
            written: Vec::new(),
            units: 0,
        })
    }
}

/// A path with `.` and `..` resolved without the file system (sources were recorded as given,
/// e.g. `/work/main/../data/x.cbf`; sweeps name canonical folders).
pub fn lexical(path: &str) -> String {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in std::path::Path::new(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Source files (size, checksum) and the folder each processing object was read from.
pub async fn file_facts(store: &Store) -> Result<FileFacts, ExportError> {
    let mut facts = FileFacts::default();
    for b in store
        .query("SELECT path, bytes, sha256 FROM sources")
        .await?
    {
        let bytes = arrow::compute::cast(b.column(1), &arrow::datatypes::DataType::Int64)
            .map_err(mxpipe_store::StoreError::from)?;
        let bytes = bytes.as_primitive::<Int64Type>();
        let (path, sha) = (strings(&b, 0), strings(&b, 2));
        for i in 0..b.num_rows() {
            let size = if bytes.is_null(i) { 0 } else { bytes.value(i) };
            facts
                .files
                .insert(lexical(path.value(i)), (size, sha.value(i).to_owned()));
        }
    }
    let sql = "SELECT o.uuid, min(s.path) FROM objects o JOIN sources s ON o.message_id = s.message_id WHERE o.mxlims_type = 'MxProcessing' GROUP BY o.uuid";
    for b in store.query(sql).await? {
        let (uuid, path) = (strings(&b, 0), strings(&b, 1));
        for i in 0..b.num_rows() {
            let folder = std::path::Path::new(&lexical(path.value(i)))
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            facts.folder_of.insert(uuid.value(i).to_owned(), folder);
        }
    }
    Ok(facts)
}

fn count(summary: &mut Summary, kind: &'static str, n: usize) {
    if n > 0 {
        summary.entry(kind).or_default()[0] += n;
    }
}

impl Catalogue for IcatFiles {
    fn display_name(&self) -> &'static str {
        "ICAT"
    }

    fn pixel_size_setting(&self) -> Option<(Option<f64>, &'static str)> {
        Some((self.builder.settings.pixel_size_mm, "[icat] pixel_size_mm"))
    }

    fn id_map(&self) -> Option<(&'static str, &str)> {
        None
    }

    fn experiment_marker(&self) -> &'static str {
        "Dataset:"
    }

    type Prepared = crate::icat::graph::UnitGraph;

    fn prepare(
        &mut self,
        records: &Records,
        unit: &Unit<'_>,
    ) -> Result<crate::icat::graph::UnitGraph, String> {
        self.builder.build(records, unit)
    }

    async fn write_unit(
        &mut self,
        _records: &Records,
        _unit: &Unit<'_>,
        g: crate::icat::graph::UnitGraph,
        _map: &IdMap,
        _log: &mut Vec<String>,
    ) -> Result<Written, String> {
        let mut written = Written::default();
        for d in &g.datasets {
            let kind = if d.raw {
                "Dataset (raw)"
            } else {
                "Dataset (processed)"
            };
            count(&mut written.counts, kind, 1);
            count(&mut written.counts, "DatasetParameter", d.params.len());
            count(&mut written.counts, "Datafile", d.files.len());
            if !d.raw {
                count(&mut written.counts, "Job", 1);
            }
        }
        count(&mut written.counts, "Sample", g.samples.len());
        if self.dry_run {
            return Ok(written);
        }
        if let Some((writer, out, partial)) = &mut self.stream {
            std::io::Write::write_all(out, &writer.unit(&g))
                .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            self.units += 1;
        }
        if let Output::Esrf { dir } = &self.output {
            for d in &g.datasets {
                if let Some(l) = &d.location {
                    self.locations.insert(d.key.clone(), l.clone());
                }
            }
            let software = format!("mxpipe_v{}", env!("CARGO_PKG_VERSION"));
            for (name, bytes) in esrf::unit_messages(&g, &self.locations, &software) {
                let path = dir.join(name);
                write_atomically(&path, &bytes).map_err(|e| e.to_string())?;
                self.written.push(path);
            }
        }
        Ok(written)
    }

    async fn finish(&mut self) -> Result<(), ExportError> {
        let Some((writer, mut out, partial)) = self.stream.take() else {
            return Ok(());
        };
        let Output::Icatdata { path, .. } = &self.output else {
            return Ok(());
        };
        if self.units == 0 {
            // Every unit failed (or none was selected): an empty catalogue file would read as
            // "nothing to catalogue"; leave no file and let the failures speak.
            drop(out);
            let _ = std::fs::remove_file(&partial);
            return Ok(());
        }
        // Written beside the target and renamed: a reader never sees half a file.
        std::io::Write::write_all(&mut out, &writer.tail())
            .and_then(|_| std::io::Write::flush(&mut out))
            .and_then(|_| std::fs::rename(&partial, path))
            .map_err(|e| ExportError::Config(format!("cannot write {}: {e}", path.display())))?;
        self.written.push(path.clone());
        Ok(())
    }
}

/// Write a file beside its target and rename it: a reader never sees half a file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), ExportError> {
    let tmp = path.with_extension("xml.partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| ExportError::Config(format!("cannot write {}: {e}", path.display())))
}
