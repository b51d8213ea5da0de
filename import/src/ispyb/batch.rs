//! One batch of DataCollectionGroups with every row their messages need, read by indexed keys:
//! collections, session and proposal, sample rows, grid and SSX rows, and the processing whose
//! first integration is in the batch (plus the programs started from it).

use std::collections::{BTreeMap, HashMap};

use super::ImportError;
use super::read::{Row, Source, int};

/// Columns read per table (`#` = binary, read as hex). Absent columns read as NULL.
pub mod cols {
    /// DataCollectionGroup.
    pub const GROUP: &[&str] = &[
        "dataCollectionGroupId",
        "sessionId",
        "blSampleId",
        "experimentType",
        "startTime",
        "endTime",
        "actualSampleBarcode",
        "comments",
    ];
    /// DataCollection.
    pub const DC: &[&str] = &[
        "dataCollectionId",
        "dataCollectionGroupId",
        "SESSIONID",
        "BLSAMPLEID",
        "dataCollectionNumber",
        "startTime",
        "endTime",
        "runStatus",
        "axisStart",
        "axisEnd",
        "axisRange",
        "overlap",
        "numberOfImages",
        "startImageNumber",
        "exposureTime",
        "imageDirectory",
        "imagePrefix",
        "fileTemplate",
        "wavelength",
        "resolution",
        "detectorDistance",
        "xBeam",
        "yBeam",
        "transmission",
        "rotationAxis",
        "omegaStart",
        "kappaStart",
        "phiStart",
        "chiStart",
        "beamSizeAtSampleX",
        "beamSizeAtSampleY",
        "beamShape",
        "comments",
    ];
    /// BLSession.
    pub const SESSION: &[&str] = &[
        "sessionId",
        "proposalId",
        "visit_number",
        "beamLineName",
        "startDate",
        "endDate",
    ];
    /// Proposal.
    pub const PROPOSAL: &[&str] = &["proposalId", "proposalCode", "proposalNumber"];
    /// BLSample.
    pub const SAMPLE: &[&str] = &[
        "blSampleId",
        "crystalId",
        "containerId",
        "name",
        "code",
        "location",
        "loopType",
        "holderLength",
        "comments",
    ];
    /// Crystal.
    pub const CRYSTAL: &[&str] = &[
        "crystalId",
        "proteinId",
        "name",
        "crystalUUID",
        "spaceGroup",
    ];
    /// Protein.
    pub const PROTEIN: &[&str] = &["proteinId", "name", "acronym", "sequence"];
    /// Container.
    pub const CONTAINER: &[&str] = &["containerId", "code", "barcode"];
    /// GridInfo.
    pub const GRID: &[&str] = &[
        "gridInfoId",
        "dataCollectionGroupId",
        "dataCollectionId",
        "steps_x",
        "steps_y",
        "dx_mm",
        "dy_mm",
    ];
    /// SSXDataCollection.
    pub const SSX: &[&str] = &[
        "dataCollectionId",
        "repetitionRate",
        "chipModel",
        "chipPattern",
    ];
    /// AutoProcIntegration.
    pub const INTEGRATION: &[&str] = &[
        "autoProcIntegrationId",
        "dataCollectionId",
        "autoProcProgramId",
        "startImageNumber",
        "endImageNumber",
    ];
    /// AutoProcProgram.
    pub const PROGRAM: &[&str] = &[
        "autoProcProgramId",
        "processingJobId",
        "processingPrograms",
        "processingCommandLine",
        "processingStatus",
        "processingStartTime",
        "processingEndTime",
        "parentAutoProcProgramId",
        "#jobUuid",
    ];
    /// AutoProc.
    pub const AUTOPROC: &[&str] = &[
        "autoProcId",
        "autoProcProgramId",
        "spaceGroup",
        "refinedCell_a",
        "refinedCell_b",
        "refinedCell_c",
        "refinedCell_alpha",
        "refinedCell_beta",
        "refinedCell_gamma",
    ];
    /// AutoProcScaling.
    pub const SCALING: &[&str] = &["autoProcScalingId", "autoProcId"];
    /// AutoProcScalingStatistics.
    pub const STATS: &[&str] = &[
        "autoProcScalingStatisticsId",
        "autoProcScalingId",
        "scalingStatisticsType",
        "resolutionLimitLow",
        "resolutionLimitHigh",
        "rMerge",
        "rMeasAllIPlusIMinus",
        "rPimAllIPlusIMinus",
        "nTotalObservations",
        "nTotalUniqueObservations",
        "meanIOverSigI",
        "completeness",
        "multiplicity",
        "anomalousCompleteness",
        "anomalousMultiplicity",
        "ccHalf",
        "ccAnomalous",
        "anomalous",
    ];
}

/// The rows of one batch.
#[derive(Default)]
pub struct Batch {
    /// The groups, by key.
    pub groups: Vec<Row>,
    /// Every collection read (the batch's and those its processing integrates), by id.
    pub dcs: BTreeMap<i64, Row>,
    /// A group's collections in acquisition order.
    pub group_dcs: HashMap<i64, Vec<i64>>,
    /// BLSession by id.
    pub sessions: HashMap<i64, Row>,
    /// Proposal by id.
    pub proposals: HashMap<i64, Row>,
    /// BLSample by id.
    pub samples: HashMap<i64, Row>,
    /// Crystal by id.
    pub crystals: HashMap<i64, Row>,
    /// Protein by id.
    pub proteins: HashMap<i64, Row>,
    /// Container by id.
    pub containers: HashMap<i64, Row>,
    /// GridInfo by dataCollectionId.
    pub grids: HashMap<i64, Row>,
    /// GridInfo by dataCollectionGroupId.
    pub group_grids: HashMap<i64, Row>,
    /// SSXDataCollection by dataCollectionId.
    pub ssx: HashMap<i64, Row>,
    /// EventChain id and its (event name, Event id) by dataCollectionId.
    pub chains: HashMap<i64, Vec<(i64, Vec<(String, i64)>)>>,
    /// AutoProcProgram by id (those with a home in this batch).
    pub programs: BTreeMap<i64, Row>,
    /// Program → the group whose message carries it.
    pub home: HashMap<i64, i64>,
    /// Program → the program it was started from.
    pub parent: HashMap<i64, i64>,
    /// AutoProcIntegration rows of the programs.
    pub integrations: Vec<Row>,
    /// AutoProc rows.
    pub autoprocs: Vec<Row>,
    /// AutoProcScaling rows.
    pub scalings: Vec<Row>,
    /// AutoProcScalingStatistics rows.
    pub stats: Vec<Row>,
    /// AutoProcScaling_has_Int rows.
    pub has_int: Vec<Row>,
    /// AutoProcProgramAttachment rows (mxpipe's SSX JSON files only matter).
    pub attachments: Vec<Row>,
    /// ProcessingJob by id.
    pub jobs: HashMap<i64, Row>,
    /// ProcessingJobImageSweep rows by processingJobId.
    pub job_sweeps: HashMap<i64, Vec<Row>>,
    /// Indexes (row positions by key) so a batch maps in linear time.
    pub by: Indexes,
}

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

fn by_id(rows: Vec<Row>, key: &str) -> HashMap<i64, Row> {
    rows.into_iter()
        .filter_map(|r| int(&r, key).map(|k| (k, r)))
        .collect()
}

fn ids_of<'a>(rows: impl IntoIterator<Item = &'a Row>, col: &str) -> Vec<i64> {
    let mut v: Vec<i64> = rows.into_iter().filter_map(|r| int(r, col)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Batch {
    /// Read everything the messages of `groups` need.
    pub async fn load(src: &mut Source, groups: Vec<Row>) -> Result<Batch, ImportError> {
        let mut b = Batch::default();
        let group_ids = ids_of(&groups, "dataCollectionGroupId");
        let mut dcs = src
            .fetch_in(
                "DataCollection",
                cols::DC,
                "dataCollectionGroupId",
                &group_ids,
                "dataCollectionId",
            )
            .await?;
        // Acquisition order: start time, then number, then key.
        dcs.sort_by(|a, c| {
            (
                a.get("startTime"),
                int(a, "dataCollectionNumber"),
                int(a, "dataCollectionId"),
            )
                .cmp(&(
                    c.get("startTime"),
                    int(c, "dataCollectionNumber"),
                    int(c, "dataCollectionId"),
                ))
        });
        for d in &dcs {
            if let (Some(g), Some(id)) =
                (int(d, "dataCollectionGroupId"), int(d, "dataCollectionId"))
            {
                b.group_dcs.entry(g).or_default().push(id);
            }
        }
        let dc_ids = ids_of(&dcs, "dataCollectionId");
        b.dcs = dcs
            .into_iter()
            .filter_map(|r| int(&r, "dataCollectionId").map(|k| (k, r)))
            .collect();
        let mut session_ids = ids_of(&groups, "sessionId");
        session_ids.extend(ids_of(b.dcs.values(), "SESSIONID"));
        b.sessions = by_id(
            src.fetch_in(
                "BLSession",
                cols::SESSION,
                "sessionId",
                &session_ids,
                "sessionId",
            )
            .await?,
            "sessionId",
        );
        let proposal_ids = ids_of(b.sessions.values(), "proposalId");
        b.proposals = by_id(
            src.fetch_in(
                "Proposal",
                cols::PROPOSAL,
                "proposalId",
                &proposal_ids,
                "proposalId",
            )
            .await?,
            "proposalId",
        );
        let mut sample_ids = ids_of(&groups, "blSampleId");
        sample_ids.extend(ids_of(b.dcs.values(), "BLSAMPLEID"));
        b.samples = by_id(
            src.fetch_in(
                "BLSample",
                cols::SAMPLE,
                "blSampleId",
                &sample_ids,
                "blSampleId",
            )
            .await?,
            "blSampleId",
        );
        let crystal_ids = ids_of(b.samples.values(), "crystalId");
        b.crystals = by_id(
            src.fetch_in(
                "Crystal",
                cols::CRYSTAL,
                "crystalId",
                &crystal_ids,
                "crystalId",
            )
            .await?,
            "crystalId",
        );
        let protein_ids = ids_of(b.crystals.values(), "proteinId");
        b.proteins = by_id(
            src.fetch_in(
                "Protein",
                cols::PROTEIN,
                "proteinId",
                &protein_ids,
                "proteinId",
            )
            .await?,
            "proteinId",
        );
        let container_ids = ids_of(b.samples.values(), "containerId");
        b.containers = by_id(
            src.fetch_in(
                "Container",
                cols::CONTAINER,
                "containerId",
                &container_ids,
                "containerId",
            )
            .await?,
            "containerId",
        );
        for g in src
            .fetch_in(
                "GridInfo",
                cols::GRID,
                "dataCollectionGroupId",
                &group_ids,
                "gridInfoId",
            )
            .await?
        {
            if let Some(k) = int(&g, "dataCollectionGroupId") {
                b.group_grids.insert(k, g);
            }
        }
        for g in src
            .fetch_in(
                "GridInfo",
                cols::GRID,
                "dataCollectionId",
                &dc_ids,
                "gridInfoId",
            )
            .await?
        {
            if let Some(k) = int(&g, "dataCollectionId") {
                b.grids.insert(k, g);
            }
        }
        b.ssx = by_id(
            src.fetch_in(
                "SSXDataCollection",
                cols::SSX,
                "dataCollectionId",
                &dc_ids,
                "dataCollectionId",
            )
            .await?,
            "dataCollectionId",
        );
        if !b.ssx.is_empty() {
            let ssx_ids: Vec<i64> = b.ssx.keys().copied().collect();
            let chains = src
                .fetch_in(
                    "EventChain",
                    &["eventChainId", "dataCollectionId"],
                    "dataCollectionId",
                    &ssx_ids,
                    "eventChainId",
                )
                .await?;
            let chain_ids = ids_of(&chains, "eventChainId");
            let events = src
                .fetch_in(
                    "Event",
                    &["eventId", "eventChainId", "name"],
                    "eventChainId",
                    &chain_ids,
                    "eventId",
                )
                .await?;
            for c in &chains {
                let (Some(id), Some(dc)) = (int(c, "eventChainId"), int(c, "dataCollectionId"))
                else {
                    continue;
                };
                let ev = events
                    .iter()
                    .filter(|e| int(e, "eventChainId") == Some(id))
                    .filter_map(|e| Some((e.get("name")?.clone(), int(e, "eventId")?)))
                    .collect();
                b.chains.entry(dc).or_default().push((id, ev));
            }
        }
        b.groups = groups;
        b.load_processing(src, &dc_ids).await?;
        Ok(b)
    }

    /// The processing whose home is a group of this batch.
    async fn load_processing(
        &mut self,
        src: &mut Source,
        dc_ids: &[i64],
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
        // Home: the group of the program's first integration, when that group is in this batch.
        let in_batch: std::collections::HashSet<i64> = self.group_dcs.keys().copied().collect();
        for i in &all {
            let (Some(p), Some(dc)) = (int(i, "autoProcProgramId"), int(i, "dataCollectionId"))
            else {
                continue;
            };
            if self.home.contains_key(&p) {
                continue;
            }
            let group = self
                .dcs
                .get(&dc)
                .and_then(|d| int(d, "dataCollectionGroupId"));
            if let Some(g) = group {
                self.home
                    .insert(p, if in_batch.contains(&g) { g } else { -1 });
            }
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
            ) {
                if !all.iter().any(|i| int(i, "autoProcProgramId") == Some(id)) {
                    self.home.entry(id).or_insert(*g);
                }
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
        let scaling_program: HashMap<i64, i64> = self
            .scalings
            .iter()
            .filter_map(|sc| {
                let a = int(sc, "autoProcId")?;
                let p = self
                    .autoprocs
                    .iter()
                    .find(|x| int(x, "autoProcId") == Some(a))
                    .and_then(|x| int(x, "autoProcProgramId"))?;
                Some((int(sc, "autoProcScalingId")?, p))
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
        let child_ids: Vec<i64> = self
            .parent
            .keys()
            .copied()
            .filter(|c| !self.home.contains_key(c))
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
