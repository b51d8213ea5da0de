//! The binary side of an MTZ file: the start (signature, header offset, machine stamp), the
//! 80-character header records, the history and the batch headers, read without the
//! reflections.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use mxpipe_model::{MtzColumn, MtzDataset};
use serde::Serialize;

use crate::ReadError;

/// The most header (records, history and batch headers: ~1 KB per image) read from one file.
pub const MAX_HEADER_BYTES: u64 = 256 << 20;

/// Byte order of the numbers in the file (from the machine stamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ByteOrder {
    /// Stamp `0x44 0x41` (`DA`): IEEE little-endian.
    Little,
    /// Stamp `0x11 0x11`: IEEE big-endian.
    Big,
}

/// One binary batch header (one image of an unmerged file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Batch {
    /// Batch number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// The integer words (29 in CCP4's layout; `ints[20]` is the dataset id).
    pub ints: Vec<i32>,
    /// The real words (156 in CCP4's layout; cell 0–5, U matrix 6–14, φ start 36, φ end 37,
    /// wavelength 86).
    pub floats: Vec<f32>,
    /// Goniometer axis names (`BHCH`).
    pub axes: Vec<String>,
}

impl Batch {
    fn float(&self, i: usize) -> Option<f32> {
        self.floats.get(i).copied()
    }
    /// Dataset id (`ints[20]`).
    pub fn dataset_id(&self) -> i64 {
        self.ints.get(20).map_or(0, |v| i64::from(*v))
    }
    /// φ at the start of the image (degrees).
    pub fn phi_start(&self) -> Option<f32> {
        self.float(36)
    }
    /// φ at the end of the image (degrees).
    pub fn phi_end(&self) -> Option<f32> {
        self.float(37)
    }
    /// Wavelength (Å).
    pub fn wavelength(&self) -> Option<f32> {
        self.float(86)
    }
    /// Cell of the batch (a, b, c Å; α, β, γ degrees).
    pub fn cell(&self) -> Option<[f32; 6]> {
        self.floats.get(..6)?.try_into().ok()
    }
    /// Orientation matrix U, row by row (`floats[6..15]` are stored column by column).
    pub fn orientation(&self) -> Option<[f32; 9]> {
        let f = self.floats.get(6..15)?;
        Some([f[0], f[3], f[6], f[1], f[4], f[7], f[2], f[5], f[8]])
    }
}

/// Everything the header and batch headers of an MTZ file say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// Byte order of the numbers.
    pub byte_order: ByteOrder,
    /// Byte position of the header records.
    pub header_position: u64,
    /// `VERS`, e.g. `MTZ:V1.1`.
    pub version: String,
    /// `TITLE`.
    pub title: String,
    /// Number of columns (`NCOL`).
    pub number_columns: i64,
    /// Number of reflection records (`NCOL`).
    pub number_reflections: i64,
    /// Number of batches (`NCOL`).
    pub number_batches: i64,
    /// Global cell a, b, c (Å), α, β, γ (degrees) (`CELL`).
    pub cell: Option<[f64; 6]>,
    /// Sort order (`SORT`).
    pub sort_order: Vec<i64>,
    /// Symmetry operations, primitive operations, lattice type, space-group number and name,
    /// point group (`SYMINF`).
    pub symmetry: Option<Symmetry>,
    /// Symmetry operators as written (`SYMM`).
    pub symops: Vec<String>,
    /// Smallest and largest 1/d² (`RESO`, Å⁻²).
    pub reso: Option<[f64; 2]>,
    /// The value that marks a missing number (`VALM`); none for NaN.
    pub missing_value: Option<f64>,
    /// Columns.
    pub columns: Vec<MtzColumn>,
    /// Datasets.
    pub datasets: Vec<MtzDataset>,
    /// History lines (`MTZHIST`).
    pub history: Vec<String>,
    /// Batch headers (unmerged files).
    pub batches: Vec<Batch>,
    /// Bytes of the file read (the first 20 and the header onwards).
    pub bytes_read: u64,
}

/// `SYMINF`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Symmetry {
    /// Number of symmetry operations.
    pub operations: i64,
    /// Number of primitive operations.
    pub primitive_operations: i64,
    /// Lattice type, e.g. `P`.
    pub lattice: String,
    /// Space-group number.
    pub number: i64,
    /// Space-group name, e.g. `P 1 21 1`.
    pub name: String,
    /// Point group, e.g. `PG2`.
    pub point_group: String,
}

impl Header {
    /// Resolution range (low, high) in Å from `RESO`.
    pub fn resolution(&self) -> Option<(f64, f64)> {
        let [min, max] = self.reso?;
        (min > 0.0 && max >= min).then(|| (1.0 / min.sqrt(), 1.0 / max.sqrt()))
    }
}

/// The bytes after the header position, as 80-character records, read one at a time.
struct Records<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    at: usize,
    /// Where the record read last starts (what an error about its content names).
    last: usize,
    base: u64,
    order: ByteOrder,
}

impl<'a> Records<'a> {
    fn place(&self) -> String {
        format!("byte {}", self.base + self.last as u64)
    }

    /// An error about the content of the record read last.
    fn error(&self, expected: impl Into<String>, found: impl Into<String>) -> ReadError {
        ReadError::new(self.path, self.place(), expected, found)
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ReadError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            let at = format!("byte {}", self.base + self.at as u64);
            return Err(ReadError::new(
                self.path,
                at,
                what.to_owned(),
                "the end of the file (truncated)",
            ));
        };
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn record(&mut self) -> Result<String, ReadError> {
        self.last = self.at;
        let r = self.take(80, "an 80-character header record")?;
        Ok(String::from_utf8_lossy(r).trim_end().to_owned())
    }

    fn words<T>(&mut self, n: usize, what: &str, f: fn([u8; 4]) -> T) -> Result<Vec<T>, ReadError> {
        let bytes = self.take(n * 4, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| {
                let mut w = [c[0], c[1], c[2], c[3]];
                if self.order == ByteOrder::Big {
                    w.reverse();
                }
                f(w)
            })
            .collect())
    }
}

/// Read the header and batch headers of an MTZ file (never the reflections).
pub fn read_header(path: &Path) -> Result<Header, ReadError> {
    let io = |e: std::io::Error| ReadError::new(path, "file", "a readable file", e.to_string());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    let mut start = [0u8; 20];
    let got = read_up_to(&mut file, &mut start).map_err(io)?;
    if got < 4 || &start[..4] != b"MTZ " {
        return Err(ReadError::new(
            path,
            "byte 0",
            "the MTZ signature `MTZ `",
            "other bytes",
        ));
    }
    if got < 12 {
        return Err(ReadError::new(
            path,
            "byte 4",
            "the header offset and machine stamp",
            "the end of the file (truncated)",
        ));
    }
    let order = match start[8] >> 4 {
        4 => ByteOrder::Little,
        1 => ByteOrder::Big,
        _ => {
            return Err(ReadError::new(
                path,
                "byte 8 (machine stamp)",
                "0x44 (IEEE little-endian) or 0x11 (IEEE big-endian)",
                format!("{:#04x}", start[8]),
            ));
        }
    };
    let i32_at = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        match order {
            ByteOrder::Little => i32::from_le_bytes(w),
            ByteOrder::Big => i32::from_be_bytes(w),
        }
    };
    let mut word = i64::from(i32_at(&start[4..8]));
    let big_offset = word == -1;
    let offset_place = if big_offset {
        "byte 12 (64-bit header offset)"
    } else {
        "byte 4 (header offset)"
    };
    if big_offset {
        if got < 20 {
            return Err(ReadError::new(
                path,
                "byte 12",
                "a 64-bit header offset (the 32-bit one is -1)",
                "the end of the file (truncated)",
            ));
        }
        let w: [u8; 8] = start[12..20].try_into().expect("8 bytes");
        word = match order {
            ByteOrder::Little => i64::from_le_bytes(w),
            ByteOrder::Big => i64::from_be_bytes(w),
        };
    }
    // The data start at word 21 (byte 80); the header follows them.
    let position = u64::try_from(word)
        .ok()
        .filter(|w| *w >= 21)
        .and_then(|w| (w - 1).checked_mul(4))
        .filter(|p| *p < length)
        .ok_or_else(|| {
            ReadError::new(
                path,
                offset_place,
                format!(
                    "the header's position inside the file: a 4-byte word from 21 to {} (the file has {length} bytes)",
                    length / 4
                ),
                format!(
                    "word {word} (byte {}): the file is cut short, or this is not its header offset",
                    word.saturating_sub(1).saturating_mul(4)
                ),
            )
        })?;
    // The header and batch headers: ~1 KB per image; a larger rest is a wrong offset into the data.
    if length - position > MAX_HEADER_BYTES {
        return Err(ReadError::new(
            path,
            offset_place,
            format!(
                "a header of at most {} MiB at the end of the file",
                MAX_HEADER_BYTES >> 20
            ),
            format!("{} bytes from the offset to the end", length - position),
        ));
    }
    file.seek(SeekFrom::Start(position)).map_err(io)?;
    let mut bytes = Vec::with_capacity((length - position).min(1 << 20) as usize);
    file.read_to_end(&mut bytes).map_err(io)?;
    let mut r = Records {
        path,
        bytes: &bytes,
        at: 0,
        last: 0,
        base: position,
        order,
    };
    let mut h = Header {
        byte_order: order,
        header_position: position,
        version: String::new(),
        title: String::new(),
        number_columns: 0,
        number_reflections: 0,
        number_batches: 0,
        cell: None,
        sort_order: Vec::new(),
        symmetry: None,
        symops: Vec::new(),
        reso: None,
        missing_value: None,
        columns: Vec::new(),
        datasets: Vec::new(),
        history: Vec::new(),
        batches: Vec::new(),
        bytes_read: 0,
    };
    main_records(&mut r, &mut h)?;
    trailing_records(&mut r, &mut h)?;
    h.bytes_read = 20 + bytes.len() as u64;
    Ok(h)
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn number<T: std::str::FromStr>(
    r: &Records,
    key: &str,
    text: Option<&str>,
    what: &str,
) -> Result<T, ReadError> {
    let found = text.unwrap_or("nothing");
    found
        .parse()
        .map_err(|_| r.error(format!("{what} in the {key} record"), format!("{found:?}")))
}

fn numbers(r: &Records, key: &str, text: &str, n: usize) -> Result<Vec<f64>, ReadError> {
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    if v.len() < n || v.iter().take(n).any(|x| !x.is_finite()) {
        return Err(r.error(
            format!("{n} numbers in the {key} record"),
            format!("{text:?}"),
        ));
    }
    Ok(v[..n].to_vec())
}

/// A cell with six positive numbers, else none.
fn cell(v: &[f64]) -> Option<[f64; 6]> {
    let c: [f64; 6] = v.try_into().ok()?;
    c.iter().all(|x| *x > 0.0).then_some(c)
}

/// The records up to `END`.
fn main_records(r: &mut Records, h: &mut Header) -> Result<(), ReadError> {
    loop {
        let at = r.place();
        let line = r.record()?;
        let (key, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let rest = rest.trim();
        let mut fields = rest.split_whitespace();
        match key {
            "END" => break,
            "VERS" => h.version = rest.to_owned(),
            "TITLE" => h.title = rest.to_owned(),
            "NCOL" => {
                h.number_columns = number(r, key, fields.next(), "the number of columns")?;
                h.number_reflections = number(r, key, fields.next(), "the number of reflections")?;
                h.number_batches = fields
                    .next()
                    .map_or(Ok(0), |t| number(r, key, Some(t), "the number of batches"))?;
                if h.number_columns < 0 || h.number_reflections < 0 || h.number_batches < 0 {
                    return Err(ReadError::new(
                        r.path,
                        at,
                        "counts ≥ 0 in the NCOL record",
                        rest,
                    ));
                }
            }
            "CELL" => h.cell = cell(&numbers(r, key, rest, 6)?),
            "SORT" => h.sort_order = fields.filter_map(|t| t.parse().ok()).collect(),
            "SYMINF" => h.symmetry = Some(syminf(r, rest)?),
            "SYMM" => h.symops.push(rest.to_owned()),
            "RESO" => {
                let v = numbers(r, key, rest, 2)?;
                h.reso = Some([v[0], v[1]]);
            }
            "VALM" => h.missing_value = rest.parse::<f64>().ok().filter(|v| v.is_finite()),
            "COLUMN" | "COL" => h.columns.push(column(r, rest)?),
            "NDIF" | "COLSRC" | "COLGRP" | "BATCH" => {}
            "PROJECT" | "CRYSTAL" | "DATASET" | "DCELL" | "DWAVEL" => {
                dataset_record(r, h, key, rest)?
            }
            _ => {}
        }
        if h.columns.len() as i64 > h.number_columns && h.number_columns > 0 {
            return Err(ReadError::new(
                r.path,
                at,
                format!("{} COLUMN records (NCOL)", h.number_columns),
                "more",
            ));
        }
    }
    if h.columns.len() as i64 != h.number_columns {
        return Err(r.error(
            format!("{} COLUMN records before END (NCOL)", h.number_columns),
            h.columns.len().to_string(),
        ));
    }
    Ok(())
}

fn syminf(r: &Records, rest: &str) -> Result<Symmetry, ReadError> {
    let (numbers_part, name, tail) = match (rest.find('\''), rest.rfind('\'')) {
        (Some(a), Some(b)) if b > a => (&rest[..a], &rest[a + 1..b], rest[b + 1..].trim()),
        _ => {
            return Err(r.error(
                "SYMINF nsym nsymp lattice number 'name' PGname",
                format!("{rest:?}"),
            ));
        }
    };
    let mut f = numbers_part.split_whitespace();
    Ok(Symmetry {
        operations: number(r, "SYMINF", f.next(), "the number of operations")?,
        primitive_operations: number(r, "SYMINF", f.next(), "the number of primitive operations")?,
        lattice: f.next().unwrap_or_default().to_owned(),
        number: number(r, "SYMINF", f.next(), "the space-group number")?,
        name: name.trim().to_owned(),
        point_group: tail.to_owned(),
    })
}

fn column(r: &Records, rest: &str) -> Result<MtzColumn, ReadError> {
    let f: Vec<&str> = rest.split_whitespace().collect();
    if f.len() < 4 {
        return Err(r.error("COLUMN label type min max [dataset]", format!("{rest:?}")));
    }
    let range = |t: &str| t.parse::<f64>().ok().filter(|v| v.is_finite());
    Ok(MtzColumn {
        label: f[0].to_owned(),
        column_type: f[1].to_owned(),
        min: range(f[2]),
        max: range(f[3]),
        dataset_id: f
            .get(4)
            .map_or(Ok(0), |t| number(r, "COLUMN", Some(t), "a dataset id"))?,
    })
}

fn dataset_record(r: &Records, h: &mut Header, key: &str, rest: &str) -> Result<(), ReadError> {
    let (id, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let id: i64 = number(r, key, Some(id), "a dataset id")?;
    let value = value.trim();
    let d = match h.datasets.iter().position(|d| d.id == id) {
        Some(i) => &mut h.datasets[i],
        None => {
            h.datasets.push(MtzDataset {
                id,
                ..MtzDataset::default()
            });
            h.datasets.last_mut().expect("pushed")
        }
    };
    match key {
        "PROJECT" => d.project = value.to_owned(),
        "CRYSTAL" => d.crystal = value.to_owned(),
        "DATASET" => d.dataset = value.to_owned(),
        "DCELL" => d.cell = cell(&numbers(r, key, value, 6)?),
        _ => {
            let w: f64 = number(r, key, value.split_whitespace().next(), "a wavelength")?;
            d.wavelength_a = (w > 0.0 && w.is_finite()).then_some(w);
        }
    }
    Ok(())
}

/// History, batch headers, `MTZENDOFHEADERS`.
fn trailing_records(r: &mut Records, h: &mut Header) -> Result<(), ReadError> {
    loop {
        let line = r.record()?;
        let key = line.split_whitespace().next().unwrap_or("");
        match key {
            "MTZENDOFHEADERS" => break,
            "MTZHIST" => {
                let n: usize = number(
                    r,
                    key,
                    line.split_whitespace().nth(1),
                    "the number of history lines",
                )?;
                for _ in 0..n {
                    h.history.push(r.record()?);
                }
            }
            "MTZBATS" => {
                for _ in 0..h.number_batches {
                    let b = batch(r)?;
                    h.batches.push(b);
                }
            }
            _ => return Err(r.error("MTZHIST, MTZBATS or MTZENDOFHEADERS", format!("{line:?}"))),
        }
    }
    Ok(())
}

fn batch(r: &mut Records) -> Result<Batch, ReadError> {
    let line = r.record()?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.first() != Some(&"BH") || f.len() < 5 {
        return Err(r.error(
            "a batch header record BH number words integers reals",
            format!("{line:?}"),
        ));
    }
    let number: i64 = self::number(r, "BH", Some(f[1]), "a batch number")?;
    let ints: usize = self::number(r, "BH", Some(f[3]), "the number of integers")?;
    let reals: usize = self::number(r, "BH", Some(f[4]), "the number of reals")?;
    if ints > 4096 || reals > 4096 {
        return Err(r.error(
            "at most 4096 integers and reals in a batch header",
            format!("{ints} and {reals}"),
        ));
    }
    let title = r.record()?;
    let title = title
        .strip_prefix("TITLE")
        .unwrap_or(&title)
        .trim()
        .to_owned();
    let ints = r.words(ints, "the batch header's integers", i32::from_le_bytes)?;
    let floats = r.words(reals, "the batch header's reals", f32::from_le_bytes)?;
    let bhch = r.record()?;
    let axes = bhch
        .strip_prefix("BHCH")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    Ok(Batch {
        number,
        title,
        ints,
        floats,
        axes,
    })
}
