//! The serial-crystallography categories of a job's block: measurement, sample delivery
//! (fixed target or injection) and data reduction, from the run (`ssx`) and the counts
//! (`ssxDataReduction`).

use mxpipe_model::units::SECONDS_PER_HOUR;
use mxpipe_model::{SsxDataReduction, SsxRun};

use super::{Neighbourhood, ext, text};
use crate::mmcif::text::{Category, CifValue};

impl Neighbourhood<'_> {
    /// The experiment's (or job's) SSX run description, when there is one.
    pub(super) fn ssx_run(&self) -> Option<SsxRun> {
        self.diffrn
            .iter()
            .filter_map(|d| d.experiment)
            .find_map(|e| serde_json::from_value(ext(e, "ssx").clone()).ok())
    }

    pub(super) fn serial(&self) -> bool {
        self.ssx_run().is_some()
            || !ext(self.job, "ssxDataReduction").is_null()
            || self
                .diffrn
                .iter()
                .filter_map(|d| d.sweep)
                .any(|s| text(s, "sweepType").is_some_and(|t| t.starts_with("ssx")))
    }

    /// The serial-crystallography categories (none for a rotation job).
    pub(crate) fn serial_categories(&self) -> Vec<Category> {
        if !self.serial() {
            return Vec::new();
        }
        let run = self.ssx_run();
        let counts = self.data_reduction();
        let mut measurement = Category::new("pdbx_serial_crystallography_measurement");
        let mut delivery = Category::new("pdbx_serial_crystallography_sample_delivery");
        let mut fixed = Category::new("pdbx_serial_crystallography_sample_delivery_fixed_target");
        let mut injection = Category::new("pdbx_serial_crystallography_sample_delivery_injection");
        let mut reduction = Category::new("pdbx_serial_crystallography_data_reduction");
        let id = || ("diffrn_id".to_owned(), CifValue::Integer(1));
        if let Some(r) = &run {
            measurement.row([
                id(),
                (
                    "collection_time_total".to_owned(),
                    r.collection_time_total_s
                        .map(|s| s / SECONDS_PER_HOUR)
                        .into(),
                ),
            ]);
            delivery.row([
                id(),
                (
                    "description".to_owned(),
                    r.delivery_description.clone().into(),
                ),
                ("method".to_owned(), r.delivery_method.pdbx_method().into()),
            ]);
            if r.delivery_method.pdbx_method() == "fixed target" {
                fixed.row([
                    id(),
                    ("sample_holding".to_owned(), r.sample_holding.clone().into()),
                    ("sample_unit_size".to_owned(), r.sample_unit_size_um.into()),
                ]);
            } else {
                injection.row([
                    id(),
                    (
                        "injector_nozzle".to_owned(),
                        r.injector_nozzle.clone().into(),
                    ),
                    ("jet_diameter".to_owned(), r.jet_diameter_um.into()),
                    ("flow_rate".to_owned(), r.flow_rate_ul_per_min.into()),
                    (
                        "carrier_solvent".to_owned(),
                        r.carrier_solvent.clone().into(),
                    ),
                ]);
            }
        }
        if let Some(x) = counts {
            let pairs = [
                ("frames_total", x.frames_total),
                ("frame_hits", x.frame_hits),
                ("frames_failed_index", x.frames_failed_index),
                ("frames_indexed", x.frames_indexed),
                ("lattices_indexed", x.lattices_indexed),
                ("lattices_merged", x.lattices_merged),
            ];
            let mut row = vec![id()];
            row.extend(
                pairs
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), CifValue::Integer(v)))),
            );
            reduction.row(row);
        }
        vec![measurement, delivery, fixed, injection, reduction]
    }

    /// Hit-finding and indexing counts: the job's, else those of the job it started from, else
    /// the run's (the experiment's `ssx`).
    fn data_reduction(&self) -> Option<SsxDataReduction> {
        let mut job = Some(self.job);
        let mut hops = 0;
        while let Some(j) = job {
            if let Ok(x) =
                serde_json::from_value::<SsxDataReduction>(ext(j, "ssxDataReduction").clone())
            {
                return Some(x);
            }
            hops += 1;
            job = self
                .objects
                .follow(&j["startedFromRef"])
                .filter(|_| hops < 16);
        }
        self.ssx_run().map(|r| SsxDataReduction {
            frames_total: r.frames_total,
            frame_hits: r.crystal_hits,
            frames_indexed: r.frames_indexed,
            lattices_indexed: r.lattices_indexed,
            lattices_merged: r.lattices_merged,
            ..SsxDataReduction::default()
        })
    }
}
