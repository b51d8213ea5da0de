-- The benchmark queries of bench/queries.sql on the same data exported to ISPyB (scripts/bench-queries
-- with MARIADB=1). ISPyB has no per-frame SSX rows, so the frame queries have no counterpart; ISPyB holds
-- one DataCollection per wedge, so the monthly count is of wedges (scans) in all three engines.

-- name: best_resolution_per_crystal
SELECT c.crystalUUID, min(s.resolutionLimitHigh) AS best_resolution_a, count(*) AS datasets
FROM AutoProcScalingStatistics s
JOIN AutoProcScaling sc ON sc.autoProcScalingId = s.autoProcScalingId
JOIN AutoProc ap ON ap.autoProcId = sc.autoProcId
JOIN AutoProcProgram app ON app.autoProcProgramId = ap.autoProcProgramId
JOIN ProcessingJob pj ON pj.processingJobId = app.processingJobId
JOIN DataCollection dc ON dc.dataCollectionId = pj.dataCollectionId
JOIN BLSample b ON b.blSampleId = dc.BLSAMPLEID
JOIN Crystal c ON c.crystalId = b.crystalId
WHERE s.scalingStatisticsType = 'overall'
GROUP BY c.crystalUUID ORDER BY best_resolution_a, c.crystalUUID LIMIT 20;

-- name: wedges_per_beamline_per_month
SELECT s.beamLineName AS beamline, DATE_FORMAT(dcg.startTime, '%Y-%m') AS month, count(*) AS wedges
FROM DataCollection dc
JOIN DataCollectionGroup dcg ON dcg.dataCollectionGroupId = dc.dataCollectionGroupId
JOIN BLSession s ON s.sessionId = dcg.sessionId
GROUP BY s.beamLineName, DATE_FORMAT(dcg.startTime, '%Y-%m') ORDER BY 1, 2;
