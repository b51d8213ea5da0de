//! Physical constants and unit conversions used across mxpipe — defined once, here.
//!
//! Units follow MXLIMS: energy in eV, wavelength in Å, lengths in mm, angles in degrees,
//! transmission in % (0–100), times in s.

/// `h·c / e` in eV·Å (CODATA 2018): wavelength (Å) = `HC_EV_ANGSTROM` / energy (eV).
pub const HC_EV_ANGSTROM: f64 = 12_398.419_843_320_026;

/// Seconds per hour (PDBx gives serial collection times in hours, mxpipe in seconds).
pub const SECONDS_PER_HOUR: f64 = 3600.0;

/// An X-ray energy below this many eV can only have been written in keV.
pub const KEV_THRESHOLD_EV: f64 = 1000.0;

/// Energy in eV from a value as written: MXLIMS documents eV, but producers (and the upstream
/// examples) write keV; an X-ray energy below 1000 can only be keV (`12.4` → `12400`).
pub fn energy_ev(as_written: f64) -> f64 {
    if as_written < KEV_THRESHOLD_EV {
        as_written * 1000.0
    } else {
        as_written
    }
}

/// Wavelength (Å) of a photon energy (eV).
pub fn wavelength_a_from_ev(energy_ev: f64) -> f64 {
    HC_EV_ANGSTROM / energy_ev
}

/// Photon energy (eV) of a wavelength (Å).
pub fn ev_from_wavelength_a(wavelength_a: f64) -> f64 {
    HC_EV_ANGSTROM / wavelength_a
}

/// Metres to millimetres.
pub fn m_to_mm(m: f64) -> f64 {
    m * 1000.0
}

/// Millimetres per unit of a length unit as files write it (`m`, `mm`, `um`/`µm`/`micron`, `nm`,
/// spelled out or not); None for a unit that is not a length.
pub fn mm_per_length_unit(unit: &str) -> Option<f64> {
    match unit.trim().to_ascii_lowercase().as_str() {
        "m" | "meter" | "metre" | "meters" | "metres" => Some(1000.0),
        "mm" | "millimeter" | "millimetre" | "millimeters" | "millimetres" => Some(1.0),
        "um" | "µm" | "micron" | "microns" | "micrometer" | "micrometre" | "micrometers"
        | "micrometres" => Some(0.001),
        "nm" | "nanometer" | "nanometre" | "nanometers" | "nanometres" => Some(1e-6),
        _ => None,
    }
}

/// A converted value without binary noise: 13 significant digits (172e-6 m × 1000 is
/// 0.17200000000000001 in binary arithmetic; this gives 0.172).
pub fn tidy(v: f64) -> f64 {
    format!("{v:.12e}").parse().unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kev_values_are_converted_and_round_trip() {
        assert_eq!(energy_ev(12.4), 12_400.0);
        assert_eq!(energy_ev(12_662.0), 12_662.0);
        let w = wavelength_a_from_ev(12_662.0);
        assert!((w - 0.97918).abs() < 1e-4, "{w}");
        assert!((ev_from_wavelength_a(w) - 12_662.0).abs() < 1e-9);
    }
}
