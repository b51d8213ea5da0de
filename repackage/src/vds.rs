//! The mappings of a virtual dataset, read with the HDF5 C API: hdf5-metno's `virtual_map()`
//! converts each selection and fails on regular hyperslabs with blocks ("Blocks can not overlap"),
//! which is how Eiger and nexgen masters map their data files — so it returns nothing for them.

use std::ffi::{CStr, c_char};

use hdf5_sys::h5i::hid_t;

/// One mapping of a virtual dataset: where its frames come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// The source file as stored (`.` is the virtual dataset's own file).
    pub file: String,
    /// The source dataset's path in that file.
    pub dataset: String,
    /// The source dataset's first dimension as the mapping declares it (frames).
    pub frames: u64,
}

/// Every mapping of the dataset whose creation property list is `dcpl`; None when HDF5 cannot
/// say (the caller then refuses: unknown sources are not checked sources).
pub fn mappings(dcpl: hid_t) -> Option<Vec<Mapping>> {
    // SAFETY: every call takes the valid property list id the caller holds, buffers are sized by
    // a first call that asks for the length, and dataspace ids opened here are closed here; made
    // under hdf5-metno's global lock like every other HDF5 call.
    hdf5::sync::sync(|| unsafe {
        let mut count = 0usize;
        if hdf5_sys::h5p::H5Pget_virtual_count(dcpl, &mut count) < 0 {
            return None;
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let file = text(|b, n| hdf5_sys::h5p::H5Pget_virtual_filename(dcpl, i, b, n))?;
            let dataset = text(|b, n| hdf5_sys::h5p::H5Pget_virtual_dsetname(dcpl, i, b, n))?;
            let space = hdf5_sys::h5p::H5Pget_virtual_srcspace(dcpl, i);
            if space < 0 {
                return None;
            }
            let mut dims: [u64; 32] = [0; 32];
            let rank = hdf5_sys::h5s::H5Sget_simple_extent_dims(
                space,
                dims.as_mut_ptr(),
                std::ptr::null_mut(),
            );
            hdf5_sys::h5s::H5Sclose(space);
            if rank < 1 {
                return None;
            }
            out.push(Mapping {
                file,
                dataset,
                frames: dims[0],
            });
        }
        Some(out)
    })
}

/// A string HDF5 writes into a buffer: first the length, then the text.
///
/// # Safety
/// `get` must be an HDF5 name getter that writes at most `n` bytes (NUL included) into `b`.
unsafe fn text(get: impl Fn(*mut c_char, usize) -> isize) -> Option<String> {
    let len = get(std::ptr::null_mut(), 0);
    if len < 0 {
        return None;
    }
    let mut buf = vec![0u8; len as usize + 1];
    if get(buf.as_mut_ptr().cast(), buf.len()) < 0 {
        return None;
    }
    let s = CStr::from_bytes_until_nul(&buf).ok()?;
    Some(s.to_string_lossy().into_owned())
}

/// The file an external link at `path` in `file` points to (an Eiger master's `data_000001`),
/// None when the link is not external or cannot be read.
pub fn external_link_file(file: &hdf5::File, path: &str) -> Option<String> {
    const MAX: usize = 4096;
    let (parent, leaf) = path.rsplit_once('/')?;
    let group = file
        .group(if parent.is_empty() { "/" } else { parent })
        .ok()?;
    let external: Option<()> = group
        .find_link(Default::default(), Default::default(), |name, info| {
            Ok((name == leaf && info.link_type == hdf5::LinkType::External).then_some(()))
        })
        .ok()?;
    external?;
    let cname = std::ffi::CString::new(path).ok()?;
    let mut buf = vec![0u8; MAX];
    let id = file.id();
    // SAFETY: `buf` is MAX bytes and HDF5 writes at most that many; `cname` is a valid C string;
    // made under hdf5-metno's global lock.
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5l::H5Lget_val(
            id,
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            MAX,
            hdf5_sys::h5p::H5P_DEFAULT,
        )
    });
    if status < 0 {
        return None;
    }
    // An external link value: one flags byte, then the file name and the object path, each
    // NUL-terminated.
    let name = CStr::from_bytes_until_nul(buf.get(1..)?)
        .ok()?
        .to_str()
        .ok()?;
    (!name.is_empty()).then(|| name.to_owned())
}
