//! A check of an HDF5 file's superblock before the HDF5 C library opens it.
//!
//! Superblock versions 0 and 1 carry no checksum, and libhdf5 trusts their addresses: fuzzing
//! found a 59-byte file (a version-0 superblock whose driver-information-block address points into
//! the superblock itself) that makes `H5Fopen` allocate and touch 4 GB before it fails. NXmx masters
//! never use a driver information block (family/multi file drivers), and a file cannot end before
//! the end-of-file address its superblock records; this check refuses both cases from the first
//! bytes, so such a file costs nothing. Versions 2 and 3 are protected by their checksum inside
//! libhdf5 and pass through.

/// The 8-byte HDF5 signature.
pub const SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Bytes a version-0/1 superblock with 8-byte addresses occupies up to its last checked field.
const SUPERBLOCK_BYTES: u64 = 64;

/// The first bytes of a file (enough for [`check`]) and its length, from one open.
pub fn read_start(path: &std::path::Path) -> std::io::Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::with_capacity(SUPERBLOCK_BYTES as usize);
    file.take(SUPERBLOCK_BYTES).read_to_end(&mut head)?;
    Ok((head, len))
}

/// An address field with every bit set: "undefined".
fn undefined(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0xff)
}

fn address(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Check the superblock at the start of `head` (the file's first bytes) against the file's
/// length; `Err` says what is wrong, in words for the user.
pub fn check(head: &[u8], file_len: u64) -> Result<(), String> {
    if !head.starts_with(SIGNATURE) {
        return Err("no HDF5 signature at the start of the file".into());
    }
    let Some(&version) = head.get(8) else {
        return Err("a truncated HDF5 superblock".into());
    };
    if version > 1 {
        return Ok(());
    }
    let (Some(&offsets), Some(&lengths)) = (head.get(13), head.get(14)) else {
        return Err("a truncated HDF5 superblock".into());
    };
    if !matches!(offsets, 2 | 4 | 8) || !matches!(lengths, 2 | 4 | 8 | 16 | 32) {
        return Err(format!(
            "an HDF5 superblock with address size {offsets} and length size {lengths} (expected 2, 4 or 8)"
        ));
    }
    // Version 0: addresses start at byte 24; version 1 adds 4 bytes (indexed-storage K, reserved).
    let start = if version == 0 { 24 } else { 28 };
    let n = usize::from(offsets);
    let field = |i: usize| head.get(start + i * n..start + (i + 1) * n);
    let (Some(base), Some(eof), Some(driver)) = (field(0), field(2), field(3)) else {
        return Err("a truncated HDF5 superblock".into());
    };
    if !undefined(driver) {
        return Err(format!(
            "an HDF5 superblock with a driver information block at byte {} (family/multi file drivers are not NXmx masters)",
            address(driver)
        ));
    }
    let end = address(base).saturating_add(address(eof));
    if !undefined(eof) && end > file_len {
        return Err(format!(
            "a truncated HDF5 file: its superblock says {end} bytes, the file has {file_len}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-0 superblock with 8-byte addresses: base 0, no free space, `eof`, `driver`.
    fn superblock(eof: u64, driver: Option<u64>) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend([0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
        b.extend(0u64.to_le_bytes());
        b.extend([0xff; 8]);
        b.extend(eof.to_le_bytes());
        b.extend(driver.map_or([0xff; 8], u64::to_le_bytes));
        b
    }

    #[test]
    fn a_plain_superblock_passes_and_bad_ones_are_named() {
        assert_eq!(check(&superblock(4096, None), 4096), Ok(()));
        let driver = check(&superblock(36, Some(31)), 59).unwrap_err();
        assert!(
            driver.contains("driver information block at byte 31"),
            "{driver}"
        );
        let short = check(&superblock(62239, None), 1000).unwrap_err();
        assert!(
            short.contains("says 62239 bytes, the file has 1000"),
            "{short}"
        );
        assert!(check(&superblock(10, None)[..20], 10).is_err());
        let mut v2 = superblock(10, Some(1));
        v2[8] = 2;
        assert_eq!(
            check(&v2, 5),
            Ok(()),
            "checksummed versions are left to libhdf5"
        );
    }
}
