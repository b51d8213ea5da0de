//! Write a deterministic synthetic CrystFEL stream (for benchmarks and demos):
//! `cargo run -p mxpipe-ingest --example synthetic_stream -- FRAMES OUT [SEED]`.

use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synthetic_stream FRAMES OUT [SEED]");
        std::process::exit(2);
    }
    let frames: usize = args[1].parse().expect("FRAMES is a number");
    let seed: u64 = args
        .get(3)
        .map_or(7, |s| s.parse().expect("SEED is a number"));
    let mut out = BufWriter::new(std::fs::File::create(&args[2]).expect("OUT can be created"));
    mxpipe_generate::synthetic::write_crystfel_stream(&mut out, frames, seed).expect("write");
    out.flush().expect("write");
}
