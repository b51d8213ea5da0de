//! One module per file format, named after it (gemmi's layout). Each reader implements
//! [`crate::Reader`] and is registered by one line in [`crate::READERS`].

pub mod autoproc_xml;
pub mod cbf;
pub mod cif;
pub mod crystfel;
pub mod dials;
pub mod hdf5_superblock;
pub mod mmcif;
pub mod mtz;
pub mod mxlims;
pub mod nxmx;
pub mod nxmx_data;
pub mod nxmx_layout;
pub mod xds_ascii;
pub mod xds_correct;
