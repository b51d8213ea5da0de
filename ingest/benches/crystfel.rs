//! CrystFEL stream reader throughput and memory: `cargo bench -p mxpipe-ingest --bench crystfel`.
//!
//! Generates synthetic streams of growing size (MXPIPE_BENCH_STREAM_MB, default "128,512,1024")
//! in the system temp folder, reads each once with the streaming parser and prints MB/s (one
//! core) and the process's peak resident memory after each size — it must stay flat.

use std::io::{BufWriter, Write};
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let sizes: Vec<u64> = std::env::var("MXPIPE_BENCH_STREAM_MB")
        .unwrap_or_else(|_| "128,512,1024".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let dir = std::env::temp_dir().join("mxpipe-bench-crystfel");
    std::fs::create_dir_all(&dir).expect("temp dir");
    // About 14.4 kB per frame with these proportions; measure rather than trust it.
    let probe = {
        let mut v = Vec::new();
        mxpipe_generate::synthetic::write_crystfel_stream(&mut v, 2000, 1).unwrap();
        v.len() as f64 / 2000.0
    };
    println!("size_mb  frames     read_s  mb_per_s  peak_rss_mb");
    for mb in sizes {
        let frames = ((mb * 1_000_000) as f64 / probe) as usize;
        let path = dir.join(format!("synthetic-{mb}.stream"));
        {
            let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
            mxpipe_generate::synthetic::write_crystfel_stream(&mut w, frames, 7).unwrap();
            w.flush().unwrap();
        }
        let bytes = std::fs::metadata(&path).unwrap().len() as f64;
        let started = Instant::now();
        let (_, counts) = mxpipe_ingest::crystfel::count(&path).expect("stream reads");
        let s = started.elapsed().as_secs_f64();
        assert_eq!(counts.frames as usize, frames);
        println!(
            "{:<8} {:<10} {:<7.2} {:<9.0} {:.1}",
            (bytes / 1e6).round(),
            frames,
            s,
            bytes / 1e6 / s,
            peak_rss_mb()
        );
        std::fs::remove_file(&path).ok();
    }
}
