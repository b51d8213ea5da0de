//! File paths as stored text. The store, MXLIMS JSON and every catalogue hold UTF-8 text, but a
//! Unix file name is bytes: `prot\xE9ine.cbf` (Latin-1) is not UTF-8, and a lossy conversion
//! (`prot�ine.cbf`) names a file that does not exist. So paths are stored percent-encoded where
//! they are not UTF-8: every byte of an invalid sequence as `%XX`, and `%` itself as `%25` so that
//! decoding is exact. A path that is valid UTF-8 without `%` is stored as it is.

use std::path::{Path, PathBuf};

/// The stored text of a path (see the module docs); [`text_path`] gives the bytes back.
pub fn path_text(path: &Path) -> String {
    bytes_text(path_bytes(path).as_ref())
}

/// The path a stored text names: percent-decoded bytes (see the module docs).
pub fn text_path(text: &str) -> PathBuf {
    if !text.contains('%') {
        return PathBuf::from(text);
    }
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(text).collect();
    bytes_path(bytes)
}

/// Percent-encode the bytes that are not UTF-8, and `%`.
fn bytes_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('%', "%25"));
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(path.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(path.to_string_lossy().into_owned().into_bytes())
}

#[cfg(unix)]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn latin1_names_and_percent_signs_round_trip() {
        use std::os::unix::ffi::OsStrExt;
        let raw = Path::new(std::ffi::OsStr::from_bytes(b"/data/prot\xE9ine/100%_1.cbf"));
        let text = path_text(raw);
        assert_eq!(text, "/data/prot%E9ine/100%25_1.cbf");
        assert_eq!(text_path(&text), raw);
        let plain = Path::new("/data/protéine/x_1.cbf");
        assert_eq!(path_text(plain), "/data/protéine/x_1.cbf");
        assert_eq!(text_path(&path_text(plain)), plain);
    }
}
