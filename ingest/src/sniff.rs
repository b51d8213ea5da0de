//! What a file is when no reader claims it, and which HDF5 files are image data of a master.
//! Works on the first bytes only (never on text cut at a byte offset), so any content is safe.

use std::path::{Path, PathBuf};

/// How many bytes of a file are looked at to recognise it.
pub const HEAD_BYTES: u64 = 4096;

/// The first bytes of a file.
pub fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    std::fs::File::open(path)?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Known non-metadata kinds by signature, then by extension: (signature, description).
const SIGNATURES: &[(&[u8], &str)] = &[
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"II*\0", "a TIFF image"),
    (b"MM\0*", "a TIFF image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\0", "an xz-compressed file"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
];

const EXTENSIONS: &[(&str, &str)] = &[
    ("log", "a log file"),
    ("txt", "a text file"),
    ("pdb", "a PDB coordinate file"),
    ("ent", "a PDB coordinate file"),
    ("map", "a map file"),
    ("ccp4", "a map file"),
    ("mrc", "a map file"),
    ("sh", "a script"),
    ("py", "a script"),
    ("html", "an HTML page"),
    ("png", "a PNG image"),
    ("jpg", "a JPEG image"),
    ("jpeg", "a JPEG image"),
];

/// A short description of a file no reader claims, e.g. `a JPEG image`, `a log file`,
/// `binary content starting "....."`.
pub fn describe(path: &Path, head: &[u8]) -> String {
    if head.is_empty() {
        return "an empty file".into();
    }
    if let Some((_, what)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return (*what).to_owned();
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some((_, what)) = EXTENSIONS.iter().find(|(e, _)| *e == ext) {
        return (*what).to_owned();
    }
    let printable = head
        .iter()
        .filter(|&&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        .count();
    let kind = if printable * 10 >= head.len() * 9 {
        "text"
    } else {
        "binary content"
    };
    let start: String = head
        .iter()
        .take(24)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{kind} starting {start:?}")
}

/// The master file an HDF5 image-data file belongs to by the names detectors and beamlines write:
/// `x_data_000001.h5` (DECTRIS), `x_000001.h5` (DLS/nexgen) and the DECTRIS metadata file
/// `x_meta.h5` → `x_master.h5` in the same folder, when that file exists. The data file itself
/// is not opened.
pub fn master_of_data_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".h5")
        .or_else(|| name.strip_suffix(".hdf5"))
        .or_else(|| name.strip_suffix(".nxs"))?;
    let base = match stem.strip_suffix("_meta") {
        // DECTRIS detector metadata, linked from the master.
        Some(base) => base,
        None => {
            let digits = stem.bytes().rev().take_while(u8::is_ascii_digit).count();
            if digits < 5 {
                return None;
            }
            let base = stem[..stem.len() - digits].strip_suffix('_')?;
            base.strip_suffix("_data").unwrap_or(base)
        }
    };
    if base.is_empty() {
        return None;
    }
    ["_master.h5", "_master.nxs", ".nxs"]
        .iter()
        .map(|suffix| path.with_file_name(format!("{base}{suffix}")))
        .find(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_name_their_master_only_when_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let master = dir.path().join("lyso_1_master.h5");
        std::fs::write(&master, b"x").unwrap();
        for data in [
            "lyso_1_data_000001.h5",
            "lyso_1_000002.h5",
            "lyso_1_meta.h5",
        ] {
            assert_eq!(
                master_of_data_file(&dir.path().join(data)).as_deref(),
                Some(master.as_path())
            );
        }
        assert_eq!(
            master_of_data_file(&dir.path().join("other_000001.h5")),
            None
        );
        assert_eq!(
            master_of_data_file(&dir.path().join("lyso_1_master.h5")),
            None
        );
        assert_eq!(master_of_data_file(&dir.path().join("é_000001.h5")), None);
    }

    #[test]
    fn descriptions_never_cut_text() {
        let p = Path::new("snapshot_1.jpg");
        assert_eq!(describe(p, b"\xff\xd8\xff\xe0..."), "a JPEG image");
        assert_eq!(
            describe(Path::new("gda.log"), "é".repeat(3000).as_bytes()),
            "a log file"
        );
        let odd = describe(Path::new("x"), "ééé\u{1F600}".as_bytes());
        assert!(
            odd.starts_with("text starting") || odd.starts_with("binary"),
            "{odd}"
        );
    }
}
