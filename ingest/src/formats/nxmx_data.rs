//! The image data files an NXmx master's `/entry/data` links to (`data_000001` → an external link
//! to `x_000001.h5:/data`), in order, with the number of frames each holds. The link targets are
//! read from the master itself (`H5Lget_val`); the frame count is the first dimension of the
//! linked dataset, which HDF5 reads from the data file's header (no image is read). A data file
//! that is missing keeps its name with an unknown count.

use std::ffi::{CStr, CString};

use crate::DataFile;

/// Largest external-link value read (flags byte + file name + object path).
const LINK_VALUE_MAX: usize = 4096;

/// The data files of `/entry/data`, in link-name order (`data_000001`, `data_000002`, …).
pub fn data_files(file: &hdf5::File) -> Vec<DataFile> {
    let Ok(group) = file.group(super::nxmx_layout::DATA_GROUP) else {
        return Vec::new();
    };
    let Ok(links) = group.links(hdf5::IndexType::Name, hdf5::IterationOrder::Increasing) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, info) in links {
        if info.link_type != hdf5::LinkType::External || !name.starts_with("data_") {
            continue;
        }
        let Some(target) = external_target(&group, &name) else {
            continue;
        };
        let frames = group
            .dataset(&name)
            .ok()
            .and_then(|d| d.shape().first().copied())
            .map(|n| n as i64);
        out.push(DataFile {
            file_name: target,
            frames,
        });
    }
    out
}

/// The file an external link at `path` (e.g. `/entry/data/data_000001`) points to; None when
/// there is no such link or it is not external (repackaging names a missing data file with it).
pub fn external_link_file(file: &hdf5::File, path: &str) -> Option<String> {
    let (parent, leaf) = path.rsplit_once('/')?;
    let group = file
        .group(if parent.is_empty() { "/" } else { parent })
        .ok()?;
    group
        .find_link(Default::default(), Default::default(), |name, info| {
            Ok((name == leaf && info.link_type == hdf5::LinkType::External).then_some(()))
        })
        .ok()??;
    external_target(&group, leaf)
}

/// The file name an external link points to.
fn external_target(group: &hdf5::Group, name: &str) -> Option<String> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; LINK_VALUE_MAX];
    let id = group.id();
    // SAFETY: `buf` is LINK_VALUE_MAX bytes and HDF5 writes at most that many; `cname` is a valid
    // C string; the call is made under hdf5-metno's global lock like every other HDF5 call.
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5l::H5Lget_val(
            id,
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            LINK_VALUE_MAX,
            hdf5_sys::h5p::H5P_DEFAULT,
        )
    });
    if status < 0 {
        return None;
    }
    // An external link value: one flags byte, then the file name and the object path, each
    // NUL-terminated.
    let rest = buf.get(1..)?;
    let file = CStr::from_bytes_until_nul(rest).ok()?;
    let file = file.to_str().ok()?;
    (!file.is_empty()).then(|| file.to_owned())
}
