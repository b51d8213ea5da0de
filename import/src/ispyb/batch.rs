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

/// The EventChains of one DataCollection: (chain id, its events as (name, Event id)).
pub type Chains = Vec<(i64, Vec<(String, i64)>)>;

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
    pub chains: HashMap<i64, Chains>,
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
    pub by: super::batch_processing::Indexes,
}

pub(super) fn by_id(rows: Vec<Row>, key: &str) -> HashMap<i64, Row> {
    rows.into_iter()
        .filter_map(|r| int(&r, key).map(|k| (k, r)))
        .collect()
}

pub(super) fn ids_of<'a>(rows: impl IntoIterator<Item = &'a Row>, col: &str) -> Vec<i64> {
    let mut v: Vec<i64> = rows.into_iter().filter_map(|r| int(r, col)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

impl Batch {
    /// Read everything the messages of `groups` need.
    pub async fn load(
        src: &mut Source,
        groups: Vec<Row>,
        filter: &str,
    ) -> Result<Batch, ImportError> {
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
        b.load_processing(src, &dc_ids, filter).await?;
        Ok(b)
    }
}
