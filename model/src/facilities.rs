//! Facility and beamline from what collection files write: NXmx `/entry/source/name` (with an
//! optional `short_name` attribute) and `/entry/instrument/name`. The short names below are the
//! ones ISPyB, ICAT and SciCat sites use for themselves; a site adds its own with `[ingest]
//! source_names` in mxpipe.toml (`"Some Light Source" = "SLS2"`), which wins over this list.

use std::collections::BTreeMap;

/// Known source names (compared case-insensitively, whole name) → facility short name.
pub const SOURCE_SHORT_NAMES: &[(&str, &str)] = &[
    ("Diamond Light Source", "DLS"),
    ("Diamond", "DLS"),
    ("European Synchrotron Radiation Facility", "ESRF"),
    ("ESRF", "ESRF"),
    ("MAX IV", "MAX IV"),
    ("MAX IV Laboratory", "MAX IV"),
    ("Synchrotron SOLEIL", "SOLEIL"),
    ("SOLEIL", "SOLEIL"),
    ("Swiss Light Source", "SLS"),
    ("PETRA III", "DESY"),
    ("BESSY II", "HZB"),
    ("ALBA", "ALBA"),
    ("Elettra", "Elettra"),
    ("Australian Synchrotron", "ANSTO"),
    ("Canadian Light Source", "CLS"),
    ("Advanced Photon Source", "APS"),
    ("Advanced Light Source", "ALS"),
    ("National Synchrotron Light Source II", "NSLS-II"),
    ("Stanford Synchrotron Radiation Lightsource", "SSRL"),
    ("SPring-8", "SPring-8"),
    ("European XFEL", "EuXFEL"),
];

/// The facility's short name for a source: its own `short_name` when the file gives one, else
/// the configured map, else [`SOURCE_SHORT_NAMES`], else the name as written.
pub fn facility_short_name(
    source_name: &str,
    short_name: Option<&str>,
    configured: &BTreeMap<String, String>,
) -> Option<String> {
    let name = source_name.trim();
    if let Some(s) = short_name.map(str::trim).filter(|s| !s.is_empty()) {
        return Some(s.to_owned());
    }
    if name.is_empty() {
        return None;
    }
    let known = |k: &str| k.trim().eq_ignore_ascii_case(name);
    configured
        .iter()
        .find(|(k, _)| known(k))
        .map(|(_, v)| v.clone())
        .or_else(|| {
            SOURCE_SHORT_NAMES
                .iter()
                .find(|(k, _)| known(k))
                .map(|(_, v)| (*v).to_owned())
        })
        .or_else(|| Some(name.to_owned()))
}

/// The beamline an instrument name names: the word after `BEAMLINE` (`DIAMOND BEAMLINE I04` →
/// `I04`), else the last word of a name of several words (`ESRF ID23-1` → `ID23-1`), else the
/// name itself.
pub fn beamline_of_instrument(instrument_name: &str) -> Option<String> {
    let words: Vec<&str> = instrument_name.split_whitespace().collect();
    if let Some(i) = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("beamline"))
        && let Some(b) = words.get(i + 1)
    {
        return Some((*b).to_owned());
    }
    words.last().map(|w| (*w).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_real_files() {
        let none = BTreeMap::new();
        assert_eq!(
            facility_short_name("Diamond Light Source", Some("DLS"), &none).as_deref(),
            Some("DLS")
        );
        assert_eq!(
            facility_short_name("diamond light source", None, &none).as_deref(),
            Some("DLS")
        );
        let mine = BTreeMap::from([("Diamond Light Source".to_owned(), "Diamond".to_owned())]);
        assert_eq!(
            facility_short_name("Diamond Light Source", None, &mine).as_deref(),
            Some("Diamond")
        );
        assert_eq!(
            beamline_of_instrument("DIAMOND BEAMLINE I04").as_deref(),
            Some("I04")
        );
        assert_eq!(beamline_of_instrument("ID23-1").as_deref(), Some("ID23-1"));
    }
}
