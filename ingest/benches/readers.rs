//! Reader throughput per format, and linearity: `cargo bench -p mxpipe-ingest --bench readers`
//! (run by hand; needs ../shared/testdata). Each text format is grown from a real file to
//! 1×, 2× and 4× a base size by repeating content the reader must parse (elements, loop rows,
//! records, frames, sweeps); each size is read several times and the best time kept. Prints MB/s
//! and the time ratio of each doubling: a linear reader shows ≈ 2.0, a quadratic one ≈ 4.0.
//! MXPIPE_BENCH_MB sets the base size (default 4). Last, MTZ header reading over 1 000 files
//! (files/s, bytes read per file); `MXPIPE_BENCH_ONLY=mtz` runs only that.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mxpipe_ingest::{ReadOptions, reader_named};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata")
}

fn read(p: &str) -> String {
    let path = testdata().join(p);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file of about `bytes` bytes in the reader's format.
fn grow(reader: &str, bytes: usize) -> Vec<u8> {
    match reader {
        "autoproc-xml" => {
            let seed = read("processing/autoproc/autoPROC.xml");
            let cut = seed.rfind("</AutoProcContainer>").expect("root end");
            let unit = "  <mxpipeBench>\n    <value>1.5 &#233;</value>\n  </mxpipeBench>\n";
            let n = bytes.saturating_sub(seed.len()) / unit.len();
            format!("{}{}{}", &seed[..cut], unit.repeat(n), &seed[cut..]).into_bytes()
        }
        "mmcif" => {
            let seed = read("processing/mmcif/5i55.cif");
            let unit = "1 2.5 'a quoted value'\n";
            let n = bytes.saturating_sub(seed.len()) / unit.len();
            format!(
                "{seed}\nloop_\n_mxpipe_bench.id\n_mxpipe_bench.value\n_mxpipe_bench.note\n{}",
                unit.repeat(n)
            )
            .into_bytes()
        }
        "xds-correct" => {
            let seed = read("processing/xds/CORRECT.LP");
            let unit = " REFLECTIONS OF TYPE H,0,0  0=EVEN  1=ODD\n";
            let n = bytes.saturating_sub(seed.len()) / unit.len();
            format!("{seed}{}", unit.repeat(n)).into_bytes()
        }
        "xds-ascii" => {
            let seed = read("processing/xds/XDS_ASCII.HKL");
            let head_end = seed.find("!END_OF_HEADER").expect("header end");
            let body_start = seed[head_end..].find('\n').expect("newline") + head_end + 1;
            let body_end = seed.rfind("!END_OF_DATA").expect("data end");
            let body = &seed[body_start..body_end];
            let mut out = seed[..body_start].to_owned();
            while out.len() < bytes {
                out.push_str(body);
            }
            out.push_str(&seed[body_end..]);
            out.into_bytes()
        }
        "crystfel" => {
            let frames = (bytes / 14_400).max(1);
            let mut v = Vec::new();
            mxpipe_generate::synthetic::write_crystfel_stream(&mut v, frames, 3).expect("stream");
            v
        }
        "mxlims" => {
            let sweeps = (bytes / 700).max(1);
            let mut dict = serde_json::Map::new();
            for i in 0..sweeps {
                dict.insert(
                    format!("CollectionSweep{}", i + 1),
                    serde_json::json!({"mxlimsType": "CollectionSweep", "scanAxis": "omega", "exposureTime": 0.01,
                        "imageWidth": 0.1, "numberImages": 900, "energy": 12400.0 + i as f64,
                        "scans": [{"scanPositionStart": 0.0, "firstImageNumber": 1, "numberImages": 900, "ordinal": i}],
                        "fileType": "HDF5", "filenameTemplate": format!("x{i}_master.h5"), "path": "/data/bench",
                        "sourceRef": {"$ref": "#/MxExperiment/MxExperiment1"}}),
                );
            }
            serde_json::to_vec(&serde_json::json!({"version": "0.6.13",
                "MxExperiment": {"MxExperiment1": {"mxlimsType": "MxExperiment"}},
                "CollectionSweep": dict}))
            .expect("JSON")
        }
        other => panic!("no generator for {other}"),
    }
}

fn main() {
    if !testdata().is_dir() {
        eprintln!("*** SKIPPED: ../shared/testdata not found ***");
        return;
    }
    let base_mb: f64 = std::env::var("MXPIPE_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let dir = std::env::temp_dir().join("mxpipe-bench-readers");
    std::fs::create_dir_all(&dir).expect("temp dir");
    if std::env::var("MXPIPE_BENCH_ONLY").as_deref() == Ok("mtz") {
        mtz_headers(&dir);
        return;
    }
    println!("reader        size_mb  best_s   mb_per_s  time_ratio_vs_half");
    for reader in [
        "autoproc-xml",
        "mmcif",
        "xds-correct",
        "xds-ascii",
        "crystfel",
        "mxlims",
    ] {
        let r = reader_named(reader).expect("reader");
        let mut previous: Option<f64> = None;
        for factor in [1usize, 2, 4] {
            let bytes = grow(reader, (base_mb * factor as f64 * 1e6) as usize);
            let path = dir.join(format!("{reader}-{factor}"));
            std::fs::write(&path, &bytes).expect("write");
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let t = Instant::now();
                let fragments = r
                    .read(&path, &ReadOptions::default())
                    .unwrap_or_else(|e| panic!("{reader}: {e}"));
                for f in fragments {
                    if let mxpipe_ingest::Fragment::Message { bulk, .. } = f {
                        for b in bulk {
                            (b.open)().for_each(drop);
                        }
                    }
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            let mb = bytes.len() as f64 / 1e6;
            println!(
                "{reader:<13} {mb:<8.1} {best:<8.3} {:<9.1} {}",
                mb / best,
                previous.map_or("-".into(), |p| format!("{:.2}", best / p))
            );
            previous = Some(best);
        }
    }
    mtz_headers(&dir);
}

/// MTZ header reading over a folder of 1 000 copies (500 of the real merged `5e5z.mtz`, 500 of
/// our unmerged sample with batch headers): files/s for the header alone and for the reader
/// (header + MXLIMS message + validation), and the bytes read per file.
fn mtz_headers(dir: &Path) {
    let folder = dir.join("mtz");
    std::fs::create_dir_all(&folder).expect("mtz folder");
    let merged = testdata().join("processing/mtz/5e5z.mtz");
    let unmerged = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/unmerged-two-sweeps.mtz");
    let mut files: Vec<PathBuf> = Vec::new();
    for i in 0..500 {
        for (tag, src) in [("m", &merged), ("u", &unmerged)] {
            let to = folder.join(format!("{tag}{i:04}.mtz"));
            std::fs::copy(src, &to).expect("copy an MTZ file");
            files.push(to);
        }
    }
    let size: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let mut best = f64::INFINITY;
    let mut read = 0;
    for _ in 0..3 {
        let t = Instant::now();
        read = files
            .iter()
            .map(|f| {
                mxpipe_ingest::mtz::read_header(f)
                    .expect("an MTZ header")
                    .bytes_read
            })
            .sum::<u64>();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let reader = reader_named("mtz").expect("mtz reader");
    let mut best_reader = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for f in &files {
            reader
                .read(f, &ReadOptions::default())
                .expect("an MTZ file");
        }
        best_reader = best_reader.min(t.elapsed().as_secs_f64());
    }
    let n = files.len() as f64;
    println!(
        "mtz headers: {} files, {:.0} files/s (header only), {:.0} files/s (reader: + MXLIMS message and validation); \
         bytes read per file {:.0} of {:.0} ({:.0} %)",
        files.len(),
        n / best,
        n / best_reader,
        read as f64 / n,
        size as f64 / n,
        100.0 * read as f64 / size as f64
    );
}
