//! Walking the paths of a run into the files to look at. Every entry met is accounted for: a
//! symbolic link to a file is read; a link to a folder is walked only with `follow` (as `rg -L`)
//! and otherwise reported `skipped`; dangling links and link loops are reported `skipped` with
//! the reason; a folder that cannot be read is reported `failed` and the walk goes on; FIFOs,
//! sockets and devices are `skipped` (opening a FIFO would block the run).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{IngestError, Input, WalkNote};

/// Files named, and files below folders (sorted; hidden entries and the store itself left out),
/// with what the walk found about the entries it could not hand to a reader.
pub(crate) fn expand(
    paths: &[PathBuf],
    store_dir: Option<&Path>,
    follow: bool,
) -> Result<Vec<Input>, IngestError> {
    let store_abs = store_dir.and_then(|p| p.canonicalize().ok());
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |out: &mut Vec<Input>, path: PathBuf, named: bool, note: Option<WalkNote>| {
        if seen.insert(path.clone()) {
            out.push(Input { path, named, note });
        }
    };
    for p in paths {
        if p.is_dir() {
            let walker = walkdir::WalkDir::new(p)
                .follow_links(follow)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    let hidden =
                        e.depth() > 0 && e.file_name().as_encoded_bytes().starts_with(b".");
                    let is_store = store_abs
                        .as_ref()
                        .is_some_and(|s| e.path().canonicalize().ok().as_ref() == Some(s));
                    !hidden && !is_store
                });
            for entry in walker {
                match entry {
                    Ok(entry) => {
                        let kind = entry.file_type();
                        let path = entry.into_path();
                        if kind.is_file() {
                            push(&mut out, path, false, None);
                        } else if kind.is_symlink() {
                            let note = link_note(&path);
                            push(&mut out, path, false, note);
                        } else if !kind.is_dir() {
                            let note = WalkNote::Skipped(
                                "not a regular file (a FIFO, socket or device): not opened".into(),
                            );
                            push(&mut out, path, false, Some(note));
                        }
                    }
                    Err(e) => {
                        let path = e.path().unwrap_or(p).to_owned();
                        let note = if let Some(ancestor) = e.loop_ancestor() {
                            WalkNote::Skipped(format!(
                                "symbolic link loop: leads back to {}; not walked again",
                                ancestor.display()
                            ))
                        } else if let Some(note) =
                            path.is_symlink().then(|| link_note(&path)).flatten()
                        {
                            note
                        } else {
                            let why = e
                                .io_error()
                                .map_or_else(|| e.to_string(), ToString::to_string);
                            WalkNote::Failed(format!("cannot read this folder ({why})"))
                        };
                        push(&mut out, path, false, Some(note));
                    }
                }
            }
        } else if p.is_file() {
            push(&mut out, p.clone(), true, None);
        } else if p.is_symlink() {
            return Err(IngestError::Usage(format!(
                "{}: a dangling symbolic link (to {})",
                p.display(),
                std::fs::read_link(p).unwrap_or_default().display()
            )));
        } else {
            return Err(IngestError::Usage(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// `ELOOP` on Linux (`std::io::ErrorKind::FilesystemLoop` is not stable yet): too many levels of
/// symbolic links.
const ELOOP: i32 = 40;

/// A symbolic link met while not following links: a link to a file is read (None), anything
/// else is reported.
fn link_note(path: &Path) -> Option<WalkNote> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(m) if m.is_dir() => Some(WalkNote::Skipped(format!(
            "symbolic link to the folder {}: not walked; pass --follow to walk linked folders",
            target(path)
        ))),
        Ok(_) => Some(WalkNote::Skipped(format!(
            "symbolic link to {}, which is not a regular file: not opened",
            target(path)
        ))),
        Err(e) if e.raw_os_error() == Some(ELOOP) => Some(WalkNote::Skipped(format!(
            "symbolic link loop: its target {} resolves back to a link on its own path",
            target(path)
        ))),
        Err(_) => Some(dangling(path)),
    }
}

fn dangling(path: &Path) -> WalkNote {
    WalkNote::Skipped(format!(
        "dangling symbolic link: its target {} does not exist",
        target(path)
    ))
}

fn target(path: &Path) -> String {
    std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_else(|_| "?".into())
}
