//! One fuzz target for every reader: `MXPIPE_FUZZ_READER=<name>` (as `mxpipe formats` lists
//! them, or `detect`) chooses which. The input is written to a file in /dev/shm and read as
//! `mxpipe ingest` would (the readers take files); a panic or crash is a finding.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mxpipe_ingest::{Fragment, ReadOptions, Reader};

struct Target {
    reader: Option<&'static dyn Reader>,
    file: PathBuf,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let name = std::env::var("MXPIPE_FUZZ_READER").expect("set MXPIPE_FUZZ_READER");
        let reader = (name != "detect").then(|| {
            mxpipe_ingest::reader_named(&name)
                .unwrap_or_else(|| panic!("MXPIPE_FUZZ_READER={name}: no such reader"))
        });
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let file = dir.join(format!("mxpipe-fuzz-{name}-{}.input", std::process::id()));
        Target { reader, file }
    })
}

fuzz_target!(|data: &[u8]| {
    let t = target();
    std::fs::write(&t.file, data).expect("write the input file");
    let reader = match t.reader {
        Some(r) => r,
        None => match mxpipe_ingest::detect(&t.file) {
            Ok(r) => r,
            Err(_) => return,
        },
    };
    if let Ok(fragments) = reader.read(&t.file, &ReadOptions::default()) {
        // Bulk rows are streamed from the file later: read them too.
        for f in fragments {
            if let Fragment::Message { bulk, .. } = f {
                for b in bulk {
                    for batch in (b.open)() {
                        let _ = batch;
                    }
                }
            }
        }
    }
});
