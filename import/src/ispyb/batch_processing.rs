//! The processing rows of a batch: the programs whose first integration (or ProcessingJob) is on
//! a collection of the batch, the programs started from them (`parentAutoProcProgramId`, an
//! `MXMRRun` on their scaling), their AutoProc/scaling/statistics rows, and the indexes that let a
//! batch map in linear time.

use std::collections::HashMap;

use super::ImportError;
use super::batch::{Batch, by_id, cols, ids_of};
use super::read::{Row, Source, int};

/// Row positions by foreign key.
#[derive(Default)]
pub struct Indexes {
    /// Group → its programs (sorted).
    pub programs_of_group: HashMap<i64, Vec<i64>>,
    /// Program → its integrations.
    pub integrations: HashMap<i64, Vec<usize>>,
    /// Program → its AutoProcs.
    pub autoprocs: HashMap<i64, Vec<usize>>,
    /// AutoProc → its scalings.
    pub scalings: HashMap<i64, Vec<usize>>,
    /// Scaling → its statistics rows.
    pub stats: HashMap<i64, Vec<usize>>,
    /// Scaling → its AutoProcScaling_has_Int rows.
    pub has_int: HashMap<i64, Vec<usize>>,
    /// Program → its attachments.
    pub attachments: HashMap<i64, Vec<usize>>,
}

fn index(rows: &[Row], col: &str) -> HashMap<i64, Vec<usize>> {
    let mut out: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(k) = int(r, col) {
            out.entry(k).or_default().push(i);
        }
    }
    out
}

/// The filter of an import without --session, --proposal or --since.
pub const NO_FILTER: &str = "1 = 1";

impl Batch {
    /// Which of `programs` have an AutoProcIntegration anywhere in the database.
    async fn integrated(
        &self,
        src: &mut Source,
        programs: &[i64],
    ) -> Result<std::collections::HashSet<i64>, ImportError> {
        Ok(src
            .fetch_in(
                "AutoProcIntegration",
                &["autoProcProgramId"],
                "autoProcProgramId",
                programs,
                "autoProcIntegrationId",
            )
            .await?
            .iter()
            .filter_map(|r| int(r, "autoProcProgramId"))
            .collect())
    }

    /// The processing whose home is a group of this batch.
    pub(super) async fn load_processing(
        &mut self,
        src: &mut Source,
        dc_ids: &[i64],
        filter: &str,
    ) -> Result<(), ImportError> {
        let first = src
            .fetch_in(
                "AutoProcIntegration",
                cols::INTEGRATION,
                "dataCollectionId",
                dc_ids,
                "autoProcIntegrationId",
            )
            .await?;
        let program_ids = ids_of(&first, "autoProcProgramId");
        // All integrations of those programs (some may read collections of other batches).
        let all = src
            .fetch_in(
                "AutoProcIntegration",
                cols::INTEGRATION,
                "autoProcProgramId",
                &program_ids,
                "autoProcIntegrationId",
            )
            .await?;
        let missing: Vec<i64> = ids_of(&all, "dataCollectionId")
            .into_iter()
            .filter(|d| !self.dcs.contains_key(d))
            .collect();
        for d in src
            .fetch_in(
                "DataCollection",
                cols::DC,
                "dataCollectionId",
                &missing,
                "dataCollectionId",
            )
            .await?
        {
            if let Some(k) = int(&d, "dataCollectionId") {
                self.dcs.insert(k, d);
            }
        }
        // Home: the group of the program's first integration among the groups the import selects
        // (all, without --session/--proposal/--since), when that group is in this batch.
        let mut groups_of: HashMap<i64, Vec<i64>> = HashMap::new();
        for i in &all {
            let (Some(p), Some(dc)) = (int(i, "autoProcProgramId"), int(i, "dataCollectionId"))
            else {
                continue;
            };
            if let Some(g) = self
                .dcs
                .get(&dc)
                .and_then(|d| int(d, "dataCollectionGroupId"))
            {
                groups_of.entry(p).or_default().push(g);
            }
        }
        let selected: Option<std::collections::HashSet<i64>> = if filter == NO_FILTER {
            None
        } else {
            let candidates: Vec<i64> = groups_of.values().flatten().copied().collect();
            Some(
                src.fetch_in_where(
                    "DataCollectionGroup",
                    &["dataCollectionGroupId"],
                    "dataCollectionGroupId",
                    &candidates,
                    filter,
                    "",
                )
                .await?
                .iter()
                .filter_map(|r| int(r, "dataCollectionGroupId"))
                .collect(),
            )
        };
        let in_batch: std::collections::HashSet<i64> = self.group_dcs.keys().copied().collect();
        for (p, groups) in &groups_of {
            let home = groups
                .iter()
                .find(|g| selected.as_ref().is_none_or(|s| s.contains(g)));
            self.home.insert(
                *p,
                home.filter(|g| in_batch.contains(g)).copied().unwrap_or(-1),
            );
        }
        self.home.retain(|_, g| *g >= 0);
        // Programs reached through a ProcessingJob on a collection (no integration of their own).
        let jobs_here = src
            .fetch_in(
                "ProcessingJob",
                &["processingJobId", "dataCollectionId", "comments"],
                "dataCollectionId",
                dc_ids,
                "processingJobId",
            )
            .await?;
        let job_group: HashMap<i64, i64> = jobs_here
            .iter()
            .filter_map(|j| {
                Some((
                    int(j, "processingJobId")?,
                    int(
                        self.dcs.get(&int(j, "dataCollectionId")?)?,
                        "dataCollectionGroupId",
                    )?,
                ))
            })
            .collect();
        let job_keys: Vec<i64> = job_group.keys().copied().collect();
        let mut job_homes = Vec::new();
        for p in src
            .fetch_in(
                "AutoProcProgram",
                &["autoProcProgramId", "processingJobId"],
                "processingJobId",
                &job_keys,
                "autoProcProgramId",
            )
            .await?
        {
            if let (Some(id), Some(g)) = (
                int(&p, "autoProcProgramId"),
                int(&p, "processingJobId").and_then(|j| job_group.get(&j)),
            ) && !groups_of.contains_key(&id)
            {
                job_homes.push((id, *g));
            }
        }
        // A program with integrations of its own is carried by their group, never by its job's.
        let job_ids: Vec<i64> = job_homes.iter().map(|(p, _)| *p).collect();
        let integrated = self.integrated(src, &job_ids).await?;
        for (id, g) in job_homes {
            if !integrated.contains(&id) {
                self.home.entry(id).or_insert(g);
            }
        }
        let homed: Vec<i64> = self.home.keys().copied().collect();
        self.integrations = all
            .into_iter()
            .filter(|i| int(i, "autoProcProgramId").is_some_and(|p| self.home.contains_key(&p)))
            .collect();
        let mut programs = src
            .fetch_in(
                "AutoProcProgram",
                cols::PROGRAM,
                "autoProcProgramId",
                &homed,
                "autoProcProgramId",
            )
            .await?;
        self.autoprocs = src
            .fetch_in(
                "AutoProc",
                cols::AUTOPROC,
                "autoProcProgramId",
                &homed,
                "autoProcId",
            )
            .await?;
        self.scalings = src
            .fetch_in(
                "AutoProcScaling",
                cols::SCALING,
                "autoProcId",
                &ids_of(&self.autoprocs, "autoProcId"),
                "autoProcScalingId",
            )
            .await?;
        let scaling_ids = ids_of(&self.scalings, "autoProcScalingId");
        // Programs started from these: by parentAutoProcProgramId, or by an MXMRRun on a scaling.
        let children = src
            .fetch_in(
                "AutoProcProgram",
                cols::PROGRAM,
                "parentAutoProcProgramId",
                &homed,
                "autoProcProgramId",
            )
            .await?;
        for c in &children {
            if let (Some(id), Some(parent)) = (
                int(c, "autoProcProgramId"),
                int(c, "parentAutoProcProgramId"),
            ) {
                self.parent.insert(id, parent);
            }
        }
        let runs = src
            .fetch_in(
                "MXMRRun",
                &["mxMRRunId", "autoProcScalingId", "autoProcProgramId"],
                "autoProcScalingId",
                &scaling_ids,
                "mxMRRunId",
            )
            .await?;
        let program_of_autoproc: HashMap<i64, i64> = self
            .autoprocs
            .iter()
            .filter_map(|x| Some((int(x, "autoProcId")?, int(x, "autoProcProgramId")?)))
            .collect();
        let scaling_program: HashMap<i64, i64> = self
            .scalings
            .iter()
            .filter_map(|sc| {
                let p = program_of_autoproc.get(&int(sc, "autoProcId")?)?;
                Some((int(sc, "autoProcScalingId")?, *p))
            })
            .collect();
        for r in &runs {
            if let (Some(child), Some(parent)) = (
                int(r, "autoProcProgramId"),
                int(r, "autoProcScalingId").and_then(|s| scaling_program.get(&s)),
            ) {
                self.parent.entry(child).or_insert(*parent);
            }
        }
        let children: Vec<i64> = self
            .parent
            .keys()
            .copied()
            .filter(|c| !self.home.contains_key(c))
            .collect();
        // A child with integrations of its own (a re-integration, not a downstream step) is
        // carried by its own first group: one program, one message.
        let integrated = self.integrated(src, &children).await?;
        let child_ids: Vec<i64> = children
            .into_iter()
            .filter(|c| !integrated.contains(c))
            .collect();
        programs.extend(
            src.fetch_in(
                "AutoProcProgram",
                cols::PROGRAM,
                "autoProcProgramId",
                &child_ids,
                "autoProcProgramId",
            )
            .await?,
        );
        for c in &child_ids {
            if let Some(g) = self.parent.get(c).and_then(|p| self.home.get(p)).copied() {
                self.home.insert(*c, g);
            }
        }
        if !child_ids.is_empty() {
            self.autoprocs.extend(
                src.fetch_in(
                    "AutoProc",
                    cols::AUTOPROC,
                    "autoProcProgramId",
                    &child_ids,
                    "autoProcId",
                )
                .await?,
            );
            let extra: Vec<i64> = ids_of(&self.autoprocs, "autoProcId");
            self.scalings = src
                .fetch_in(
                    "AutoProcScaling",
                    cols::SCALING,
                    "autoProcId",
                    &extra,
                    "autoProcScalingId",
                )
                .await?;
        }
        let scaling_ids = ids_of(&self.scalings, "autoProcScalingId");
        self.stats = src
            .fetch_in(
                "AutoProcScalingStatistics",
                cols::STATS,
                "autoProcScalingId",
                &scaling_ids,
                "autoProcScalingStatisticsId",
            )
            .await?;
        self.has_int = src
            .fetch_in(
                "AutoProcScaling_has_Int",
                &[
                    "autoProcScaling_has_IntId",
                    "autoProcScalingId",
                    "autoProcIntegrationId",
                ],
                "autoProcScalingId",
                &scaling_ids,
                "autoProcScaling_has_IntId",
            )
            .await?;
        let all_programs: Vec<i64> = self.home.keys().copied().collect();
        self.attachments = src
            .fetch_in(
                "AutoProcProgramAttachment",
                &[
                    "autoProcProgramAttachmentId",
                    "autoProcProgramId",
                    "fileName",
                ],
                "autoProcProgramId",
                &all_programs,
                "autoProcProgramAttachmentId",
            )
            .await?;
        self.programs = programs
            .into_iter()
            .filter_map(|r| int(&r, "autoProcProgramId").map(|k| (k, r)))
            .collect();
        let job_ids = ids_of(self.programs.values(), "processingJobId");
        self.jobs = by_id(
            src.fetch_in(
                "ProcessingJob",
                &["processingJobId", "dataCollectionId", "comments"],
                "processingJobId",
                &job_ids,
                "processingJobId",
            )
            .await?,
            "processingJobId",
        );
        self.by = Indexes {
            programs_of_group: HashMap::new(),
            integrations: index(&self.integrations, "autoProcProgramId"),
            autoprocs: index(&self.autoprocs, "autoProcProgramId"),
            scalings: index(&self.scalings, "autoProcId"),
            stats: index(&self.stats, "autoProcScalingId"),
            has_int: index(&self.has_int, "autoProcScalingId"),
            attachments: index(&self.attachments, "autoProcProgramId"),
        };
        for (p, g) in &self.home {
            self.by.programs_of_group.entry(*g).or_default().push(*p);
        }
        for v in self.by.programs_of_group.values_mut() {
            v.sort_unstable();
        }
        for js in src
            .fetch_in(
                "ProcessingJobImageSweep",
                &[
                    "processingJobImageSweepId",
                    "processingJobId",
                    "dataCollectionId",
                ],
                "processingJobId",
                &job_ids,
                "processingJobImageSweepId",
            )
            .await?
        {
            if let Some(j) = int(&js, "processingJobId") {
                self.job_sweeps.entry(j).or_default().push(js);
            }
        }
        Ok(())
    }
}
