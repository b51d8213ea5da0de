"""Create the ISPyB schema from PyPI `ispyb` (its SQLAlchemy models, schema 5.2.0) in a MariaDB
database and seed the lookup rows the mxpipe exporter needs. Used by scripts/ispyb-testdb.

    python scripts/ispyb_schema.py SOCKET DATABASE
"""
import sys

import sqlalchemy
from ispyb.sqlalchemy import _auto_db_schema as schema

socket, database = sys.argv[1], sys.argv[2]
engine = sqlalchemy.create_engine(f"mysql+mysqlconnector://root@localhost/{database}?unix_socket={socket}")
schema.Base.metadata.create_all(engine)
version = getattr(schema, "__schema_version__", None) or "5.2.0"

# Lookup rows (ids as in ispyb-database's lookups.sql where the note records them).
PIPELINES = [  # (id, name, discipline)
    (3, "Fast DP", "MX"), (5, "xia2/Multiplex", "MX"), (6, "xia2/DIALS", "MX"), (7, "xia2/3dii", "MX"),
    (8, "autoPROC", "MX"), (10, "Dimple", "MX"), (14, "autoPROC+STARANISO", "MX"),
    (15, "xia2/DIALS (multi)", "MX"), (16, "xia2/3dii (multi)", "MX"),
]
EXPERIMENT_TYPES = [  # (id, name)
    (1, "SAD"), (2, "SAD - Inverse Beam"), (3, "OSC"), (4, "Collect - Multiwedge"), (5, "MAD"), (6, "Helical"),
    (7, "Multi-positional"), (8, "Mesh"), (9, "Burn"), (10, "MAD - Inverse Beam"), (11, "Characterization"),
    (12, "Dehydration"), (20, "Screening"), (38, "Serial Fixed"), (39, "Serial Jet"), (40, "Still"),
    (41, "SSX-Chip"), (42, "SSX-Jet"),
]
EVENT_TYPES = [(1, "XrayDetection"), (2, "XrayExposure"), (3, "LaserExcitation"), (4, "ReactionTrigger")]
with engine.begin() as c:
    t = sqlalchemy.text
    c.execute(t("INSERT INTO AdminVar (name, value) VALUES ('schemaVersion', :v)"), {"v": version})
    for i, n, d in PIPELINES:
        c.execute(t("INSERT INTO ProcessingPipeline (processingPipelineId, name, discipline, pipelineStatus, reprocessing) "
                    "VALUES (:i, :n, :d, 'automatic', 1)"), {"i": i, "n": n, "d": d})
    for i, n in EXPERIMENT_TYPES:
        c.execute(t("INSERT INTO ExperimentType (experimentTypeId, name, proposalType, active) VALUES (:i, :n, 'mx', 1)"),
                  {"i": i, "n": n})
    for i, n in EVENT_TYPES:
        c.execute(t("INSERT INTO EventType (eventTypeId, name) VALUES (:i, :n)"), {"i": i, "n": n})
n = len(schema.Base.metadata.tables)
print(f"ISPyB schema {version}: {n} tables; lookups seeded", file=sys.stderr)
