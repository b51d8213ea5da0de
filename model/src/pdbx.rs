//! PDBx/mmCIF vocabulary shared by the mmCIF reader (`mxpipe-ingest`) and writer
//! (`mxpipe-export`): which `_reflns` / `_reflns_shell` item holds which MXLIMS
//! ReflectionStatistics field, and the wwPDB names of synchrotron sites. Data, one place.
//!
//! Conventions of the PDBx dictionary, kept in the store: R factors and CC½ are fractions,
//! completeness is in %, resolution in Å.

/// One ReflectionStatistics field and the PDBx items that hold it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatisticsItem {
    /// MXLIMS ReflectionStatistics field, e.g. `R_merge`.
    pub field: &'static str,
    /// `_reflns` items, the one written first; the others are read when it is absent. Empty:
    /// PDBx has no overall item for it.
    pub overall: &'static [&'static str],
    /// `_reflns_shell` items, likewise.
    pub shell: &'static [&'static str],
    /// A count (written and read as an integer).
    pub count: bool,
    /// A correlation coefficient (percentages above 1 written by old pipelines are read / 100).
    pub correlation: bool,
}

const fn item(
    field: &'static str,
    overall: &'static [&'static str],
    shell: &'static [&'static str],
) -> StatisticsItem {
    StatisticsItem {
        field,
        overall,
        shell,
        count: false,
        correlation: false,
    }
}

const fn count(
    field: &'static str,
    overall: &'static [&'static str],
    shell: &'static [&'static str],
) -> StatisticsItem {
    StatisticsItem {
        field,
        overall,
        shell,
        count: true,
        correlation: false,
    }
}

const fn cc(field: &'static str, items: &'static [&'static str]) -> StatisticsItem {
    StatisticsItem {
        field,
        overall: items,
        shell: items,
        count: false,
        correlation: true,
    }
}

/// ReflectionStatistics ↔ `_reflns` / `_reflns_shell` (resolution limits apart:
/// `d_resolution_low/high`, `d_res_low/high`). `numberReflectionsRejected` has a shell item
/// only: PDBx 5.362 defines no `_reflns.pdbx_rejects`.
#[rustfmt::skip]
pub const STATISTICS_ITEMS: &[StatisticsItem] = &[
    count("numberObservations", &["pdbx_number_measured_all"], &["number_measured_obs", "number_measured_all"]),
    count("numberObservationsUnique", &["number_obs"], &["number_unique_obs", "number_unique_all"]),
    count("numberReflectionsRejected", &[], &["pdbx_rejects"]),
    item("chiSquared", &["pdbx_chi_squared"], &["pdbx_chi_squared"]),
    item("R_merge", &["pdbx_Rmerge_I_obs", "pdbx_Rsym_value"], &["Rmerge_I_obs", "Rmerge_I_all", "pdbx_Rsym_value"]),
    item("R_meas", &["pdbx_Rrim_I_all"], &["pdbx_Rrim_I_all"]),
    item("R_pim", &["pdbx_Rpim_I_all"], &["pdbx_Rpim_I_all"]),
    item("I_over_SigI", &["pdbx_netI_over_sigmaI", "pdbx_netI_over_av_sigmaI"], &["meanI_over_sigI_obs", "pdbx_netI_over_sigmaI_obs", "meanI_over_sigI_all"]),
    cc("CC_one_half", &["pdbx_CC_half"]),
    cc("CC_ano", &["pdbx_CC_half_anomalous"]),
    item("SigAno", &["pdbx_absDiff_over_sigma_anomalous"], &["pdbx_absDiff_over_sigma_anomalous"]),
    item("Completeness", &["percent_possible_obs"], &["percent_possible_all", "percent_possible_obs"]),
    item("CompletenessSpherical", &["pdbx_percent_possible_spherical"], &["pdbx_percent_possible_spherical"]),
    item("CompletenessEllipsoidal", &["pdbx_percent_possible_ellipsoidal"], &["pdbx_percent_possible_ellipsoidal"]),
    item("Redundancy", &["pdbx_redundancy"], &["pdbx_redundancy"]),
    item("CompletenessAno", &["pdbx_percent_possible_anomalous"], &["pdbx_percent_possible_anomalous"]),
    item("CompletenessAnoSpherical", &["pdbx_percent_possible_spherical_anomalous"], &["pdbx_percent_possible_spherical_anomalous"]),
    item("CompletenessAnoEllipsoidal", &["pdbx_percent_possible_ellipsoidal_anomalous"], &["pdbx_percent_possible_ellipsoidal_anomalous"]),
    item("RedundancyAno", &["pdbx_redundancy_anomalous"], &["pdbx_redundancy_anomalous"]),
];

/// A facility (mxpipe's short name, see [`crate::facilities`]) as the wwPDB names it: the
/// prefix of `_diffrn_source.type` (`DIAMOND` in `DIAMOND BEAMLINE I04`), the
/// `_diffrn_source.pdbx_synchrotron_site` value and the `_diffrn_source.source`.
#[rustfmt::skip]
pub const SOURCE_SITES: &[(&str, &str, &str, &str)] = &[
    ("DLS", "DIAMOND", "Diamond", "SYNCHROTRON"),
    ("ESRF", "ESRF", "ESRF", "SYNCHROTRON"),
    ("MAX IV", "MAX IV", "MAX IV", "SYNCHROTRON"),
    ("MAXIV", "MAX IV", "MAX IV", "SYNCHROTRON"),
    ("SOLEIL", "SOLEIL", "SOLEIL", "SYNCHROTRON"),
    ("SLS", "SLS", "SLS", "SYNCHROTRON"),
    ("DESY", "PETRA III, DESY", "PETRA III, DESY", "SYNCHROTRON"),
    ("PETRAIII", "PETRA III, DESY", "PETRA III, DESY", "SYNCHROTRON"),
    ("HZB", "BESSY", "BESSY", "SYNCHROTRON"),
    ("ALBA", "ALBA", "ALBA", "SYNCHROTRON"),
    ("Elettra", "ELETTRA", "ELETTRA", "SYNCHROTRON"),
    ("ANSTO", "AUSTRALIAN SYNCHROTRON", "Australian Synchrotron", "SYNCHROTRON"),
    ("CLS", "CLSI", "CLSI", "SYNCHROTRON"),
    ("APS", "APS", "APS", "SYNCHROTRON"),
    ("ALS", "ALS", "ALS", "SYNCHROTRON"),
    ("NSLS-II", "NSLS-II", "NSLS-II", "SYNCHROTRON"),
    ("SSRL", "SSRL", "SSRL", "SYNCHROTRON"),
    ("SPring-8", "SPRING-8", "SPring-8", "SYNCHROTRON"),
    ("EuXFEL", "EUROPEAN XFEL", "European XFEL", "FREE ELECTRON LASER"),
];

/// `_diffrn_source.type`, `pdbx_synchrotron_site` and `source` for a facility and beamline
/// (`DLS`, `i04` → `DIAMOND BEAMLINE I04`, `Diamond`, `SYNCHROTRON`). A beamline written all in
/// lower case is upper-cased (the wwPDB list writes `I04`, `ID23-1`, `BioMAX`); an unknown
/// facility keeps its own name.
pub fn diffrn_source(facility: &str, beamline: &str) -> (String, String, &'static str) {
    let (prefix, site, source) = SOURCE_SITES
        .iter()
        .find(|(short, ..)| short.eq_ignore_ascii_case(facility))
        .map_or(
            (facility.to_uppercase(), facility.to_owned(), "SYNCHROTRON"),
            |s| (s.1.to_owned(), s.2.to_owned(), s.3),
        );
    let beamline = if beamline.chars().any(|c| c.is_ascii_uppercase()) {
        beamline.to_owned()
    } else {
        beamline.to_uppercase()
    };
    (format!("{prefix} BEAMLINE {beamline}"), site, source)
}

/// `_diffrn_detector.detector` values (the general class); a `detectorType` outside this list
/// is a make and model (`_diffrn_detector.type`).
pub const DETECTOR_CLASSES: &[&str] = &[
    "PIXEL",
    "CCD",
    "CMOS",
    "IMAGE PLATE",
    "AREA DETECTOR",
    "DIFFRACTOMETER",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_named_as_the_wwpdb_names_them() {
        assert_eq!(diffrn_source("DLS", "i04").0, "DIAMOND BEAMLINE I04");
        assert_eq!(
            diffrn_source("MAX IV", "BioMAX").0,
            "MAX IV BEAMLINE BioMAX"
        );
        assert_eq!(diffrn_source("ESRF", "ID23-1").1, "ESRF");
        assert_eq!(diffrn_source("Somewhere", "b1").0, "SOMEWHERE BEAMLINE B1");
    }

    #[test]
    fn every_statistic_has_an_item() {
        for s in STATISTICS_ITEMS {
            assert!(!s.shell.is_empty(), "{}", s.field);
        }
    }
}
