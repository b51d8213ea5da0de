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
