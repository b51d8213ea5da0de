//! `mxpipe schema`: write, print, list or check the generated JSON Schemas.

use std::path::{Path, PathBuf};

use mxpipe_model::schema::{canonical_name, entries, entry, generated_files};

/// Write the JSON Schemas generated from mxpipe's typed model.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  mxpipe schema --out schemas         # regenerate the checked-in schemas
  mxpipe schema --list
  mxpipe schema messages/MxlimsMessage > MxlimsMessage.json
  mxpipe schema --check schemas       # exit 1 if the folder is stale")]
pub struct SchemaArgs {
    /// Print one schema to standard output instead of writing files.
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Folder to write into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    out: PathBuf,
    /// List the schema names and exit.
    #[arg(long)]
    list: bool,
    /// Compare a folder with the generated schemas; exit 1 if any file differs or is missing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["name", "list"])]
    check: Option<PathBuf>,
}

/// Run the command; returns the exit status.
pub fn run(args: SchemaArgs) -> u8 {
    let (name, out, list, check) = (
        args.name.as_deref(),
        args.out.as_path(),
        args.list,
        args.check.as_deref(),
    );
    if list {
        for e in entries() {
            println!("{}", e.name);
        }
        return 0;
    }
    if let Some(dir) = check {
        return check_dir(dir);
    }
    if let Some(name) = name {
        let Some(full) = canonical_name(name) else {
            eprintln!("error: unknown schema {name:?}; `mxpipe schema --list` shows the names");
            return 2;
        };
        let schema = entry(&full).expect("canonical name exists").generate();
        println!(
            "{}",
            serde_json::to_string_pretty(&schema).expect("schema serialises")
        );
        return 0;
    }
    let files = generated_files();
    for (rel, text) in &files {
        let path = out.join(rel);
        if let Some(parent) = path.parent()
            && let Err(e) = std::fs::create_dir_all(parent)
        {
            eprintln!("error: cannot create {}: {e}", parent.display());
            return 2;
        }
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return 2;
        }
    }
    eprintln!("wrote {} schemas to {}", files.len(), out.display());
    0
}

fn check_dir(dir: &Path) -> u8 {
    let mut stale = 0;
    for (rel, text) in generated_files() {
        let path = dir.join(&rel);
        match std::fs::read_to_string(&path) {
            Ok(on_disk) if on_disk == text => {}
            Ok(_) => {
                eprintln!(
                    "stale: {} differs from the model; run `mxpipe schema --out {}`",
                    path.display(),
                    dir.display()
                );
                stale += 1;
            }
            Err(_) => {
                eprintln!(
                    "missing: {}; run `mxpipe schema --out {}`",
                    path.display(),
                    dir.display()
                );
                stale += 1;
            }
        }
    }
    if stale == 0 {
        eprintln!("{}: up to date", dir.display());
        0
    } else {
        1
    }
}
