//! The views: plain names, units in column names, latest version of every object, committed rows
//! only, every site. Defined here as data (name, what a row is, SQL, an example query);
//! `docs/queries.md` is generated from this list (a test keeps it in sync).

/// A view.
pub struct View {
    /// Name (`store.` views are building blocks, the others are for users).
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// The SELECT.
    pub sql: &'static str,
    /// An example query.
    pub example: &'static str,
}

/// Current version of each object of a table keyed by `uuid` (per site): its committed rows
/// without the versions a later committed run superseded (`store.superseded`, written with the
/// newer version; `mxpipe_store::current`). No ranking over history: a filter on any column
/// reaches the table's scan.
macro_rules! current {
    ($table:literal) => {
        concat!(
            "SELECT t.* FROM store.superseded s RIGHT ANTI JOIN store.",
            $table,
            " t ON s.site = t.site AND s.uuid = t.uuid AND s.superseded_ingest_id = t.ingest_id"
        )
    };
}

/// The latest committed version of each object by ranking every version (`store.<table>` per
/// site, newest commit first): how the views read before the current state was kept at commit,
/// and the reference the tests compare the current-state views against.
pub fn ranked_latest(table: &str) -> String {
    format!(
        "SELECT * EXCLUDE (version_rank) FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.site, t.uuid ORDER BY t.committed_at DESC) AS version_rank \
         FROM store.{table} t) WHERE version_rank = 1"
    )
}

/// Every view, building blocks first.
pub const VIEWS: &[View] = &[
    View {
        name: "store.current_jobs",
        doc: "latest version of each job",
        sql: current!("jobs"),
        example: "",
    },
    View {
        name: "store.current_sweeps",
        doc: "latest version of each sweep",
        sql: current!("sweeps"),
        example: "",
    },
    View {
        name: "store.current_samples",
        doc: "latest version of each sample",
        sql: current!("samples"),
        example: "",
    },
    View {
        name: "store.current_logistical_samples",
        doc: "latest version of each logistical sample",
        sql: current!("logistical_samples"),
        example: "",
    },
    View {
        name: "store.current_reflection_sets",
        doc: "latest version of each reflection set",
        sql: current!("reflection_sets"),
        example: "",
    },
    View {
        name: "ingests",
        doc: "one committed ingest run (when, who, what command, objects new/changed/unchanged)",
        sql: "SELECT site, ingest_id, started_at, committed_at, user_name, host, tool_version, command, n_sources, \
              n_objects_new, n_objects_changed, n_objects_unchanged FROM store.ingests",
        example: "SELECT site, count(*) AS runs, sum(n_objects_new) AS new_objects FROM ingests GROUP BY site",
    },
    View {
        name: "store.current_sample_pids",
        doc: "current state of each PID mxpipe minted",
        sql: "SELECT * FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.site, t.object_uuid ORDER BY t.committed_at DESC, t.recorded_at DESC) AS version_rank \
              FROM store.sample_pids t) WHERE version_rank = 1",
        example: "",
    },
    View {
        name: "samples",
        doc: "one sample (MacromoleculeSample, Macromolecule, Medium) with its persistent id (given in the message, or minted by mxpipe: pid_state minted / draft / findable / pending) and the barcodes of the containers and crystals that held it",
        sql: "SELECT s.site, s.uuid AS sample_uuid, s.mxlims_type, s.name, s.acronym, COALESCE(s.pid, m.pid) AS pid, \
              COALESCE(s.pid_scheme, m.scheme) AS pid_scheme, CASE WHEN s.pid IS NOT NULL THEN 'given' ELSE m.state END AS pid_state, \
              (SELECT string_agg(DISTINCT l.barcode, ', ') FROM store.current_logistical_samples l \
               WHERE l.site = s.site AND l.sample_uuid = s.uuid AND l.barcode IS NOT NULL) AS barcodes \
              FROM store.current_samples s LEFT JOIN store.current_sample_pids m ON m.site = s.site AND m.object_uuid = s.uuid",
        example: "SELECT name, pid, pid_state, barcodes FROM samples WHERE mxlims_type = 'MacromoleculeSample'",
    },
    View {
        name: "crystals",
        doc: "one crystal (MXLIMS Crystal) with its persistent id (given or minted, as in samples), its sample and container",
        sql: "SELECT c.site, c.uuid AS crystal_uuid, c.name, c.barcode, COALESCE(c.pid, m.pid) AS pid, \
              CASE WHEN c.pid IS NOT NULL THEN 'given' ELSE m.state END AS pid_state, c.sample_uuid, s.name AS sample_name, \
              c.container_uuid, p.mxlims_type AS container_type, p.barcode AS container_barcode \
              FROM store.current_logistical_samples c \
              LEFT JOIN store.current_samples s ON s.site = c.site AND s.uuid = c.sample_uuid \
              LEFT JOIN store.current_logistical_samples p ON p.site = c.site AND p.uuid = c.container_uuid \
              LEFT JOIN store.current_sample_pids m ON m.site = c.site AND m.object_uuid = c.uuid \
              WHERE c.mxlims_type = 'Crystal'",
        example: "SELECT crystal_uuid, pid, sample_name, container_barcode FROM crystals",
    },
    View {
        name: "experiments",
        doc: "one MxExperiment with its session, sample and number of sweeps",
        sql: "SELECT j.site, j.uuid AS experiment_uuid, j.experiment_strategy, j.start_time, j.end_time, j.job_status, j.visit, \
              j.sample_uuid, s.name AS sample_name, j.logistical_sample_uuid AS crystal_uuid, j.space_group AS expected_space_group, \
              (SELECT count(*) FROM store.current_sweeps w WHERE w.site = j.site AND w.experiment_uuid = j.uuid) AS number_sweeps, COALESCE(b.beamline, j.file_beamline) AS beamline, COALESCE(b.facility, j.file_facility) AS facility \
              FROM store.current_jobs j LEFT JOIN store.current_samples s ON s.site = j.site AND s.uuid = j.sample_uuid \
              LEFT JOIN store.sessions b ON b.site = j.site AND b.object_uuid = j.uuid AND b.ingest_id = j.ingest_id \
              WHERE j.mxlims_type = 'MxExperiment'",
        example: "SELECT visit, count(*) AS experiments, sum(number_sweeps) AS sweeps FROM experiments GROUP BY visit",
    },
    View {
        name: "sweeps",
        doc: "one CollectionSweep: energy (eV) and wavelength (Å), exposure (s), image width (°), images, image range, sample, crystal, experiment, session (visit, beamline, facility)",
        sql: "SELECT w.site, w.uuid AS sweep_uuid, w.experiment_uuid, j.visit, j.start_time AS experiment_start_time, \
              w.sweep_type, w.scan_axis, w.energy_ev, w.wavelength_a, w.exposure_time_s, w.image_width_deg, w.number_images, \
              w.number_scans, w.transmission_pct, w.resolution_a, w.detector_distance_mm, w.path, w.filename_template, \
              (SELECT min(c.first_image_number) FROM store.scans c WHERE c.site = w.site AND c.sweep_uuid = w.uuid AND c.ingest_id = w.ingest_id) AS first_image_number, \
              (SELECT max(c.last_image_number) FROM store.scans c WHERE c.site = w.site AND c.sweep_uuid = w.uuid AND c.ingest_id = w.ingest_id) AS last_image_number, \
              COALESCE(x.sample_uuid, j.sample_uuid) AS sample_uuid, COALESCE(w.logistical_sample_uuid, j.logistical_sample_uuid) AS crystal_uuid, \
              COALESCE(b.beamline, j.file_beamline) AS beamline, COALESCE(b.facility, j.file_facility) AS facility, \
              w.pixel_size_x_mm, w.pixel_size_y_mm \
              FROM store.current_sweeps w \
              LEFT JOIN store.current_jobs j ON j.site = w.site AND j.uuid = w.experiment_uuid \
              LEFT JOIN store.sessions b ON b.site = j.site AND b.object_uuid = j.uuid AND b.ingest_id = j.ingest_id \
              LEFT JOIN store.current_logistical_samples x ON x.site = w.site AND x.uuid = w.logistical_sample_uuid",
        example: "SELECT sweep_uuid, energy_ev, wavelength_a, number_images FROM sweeps ORDER BY experiment_start_time",
    },
    View {
        name: "scans",
        doc: "one scan (wedge) of a sweep, in acquisition order within its experiment, with the file that holds it (path, file_name) and the number of its first image within that file",
        sql: "SELECT c.site, c.experiment_uuid, c.sweep_uuid, c.ordinal, c.list_index AS scan_in_sweep, c.scan_position_start, \
              c.first_image_number, c.last_image_number, c.number_images, w.energy_ev, w.wavelength_a, w.image_width_deg, \
              COALESCE(f.path, w.path) AS path, COALESCE(f.filename_template, w.filename_template) AS filename_template, \
              COALESCE(f.first_image_in_file, c.first_image_number) AS first_image_in_file \
              FROM store.scans c JOIN store.current_sweeps w ON w.site = c.site AND w.uuid = c.sweep_uuid AND w.ingest_id = c.ingest_id \
              LEFT JOIN store.scan_files f ON f.site = c.site AND f.sweep_uuid = c.sweep_uuid AND f.ingest_id = c.ingest_id AND f.ordinal = c.ordinal",
        example: "SELECT ordinal, energy_ev, first_image_number, last_image_number, filename_template FROM scans WHERE experiment_uuid = '…' ORDER BY ordinal",
    },
    View {
        name: "image_index",
        doc: "one image: its sweep, scan (wedge), acquisition ordinal, scan-axis position, and the file that holds it with the frame (1-based) within that file — which sweep/wedge/file is image N of an interleaved collection; for an NXmx master also the image data file its /entry/data links point to and the frame within it",
        sql: "SELECT i.*, d.file_name AS data_file, i.frame_in_file - d.first_frame + 1 AS frame_in_data_file FROM (\
              SELECT site, experiment_uuid, sweep_uuid, ordinal AS scan_ordinal, scan_in_sweep, path, filename_template, image_number, \
              scan_position_start + (image_number - first_image_number) * image_width_deg AS scan_position_deg, energy_ev, \
              CASE WHEN strpos(filename_template, '%0') > 0 \
                THEN concat(split_part(filename_template, '%0', 1), \
                            lpad(CAST(first_image_in_file + image_number - first_image_number AS VARCHAR), \
                                 CAST(substr(split_part(filename_template, '%0', 2), 1, 1) AS INT), '0'), \
                            substr(split_part(filename_template, '%0', 2), 3)) \
                ELSE filename_template END AS file_name, \
              CASE WHEN strpos(filename_template, '%0') > 0 THEN 1 \
                ELSE first_image_in_file + image_number - first_image_number END AS frame_in_file \
              FROM (SELECT s.*, unnest(range(s.first_image_number, s.last_image_number + 1)) AS image_number FROM scans s)) i \
              LEFT JOIN (SELECT f.* FROM store.data_files f JOIN store.current_sweeps w \
                ON w.site = f.site AND w.uuid = f.sweep_uuid AND w.ingest_id = f.ingest_id) d ON d.site = i.site AND d.sweep_uuid = i.sweep_uuid AND d.ordinal = i.scan_ordinal \
                AND i.frame_in_file >= d.first_frame AND i.frame_in_file < d.first_frame + d.frames",
        example: "SELECT sweep_uuid, scan_ordinal, scan_position_deg, file_name, frame_in_file FROM image_index WHERE filename_template LIKE 'selmet%' AND image_number = 450",
    },
    View {
        name: "processing",
        doc: "one MxProcessing job: program, status, times, sample and crystal, cell/space group, number of inputs",
        sql: "SELECT j.site, j.uuid AS processing_uuid, j.program_name, j.program_version, j.job_status, j.start_time, j.end_time, \
              j.visit, j.sample_uuid, j.logistical_sample_uuid AS crystal_uuid, j.space_group, j.cell_a_a, j.cell_b_a, j.cell_c_a, j.cell_alpha_deg, j.cell_beta_deg, j.cell_gamma_deg, \
              (SELECT count(*) FROM store.processing_inputs p WHERE p.site = j.site AND p.processing_uuid = j.uuid AND p.ingest_id = j.ingest_id) AS number_inputs \
              FROM store.current_jobs j WHERE j.mxlims_type = 'MxProcessing'",
        example: "SELECT program_name, count(*) FROM processing GROUP BY program_name",
    },
    View {
        name: "reflection_sets",
        doc: "one ReflectionSet with overall, inner and outer statistics as columns (R as fractions, completeness in %, CC½ as a coefficient); label: anisotropic / isotropic when the program wrote both (autoPROC + STARANISO), else the program's name; position: its place among the program's results",
        sql: "SELECT r.site, r.uuid AS reflection_set_uuid, r.processing_uuid, j.program_name, \
              CASE WHEN r.anisotropic THEN 'anisotropic' WHEN NOT r.anisotropic THEN 'isotropic' ELSE j.program_name END AS label, r.anisotropic, r.position, \
              j.sample_uuid, j.logistical_sample_uuid AS crystal_uuid, r.space_group, r.cell_a_a, r.cell_b_a, r.cell_c_a, \
              r.cell_alpha_deg, r.cell_beta_deg, r.cell_gamma_deg, r.wavelength_a, \
              r.diffraction_limit_1_a, r.diffraction_limit_2_a, r.diffraction_limit_3_a, \
              max(CASE WHEN s.shell = 'overall' THEN s.resolution_low_a END) AS resolution_low_a, \
              max(CASE WHEN s.shell = 'overall' THEN s.resolution_high_a END) AS resolution_high_a, \
              max(CASE WHEN s.shell = 'outer' THEN s.resolution_low_a END) AS outer_resolution_low_a, \
              max(CASE WHEN s.shell = 'overall' THEN s.r_merge END) AS r_merge, max(CASE WHEN s.shell = 'inner' THEN s.r_merge END) AS inner_r_merge, max(CASE WHEN s.shell = 'outer' THEN s.r_merge END) AS outer_r_merge, \
              max(CASE WHEN s.shell = 'overall' THEN s.r_meas END) AS r_meas, max(CASE WHEN s.shell = 'outer' THEN s.r_meas END) AS outer_r_meas, \
              max(CASE WHEN s.shell = 'overall' THEN s.r_pim END) AS r_pim, \
              max(CASE WHEN s.shell = 'overall' THEN s.i_over_sigma END) AS i_over_sigma, max(CASE WHEN s.shell = 'outer' THEN s.i_over_sigma END) AS outer_i_over_sigma, \
              max(CASE WHEN s.shell = 'overall' THEN s.cc_half END) AS cc_half, max(CASE WHEN s.shell = 'inner' THEN s.cc_half END) AS inner_cc_half, max(CASE WHEN s.shell = 'outer' THEN s.cc_half END) AS outer_cc_half, \
              max(CASE WHEN s.shell = 'overall' THEN s.cc_ano END) AS cc_ano, \
              max(CASE WHEN s.shell = 'overall' THEN s.completeness_pct END) AS completeness_pct, max(CASE WHEN s.shell = 'outer' THEN s.completeness_pct END) AS outer_completeness_pct, \
              max(CASE WHEN s.shell = 'overall' THEN s.completeness_spherical_pct END) AS completeness_spherical_pct, \
              max(CASE WHEN s.shell = 'overall' THEN s.completeness_ellipsoidal_pct END) AS completeness_ellipsoidal_pct, \
              max(CASE WHEN s.shell = 'outer' THEN s.completeness_ellipsoidal_pct END) AS outer_completeness_ellipsoidal_pct, \
              max(CASE WHEN s.shell = 'overall' THEN s.multiplicity END) AS multiplicity, \
              max(CASE WHEN s.shell = 'overall' THEN s.number_observations END) AS number_observations, \
              max(CASE WHEN s.shell = 'overall' THEN s.number_observations_unique END) AS number_observations_unique \
              FROM store.current_reflection_sets r \
              LEFT JOIN store.reflection_statistics s ON s.site = r.site AND s.reflection_set_uuid = r.uuid AND s.ingest_id = r.ingest_id \
              LEFT JOIN store.current_jobs j ON j.site = r.site AND j.uuid = r.processing_uuid \
              GROUP BY r.site, r.uuid, r.processing_uuid, j.program_name, r.anisotropic, r.position, j.sample_uuid, j.logistical_sample_uuid, r.space_group, r.cell_a_a, r.cell_b_a, r.cell_c_a, \
              r.cell_alpha_deg, r.cell_beta_deg, r.cell_gamma_deg, r.wavelength_a, r.diffraction_limit_1_a, r.diffraction_limit_2_a, r.diffraction_limit_3_a",
        example: "SELECT program_name, resolution_high_a, cc_half, outer_cc_half FROM reflection_sets ORDER BY resolution_high_a",
    },
    View {
        name: "reflection_shells",
        doc: "one statistics block of a ReflectionSet: overall, or one resolution shell (shell_index from low to high resolution) — for plots against resolution (R as fractions, completeness in %, CC½ as a coefficient)",
        sql: "SELECT r.site, r.uuid AS reflection_set_uuid, r.processing_uuid, s.shell, s.shell_index, s.resolution_low_a, s.resolution_high_a, \
              s.number_observations, s.number_observations_unique, s.r_merge, s.r_meas, s.r_pim, s.i_over_sigma, s.cc_half, s.cc_ano, \
              s.completeness_pct, s.multiplicity, s.completeness_spherical_pct, s.completeness_ellipsoidal_pct, \
              s.completeness_ano_pct, s.completeness_ano_spherical_pct, s.completeness_ano_ellipsoidal_pct \
              FROM store.current_reflection_sets r JOIN store.reflection_statistics s \
              ON s.site = r.site AND s.reflection_set_uuid = r.uuid AND s.ingest_id = r.ingest_id",
        example: "SELECT shell_index, resolution_high_a, cc_half, i_over_sigma FROM reflection_shells WHERE shell <> 'overall' ORDER BY shell_index",
    },
    View {
        name: "processing_inputs",
        doc: "one input of a processing job with the sweep it links to (by inputDataRefs, by the images read, or by ISPyB dataCollectionId) and that sweep's experiment and crystal; an input that matches no stored sweep yet has no sweep",
        sql: "SELECT p.site, p.processing_uuid, p.list_index, p.kind, p.path, p.filename_template, p.first_image_number, p.last_image_number, \
              p.data_collection_id, m.sweep_uuid, m.linked_by, w.experiment_uuid, w.crystal_uuid \
              FROM (SELECT p.* FROM store.processing_inputs p JOIN store.current_jobs j \
                    ON j.site = p.site AND j.uuid = p.processing_uuid AND j.ingest_id = p.ingest_id) p \
              LEFT JOIN (\
                SELECT DISTINCT p.site, p.processing_uuid, p.list_index, i.sweep_uuid, 'images' AS linked_by \
                FROM store.processing_inputs p JOIN store.image_series i ON i.site = p.site AND i.path = p.path \
                AND i.filename_template = p.filename_template AND i.first_image_number <= p.last_image_number \
                AND i.last_image_number >= p.first_image_number \
                UNION SELECT DISTINCT p.site, p.processing_uuid, p.list_index, d.object_uuid, 'dataCollectionId' \
                FROM store.processing_inputs p JOIN store.identifiers d ON d.site = p.site AND d.kind = 'identifier' \
                AND lower(d.domain) LIKE '%ispyb%' AND d.value = CAST(p.data_collection_id AS VARCHAR) \
                JOIN store.current_sweeps c ON c.site = d.site AND c.uuid = d.object_uuid \
                UNION SELECT DISTINCT p.site, p.processing_uuid, p.list_index, p.sweep_uuid, 'inputDataRefs' \
                FROM store.processing_inputs p WHERE p.sweep_uuid IS NOT NULL) m \
              ON m.site = p.site AND m.processing_uuid = p.processing_uuid AND m.list_index = p.list_index \
              LEFT JOIN sweeps w ON w.site = m.site AND w.sweep_uuid = m.sweep_uuid",
        example: "SELECT processing_uuid, list_index, linked_by, experiment_uuid FROM processing_inputs WHERE sweep_uuid IS NULL",
    },
    View {
        name: "result_files",
        doc: "one file a processing job names as its result (AutoProcProgramAttachment), with the ReflectionSet read from that file when it is stored (same directory and name; an MTZ file ingested before or after the job links either way) and the job that read it",
        sql: "SELECT f.site, f.processing_uuid, f.list_index, f.path, f.file_name, f.file_type, \
              r.uuid AS reflection_set_uuid, r.processing_uuid AS read_by_processing_uuid \
              FROM (SELECT f.* FROM store.result_files f JOIN store.current_jobs j \
                    ON j.site = f.site AND j.uuid = f.processing_uuid AND j.ingest_id = f.ingest_id) f \
              LEFT JOIN store.current_reflection_sets r ON r.site = f.site AND r.path = f.path AND r.filename = f.file_name",
        example: "SELECT processing_uuid, file_name, reflection_set_uuid FROM result_files WHERE file_name LIKE '%.mtz'",
    },
    View {
        name: "ssx_frames",
        doc: "one SSX frame (image or event) of a processing job: hit, indexing, peaks, lattices",
        sql: "SELECT f.site, f.processing_uuid, f.frame_index, f.image_filename, f.event, f.serial_number, f.hit, f.indexed_by, \
              f.indexing_tries, f.photon_energy_ev, f.camera_length_mm, f.num_peaks, f.peak_resolution_a, f.num_lattices FROM store.ssx_frames f",
        example: "SELECT image_filename, count(*) AS frames, avg(CAST(hit AS INT)) AS hit_rate FROM ssx_frames GROUP BY image_filename",
    },
    View {
        name: "ssx_lattices",
        doc: "one indexed lattice (crystal) of an SSX frame: unit cell (Å, degrees), lattice type, centering, resolution estimate (Å), reflections",
        sql: "SELECT l.site, l.processing_uuid, l.frame_index, l.lattice_index, l.cell_a_a, l.cell_b_a, l.cell_c_a, l.cell_alpha_deg, \
              l.cell_beta_deg, l.cell_gamma_deg, l.lattice_type, l.centering, l.resolution_limit_a, l.num_reflections FROM store.ssx_lattices l",
        example: "SELECT processing_uuid, avg(cell_a_a) AS a, stddev(cell_a_a) AS sd_a, count(*) AS lattices FROM ssx_lattices GROUP BY processing_uuid",
    },
    View {
        name: "ssx_runs",
        doc: "one SSX run: experiment-level (delivery, counts from the ssx extension) or processing-level (hit finding/indexing counts); rates as fractions 0..1",
        sql: "SELECT site, 'experiment' AS level, experiment_uuid AS job_uuid, delivery_method, frames_total, crystal_hits AS hits, frames_indexed, \
              lattices_indexed, lattices_merged, hit_rate, indexing_rate, committed_at FROM store.ssx_runs \
              UNION ALL \
              SELECT site, 'processing', processing_uuid, NULL, frames_total, frame_hits, frames_indexed, lattices_indexed, lattices_merged, \
              hit_rate, indexing_rate, committed_at FROM store.ssx_data_reduction",
        example: "SELECT site, level, frames_total, hit_rate, indexing_rate FROM ssx_runs ORDER BY hit_rate DESC",
    },
    View {
        name: "barcode_reuse",
        doc: "one barcode (of a crystal or of the pin/container that held it) seen with more than one sample identity: crystals with different PIDs, or, without a PID, different crystals; identities are never taken from barcodes",
        sql: "WITH crys AS (SELECT c.site, c.uuid, c.container_uuid, c.sample_uuid, c.barcode, c.committed_at, COALESCE(c.pid, m.pid) AS pid \
                FROM store.current_logistical_samples c LEFT JOIN store.current_sample_pids m ON m.site = c.site AND m.object_uuid = c.uuid \
                WHERE c.mxlims_type = 'Crystal'), \
              seen AS (SELECT site, barcode, uuid AS crystal_uuid, sample_uuid, pid, committed_at FROM crys WHERE barcode IS NOT NULL \
                UNION ALL SELECT x.site, p.barcode, x.uuid, x.sample_uuid, x.pid, p.committed_at FROM crys x \
                JOIN store.current_logistical_samples p ON p.site = x.site AND p.uuid = x.container_uuid WHERE p.barcode IS NOT NULL) \
              SELECT s.barcode, count(DISTINCT COALESCE(s.pid, concat('crystal ', s.crystal_uuid))) AS identities, \
              string_agg(DISTINCT s.pid, ', ') AS pids, count(DISTINCT s.crystal_uuid) AS crystals, \
              count(DISTINCT s.sample_uuid) AS samples, string_agg(DISTINCT m.name, ', ') AS sample_names, string_agg(DISTINCT s.site, ', ') AS sites, \
              min(s.committed_at) AS first_seen, max(s.committed_at) AS last_seen \
              FROM seen s LEFT JOIN store.current_samples m ON m.site = s.site AND m.uuid = s.sample_uuid \
              GROUP BY s.barcode HAVING count(DISTINCT COALESCE(s.pid, concat('crystal ', s.crystal_uuid))) > 1",
        example: "SELECT barcode, identities, pids, sample_names, sites, last_seen FROM barcode_reuse ORDER BY last_seen DESC",
    },
];

/// The views for users (not the `store.` building blocks), in registry order.
pub fn user_views() -> impl Iterator<Item = &'static View> {
    VIEWS.iter().filter(|v| !v.name.starts_with("store."))
}
