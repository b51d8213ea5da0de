//! The NXmx paths mxpipe reads and writes, in one place: the reader ([`super::nxmx`]) and
//! `mxpipe repackage` (which writes masters the reader reads back) both use these.

/// mxpipe's own group in every repackaged master: the acquisition order and the experiment.
pub const ACQUISITION: &str = "/entry/mxpipe:acquisition";
/// Name, inside [`ACQUISITION`], of the dataset holding the experiment's MXLIMS JSON.
pub const EXPERIMENT_MXLIMS_NAME: &str = "experiment_mxlims";
/// Where `mxpipe repackage` keeps the experiment's MXLIMS JSON in a sweep master
/// ([`ACQUISITION`]`/`[`EXPERIMENT_MXLIMS_NAME`]).
pub const EMBEDDED_MXLIMS: &str = "/entry/mxpipe:acquisition/experiment_mxlims";
/// The NXdata group whose `data_*` members link to the image data files.
pub const DATA_GROUP: &str = "/entry/data";
/// The image stack: in a master (a virtual dataset), and in a data file (`/data` in some writers).
pub const DATA_STACKS: [&str; 2] = ["/entry/data/data", "/data"];
/// Detector geometry fields whose values must agree over the masters of one sweep.
pub const DETECTOR_GEOMETRY: [&str; 5] = [
    "/entry/instrument/detector/distance",
    "/entry/instrument/detector/beam_center_x",
    "/entry/instrument/detector/beam_center_y",
    "/entry/instrument/detector/x_pixel_size",
    "/entry/instrument/detector/y_pixel_size",
];
/// Pixel masks whose contents must agree over the masters of one sweep.
pub const PIXEL_MASKS: [&str; 2] = [
    "/entry/instrument/detector/pixel_mask",
    "/entry/instrument/detector/detectorSpecific/pixel_mask",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_message_lies_in_the_acquisition_group() {
        assert_eq!(
            EMBEDDED_MXLIMS,
            format!("{ACQUISITION}/{EXPERIMENT_MXLIMS_NAME}")
        );
    }
}
