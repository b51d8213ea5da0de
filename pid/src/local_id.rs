//! Short local identifiers: 40 random bits as 8 Crockford base32 characters plus Crockford's
//! check symbol (the value modulo 37), written `xxxx-xxxx-c` in lower case. Every character is
//! in DataCite's DOI-suffix set, so a local id can later become the suffix of a DOI unchanged.
//! Decoding accepts upper or lower case and ignores hyphens; a mistyped character is caught by
//! the check symbol.

/// Crockford's 32 symbols followed by the 5 extra check symbols.
const SYMBOLS: &[u8; 37] = b"0123456789abcdefghjkmnpqrstvwxyz*~$=u";

/// A new random id (from a version-4 uuid's random bits).
pub fn new_id() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    encode(u64::from_be_bytes([
        0, 0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
    ]))
}

/// The id of a 40-bit value.
pub fn encode(value: u64) -> String {
    let value = value & ((1 << 40) - 1);
    let body = base32::encode(
        base32::Alphabet::Crockford,
        &value.to_be_bytes()[3..], // 5 bytes = 8 symbols, no padding
    )
    .to_ascii_lowercase();
    let check = SYMBOLS[(value % 37) as usize] as char;
    format!("{}-{}-{check}", &body[..4], &body[4..])
}

/// The 40-bit value of an id, or why it is not one (length, a character outside the alphabet,
/// a check symbol that does not match).
pub fn decode(id: &str) -> Result<u64, String> {
    let clean: String = id.chars().filter(|c| *c != '-').collect();
    if clean.len() != 9 || !clean.is_ascii() {
        return Err(format!(
            "{id:?} is not a local id: expected 8 characters and a check character, like 7f3a-9c2k-x"
        ));
    }
    let (body, check) = clean.split_at(8);
    let bytes = base32::decode(base32::Alphabet::Crockford, body).ok_or_else(|| {
        format!("{id:?} is not a local id: {body:?} has characters outside Crockford base32")
    })?;
    let mut buf = [0u8; 8];
    buf[3..].copy_from_slice(&bytes[..5]);
    let value = u64::from_be_bytes(buf);
    let want = SYMBOLS[(value % 37) as usize];
    let got = check.as_bytes()[0].to_ascii_lowercase();
    if got != want {
        return Err(format!(
            "{id:?}: the check character is {:?} but the id's characters give {:?} (a mistyped character?)",
            got as char, want as char
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_mistypes_are_caught() {
        for v in [0u64, 1, 36, 37, 0xff_ffff_ffff, 0x12_3456_789a] {
            let id = encode(v);
            assert_eq!(id.len(), 11, "{id}");
            assert_eq!(decode(&id), Ok(v), "{id}");
            assert_eq!(decode(&id.to_uppercase()), Ok(v));
        }
        let id = encode(0x12_3456_789a);
        // Any single substituted character of the body is caught by the check symbol.
        for pos in [0usize, 3, 5, 8] {
            let mut b = id.clone().into_bytes();
            b[pos] = if b[pos] == b'7' { b'8' } else { b'7' };
            let typo = String::from_utf8(b).unwrap();
            assert!(decode(&typo).is_err(), "{typo} accepted");
        }
        assert!(decode("abc").is_err());
        assert!(decode("ûûûû-ûûûû-û").is_err());
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(decode(&a).is_ok());
        // Every character is in DataCite's DOI-suffix set.
        let suffix = regex_lite_check(&encode(0xff_ffff_fff0));
        assert!(suffix, "{}", encode(0xff_ffff_fff0));
    }

    fn regex_lite_check(s: &str) -> bool {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._;()/:*~$=".contains(c))
    }
}
