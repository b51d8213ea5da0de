//! Semantic rules that concern one object on its own (also used for single-object files).

use crate::datatypes::{DropImage, PointCloud, ReflectionStatistics, Region};
use crate::extensions::{MxpipeExtension, mxpipe_extension};
use crate::messages::AnyObject;
use crate::objects::MxlimsObject;
use crate::primitives::AwareDateTime;

use super::Finding;
use super::semantic::err;

/// Rules that concern one object on its own (also used when validating a single object file).
pub fn check_object(object: AnyObject<'_>, pointer: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let job_times =
        |start: &Option<AwareDateTime>, end: &Option<AwareDateTime>, out: &mut Vec<Finding>| {
            if let (Some(s), Some(e)) = (start, end)
                && e.value() < s.value()
            {
                out.push(err(
                    format!("{pointer}/endTime"),
                    "datetime-order",
                    format!("an endTime not before startTime {s}"),
                    e.to_string(),
                ));
            }
        };
    match object {
        AnyObject::MxExperiment(o) => job_times(&o.start_time, &o.end_time, &mut out),
        AnyObject::MxProcessing(o) => job_times(&o.start_time, &o.end_time, &mut out),
        AnyObject::VolumeScan(o) => {
            job_times(&o.start_time, &o.end_time, &mut out);
            if let Some(pc) = &o.search_volume {
                check_point_cloud(pc, &format!("{pointer}/searchVolume"), &mut out);
            }
            if let Some(pc) = &o.result_volume {
                check_point_cloud(pc, &format!("{pointer}/resultVolume"), &mut out);
            }
        }
        AnyObject::CollectionSweep(o) => {
            let mut ranges: Vec<(i64, i64, usize)> = o
                .scans
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, s)| {
                    (
                        s.first_image_number,
                        s.first_image_number + s.number_images - 1,
                        i,
                    )
                })
                .collect();
            ranges.sort();
            for w in ranges.windows(2) {
                if w[1].0 <= w[0].1 {
                    out.push(err(
                        format!("{pointer}/scans/{}/firstImageNumber", w[1].2),
                        "scan-overlap",
                        format!(
                            "image numbers not already used by scan {} (images {}-{})",
                            w[0].2, w[0].0, w[0].1
                        ),
                        format!("images {}-{}", w[1].0, w[1].1),
                    ));
                }
            }
        }
        AnyObject::ReflectionSet(o) => {
            if let Some(s) = &o.reflection_statistics_overall {
                check_shell(
                    s,
                    &format!("{pointer}/reflectionStatisticsOverall"),
                    &mut out,
                );
            }
            for (i, s) in o.reflection_statistics_shells.iter().flatten().enumerate() {
                check_shell(
                    s,
                    &format!("{pointer}/reflectionStatisticsShells/{i}"),
                    &mut out,
                );
            }
        }
        AnyObject::DropRegion(o) => {
            if let Region::Image(r) = &o.region {
                out.extend(check_drop_image(
                    &r.image,
                    &format!("{pointer}/region/image"),
                ));
            }
        }
        _ => {}
    }
    let dyn_object: &dyn MxlimsObject = object.as_object();
    let links = dyn_object.links();
    if ["sourceRef", "derivedFromRef"]
        .iter()
        .all(|f| links.iter().any(|l| l.field == *f))
    {
        out.push(err(
            format!("{pointer}/derivedFromRef"),
            "source-xor-derived",
            "either sourceRef or derivedFromRef, not both",
            "both",
        ));
    }
    match mxpipe_extension(dyn_object) {
        Ok(Some(ext)) => out.extend(check_mxpipe_extension(
            &ext,
            &format!("{pointer}/extensions/mxpipe.org"),
        )),
        Ok(None) => {}
        Err(message) => out.push(err(
            format!("{pointer}/extensions/mxpipe.org"),
            "extension-mxpipe",
            "the mxpipe extension layout (schemas/mxpipe/MxpipeExtension.json)",
            message,
        )),
    }
    out
}

fn check_shell(s: &ReflectionStatistics, pointer: &str, out: &mut Vec<Finding>) {
    let [low, high] = s.resolution_limits;
    if low < high {
        out.push(err(
            format!("{pointer}/resolutionLimits"),
            "resolution-order",
            "[low, high] resolution in Å with low >= high (e.g. [50.0, 1.8])",
            format!("[{low}, {high}]"),
        ));
    }
}

fn check_point_cloud(pc: &PointCloud, pointer: &str, out: &mut Vec<Finding>) {
    let lengths = pc.array_lengths();
    if let Some((first_name, first_len)) = lengths.first() {
        for (name, len) in &lengths[1..] {
            if len != first_len {
                out.push(err(
                    format!("{pointer}/{name}"),
                    "parallel-arrays",
                    format!("{first_len} entries, like {first_name} (one per point)"),
                    format!("{len} entries"),
                ));
            }
        }
    }
}

/// A drop image must have exactly one of `data` and `url`.
pub fn check_drop_image(image: &DropImage, pointer: &str) -> Vec<Finding> {
    image
        .source_error()
        .map(|m| {
            vec![err(
                pointer,
                "drop-image-source",
                "exactly one of data and url",
                m,
            )]
        })
        .unwrap_or_default()
}

/// A count with a bound: (name, value, bound name, bound value).
type CountPair = (&'static str, Option<i64>, &'static str, Option<i64>);

/// `ssx-counts`: each count must not exceed its bound (when both are given).
fn check_count_order(pairs: &[CountPair], pointer: &str, out: &mut Vec<Finding>) {
    for &(name, small, big_name, big) in pairs {
        if let (Some(s), Some(b)) = (small, big)
            && s > b
        {
            out.push(err(
                format!("{pointer}/{name}"),
                "ssx-counts",
                format!("{name} <= {big_name} ({b})"),
                s.to_string(),
            ));
        }
    }
}

/// Rules for mxpipe's own extension.
pub fn check_mxpipe_extension(ext: &MxpipeExtension, pointer: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(s) = &ext.session
        && let (Some(a), Some(b)) = (&s.start_time, &s.end_time)
        && b.value() < a.value()
    {
        out.push(err(
            format!("{pointer}/session/endTime"),
            "datetime-order",
            format!("an endTime not before startTime {a}"),
            b.to_string(),
        ));
    }
    if let Some(x) = &ext.ssx {
        let pairs = [
            ("crystalHits", x.crystal_hits, "framesTotal", x.frames_total),
            (
                "framesIndexed",
                x.frames_indexed,
                "crystalHits",
                x.crystal_hits,
            ),
            (
                "latticesMerged",
                x.lattices_merged,
                "latticesIndexed",
                x.lattices_indexed,
            ),
        ];
        check_count_order(&pairs, &format!("{pointer}/ssx"), &mut out);
    }
    if let Some(x) = &ext.ssx_data_reduction {
        let pairs = [
            ("frameHits", x.frame_hits, "framesTotal", x.frames_total),
            ("framesIndexed", x.frames_indexed, "frameHits", x.frame_hits),
            (
                "framesFailedIndex",
                x.frames_failed_index,
                "frameHits",
                x.frame_hits,
            ),
            (
                "latticesMerged",
                x.lattices_merged,
                "latticesIndexed",
                x.lattices_indexed,
            ),
            (
                "framesIndexed",
                x.frames_indexed,
                "latticesIndexed",
                x.lattices_indexed,
            ),
        ];
        check_count_order(&pairs, &format!("{pointer}/ssxDataReduction"), &mut out);
    }
    out
}
