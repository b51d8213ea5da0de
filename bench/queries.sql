-- Benchmark queries (scripts/bench-queries). Written against the store.* relations (committed rows of
-- every site, with a site column) so that the same text runs in mxpipe (DataFusion) and in DuckDB over
-- the same Parquet files. One query per block; a block starts with "-- name: ".

-- name: hit_rate_per_sample_per_site
SELECT f.site, j.sample_uuid, count(*) AS frames, avg(CASE WHEN f.hit THEN 1.0 ELSE 0.0 END) AS hit_rate
FROM store.ssx_frames f JOIN store.jobs j ON j.site = f.site AND j.uuid = f.processing_uuid
GROUP BY f.site, j.sample_uuid ORDER BY hit_rate DESC, j.sample_uuid LIMIT 20;

-- name: best_resolution_per_crystal
SELECT r.site, j.logistical_sample_uuid AS crystal_uuid, min(s.resolution_high_a) AS best_resolution_a, count(*) AS datasets
FROM store.reflection_statistics s
JOIN store.reflection_sets r ON r.site = s.site AND r.uuid = s.reflection_set_uuid
JOIN store.jobs j ON j.site = r.site AND j.uuid = r.processing_uuid
WHERE s.shell = 'overall'
GROUP BY r.site, j.logistical_sample_uuid ORDER BY best_resolution_a, crystal_uuid LIMIT 20;

-- name: sweeps_per_beamline_per_month
SELECT b.site, b.beamline, date_trunc('month', j.start_time) AS month, count(*) AS sweeps
FROM store.sweeps w
JOIN store.jobs j ON j.site = w.site AND j.uuid = w.experiment_uuid
JOIN store.sessions b ON b.site = j.site AND b.object_uuid = j.uuid
GROUP BY b.site, b.beamline, date_trunc('month', j.start_time) ORDER BY 1, 2, 3;

-- name: frames_per_site
SELECT site, count(*) AS frames, sum(CASE WHEN hit THEN 1 ELSE 0 END) AS hits, sum(num_lattices) AS lattices
FROM store.ssx_frames GROUP BY site ORDER BY site;

-- name: wedges_per_beamline_per_month
SELECT b.beamline, date_trunc('month', j.start_time) AS month, count(*) AS wedges
FROM store.scans c
JOIN store.jobs j ON j.site = c.site AND j.uuid = c.experiment_uuid
JOIN store.sessions b ON b.site = j.site AND b.object_uuid = j.uuid
GROUP BY b.beamline, date_trunc('month', j.start_time) ORDER BY 1, 2;
