//! The beam centre in mm, the same for every catalogue: `beamPosition` (pixels, MXLIMS) × the
//! detector pixel size the collection files state (`extensions["mxpipe.org"].pixelSizeMm`, read
//! from CBF `Pixel_size` and NXmx `x_pixel_size`/`y_pixel_size`). A configured pixel size
//! (`[ispyb|icat|scicat] pixel_size_mm`) is used only for a sweep whose files state none, and the
//! run warns ([`warning`]); without either the beam centre in mm is left out.

use serde_json::Value;

/// The pixel size x, y (mm) a sweep's files state.
pub fn pixel_size_mm(sweep: &Value) -> Option<[f64; 2]> {
    let p = &sweep["extensions"]["mxpipe.org"]["pixelSizeMm"];
    Some([p[0].as_f64()?, p[1].as_f64()?])
}

/// Beam centre x, y (mm) of a sweep: see the module docs.
pub fn beam_centre_mm(sweep: &Value, configured: Option<f64>) -> [Option<f64>; 2] {
    let size = pixel_size_mm(sweep).or(configured.map(|c| [c, c]));
    let at = |i: usize| {
        let px = sweep["beamPosition"][i].as_f64()?;
        Some(mxpipe_model::units::tidy(px * size?[i]))
    };
    [at(0), at(1)]
}

/// Does a sweep need the configured pixel size (a beam position, no pixel size in its files)?
pub fn needs_configured(sweep: &Value) -> bool {
    sweep["beamPosition"].is_array() && pixel_size_mm(sweep).is_none()
}

/// The run's warning about sweeps whose files state no pixel size (`sweeps`: their uuids).
pub fn warning(setting: &str, configured: Option<f64>, sweeps: &[&str]) -> Option<String> {
    let first = sweeps.first()?;
    let n = sweeps.len();
    Some(match configured {
        Some(c) => format!(
            "{n} sweep(s) (first: {first}) state no detector pixel size in their files: their beam centre in mm uses the configured {setting} = {c} mm"
        ),
        None => format!(
            "{n} sweep(s) (first: {first}) state no detector pixel size in their files and {setting} is not set: their beam centre in mm is left out"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_files_pixel_size_wins_over_the_configured_one() {
        let cbf = json!({"beamPosition": [2000.0, 2000.0], "extensions": {"mxpipe.org": {"pixelSizeMm": [0.172, 0.172]}}});
        assert_eq!(
            beam_centre_mm(&cbf, Some(0.075)),
            [Some(344.0), Some(344.0)]
        );
        let bare = json!({"beamPosition": [2000.0, 1000.0]});
        assert_eq!(
            beam_centre_mm(&bare, Some(0.075)),
            [Some(150.0), Some(75.0)]
        );
        assert_eq!(beam_centre_mm(&bare, None), [None, None]);
        assert!(needs_configured(&bare) && !needs_configured(&cbf));
    }
}
