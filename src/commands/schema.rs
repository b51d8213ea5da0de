//! `mxpipe schema`: write, print, list or check the generated JSON Schemas.

use std::path::{Path, PathBuf};

use mxpipe_model::schema::{canonical_name, entries, entry};

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
    match mxpipe_app::schemas::write_generated(out) {
        Ok(n) => {
            eprintln!("wrote {n} schemas to {}", out.display());
            0
        }
        Err(e) => crate::cli::fail(e),
    }
}

fn check_dir(dir: &Path) -> u8 {
    let stale = mxpipe_app::schemas::stale_in(dir);
    for line in &stale {
        eprintln!("{line}");
    }
    if stale.is_empty() {
        eprintln!("{}: up to date", dir.display());
    }
    u8::from(!stale.is_empty())
}
