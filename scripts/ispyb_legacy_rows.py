"""Write a small legacy ISPyB visit with PyPI `ispyb`'s own SQLAlchemy models, as a legacy site's
software would (not through mxpipe's exporter): the rows `mxpipe import ispyb` is tested against
(tests/it/import_ispyb.rs asserts the values written here). Used by `scripts/ispyb-testdb legacy`.

    python scripts/ispyb_legacy_rows.py SOCKET DATABASE

The visit mx99001-3 on i04 (Europe/London times, BST in July):
- group A (OSC): one sweep written as two DataCollections (wedges 1–900 and 901–1800 of one
  template), thaumatin sample DLS-0042 in puck PUCK-7, transmission 50 %, beam 0.05 × 0.02 mm;
  processed by fast_dp (CC½ written in %) and xia2 dials (CC½ as a coefficient), and a dimple
  run started from xia2 (parentAutoProcProgramId);
- group B (MESH, upper case): a 10 × 5 grid scan (GridInfo, 0.01 × 0.02 mm steps), axisRange 0,
  transmission 0 ("not measured") and a barcode placeholder 'NR' at collection.
"""
import datetime as dt
import sys

import sqlalchemy
from sqlalchemy.orm import Session
from ispyb.sqlalchemy import _auto_db_schema as m

socket, database = sys.argv[1], sys.argv[2]
engine = sqlalchemy.create_engine(f"mysql+mysqlconnector://root@localhost/{database}?unix_socket={socket}")
T = dt.datetime

with Session(engine) as s:
    person = m.Person(login="legacy", familyName="Legacy")
    s.add(person); s.flush()
    proposal = m.Proposal(personId=person.personId, proposalCode="mx", proposalNumber="99001", proposalType="MX", title="legacy visit")
    s.add(proposal); s.flush()
    session = m.BLSession(proposalId=proposal.proposalId, visit_number=3, beamLineName="i04",
                          startDate=T(2019, 7, 1, 9, 0, 0), endDate=T(2019, 7, 2, 9, 0, 0))
    protein = m.Protein(proposalId=proposal.proposalId, name="Thaumatin", acronym="thau", sequence="ATFEIVNRCSYTVWAAASKGDAALDAGGRQLNSGESWTINVEPGTNGGKIWARTDCYFDDSGSGICKTGDCGGLLRCKRFGRPPTTLAEFSLNQYGKDYIDISNIKGFNVPMDFSPTTRGCRGVRCAADIVGQCPAKLKAPGGGCNDACTVFQTSEYCCTTGKCGPTEYSRFFKRLCPDAFSYVLDKPTTVTCPGSSNYRVTFCPTA")
    s.add_all([session, protein]); s.flush()
    crystal = m.Crystal(proteinId=protein.proteinId, name="thau-P41212", spaceGroup="P41212")
    container = m.Container(code="puck 7", barcode="PUCK-7")
    s.add_all([crystal, container]); s.flush()
    sample = m.BLSample(crystalId=crystal.crystalId, containerId=container.containerId, name="thau-1", code="DLS-0042", location="3")
    s.add(sample); s.flush()

    # Group A: one sweep in two DataCollections (two wedges of one template).
    ga = m.DataCollectionGroup(sessionId=session.sessionId, blSampleId=sample.blSampleId, experimentType="OSC",
                               startTime=T(2019, 7, 1, 10, 0, 0), endTime=T(2019, 7, 1, 10, 3, 0))
    s.add(ga); s.flush()
    wedges = []
    for n, (first, start, t0) in enumerate([(1, 0.0, T(2019, 7, 1, 10, 0, 0)), (901, 90.0, T(2019, 7, 1, 10, 1, 30))], 1):
        dc = m.DataCollection(dataCollectionGroupId=ga.dataCollectionGroupId, SESSIONID=session.sessionId, BLSAMPLEID=sample.blSampleId,
                              dataCollectionNumber=n, startTime=t0, endTime=t0 + dt.timedelta(seconds=36), runStatus="DataCollection Successful",
                              axisStart=start, axisEnd=0.1, axisRange=0.1, overlap=0, numberOfImages=900, startImageNumber=first,
                              exposureTime=0.04, imageDirectory="/dls/i04/data/2019/mx99001-3/thau/", imagePrefix="thau",
                              fileTemplate="thau_1_#####.cbf", wavelength=0.9795, resolution=1.5, detectorDistance=250.0,
                              xBeam=208.5, yBeam=214.25, transmission=50.0, rotationAxis="Omega", omegaStart=start,
                              kappaStart=0, phiStart=0, beamSizeAtSampleX=0.05, beamSizeAtSampleY=0.02)
        s.add(dc); s.flush(); wedges.append(dc)

    def program(programs, command, **kw):
        p = m.AutoProcProgram(processingPrograms=programs, processingCommandLine=command, processingStatus=1,
                              processingStartTime=T(2019, 7, 1, 10, 5, 0), processingEndTime=T(2019, 7, 1, 10, 15, 0), **kw)
        s.add(p); s.flush(); return p

    def scaled(p, cc):  # cc: (overall, inner, outer) CC½ as the program writes it
        ap = m.AutoProc(autoProcProgramId=p.autoProcProgramId, spaceGroup="P 41 21 2", refinedCell_a=57.8, refinedCell_b=57.8,
                        refinedCell_c=150.2, refinedCell_alpha=90, refinedCell_beta=90, refinedCell_gamma=90)
        s.add(ap); s.flush()
        sc = m.AutoProcScaling(autoProcId=ap.autoProcId)
        s.add(sc); s.flush()
        # Rows stored outer shell first, as DLS's do.
        for kind, low, high, rmerge, comp, c in [("outerShell", 1.55, 1.5, 1.21, 99.1, cc[2]), ("overall", 48.0, 1.5, 0.071, 99.8, cc[0]),
                                                 ("innerShell", 48.0, 8.2, 0.031, 99.5, cc[1])]:
            s.add(m.AutoProcScalingStatistics(autoProcScalingId=sc.autoProcScalingId, scalingStatisticsType=kind, resolutionLimitLow=low,
                                              resolutionLimitHigh=high, rMerge=rmerge, completeness=comp, multiplicity=7.1, meanIOverSigI=12.5,
                                              ccHalf=c, nTotalObservations=700000, nTotalUniqueObservations=98000, anomalous=0))
        for dc, (lo, hi) in zip(wedges, [(1, 900), (901, 1800)]):
            i = m.AutoProcIntegration(dataCollectionId=dc.dataCollectionId, autoProcProgramId=p.autoProcProgramId,
                                      startImageNumber=lo, endImageNumber=hi, anomalous=0)
            s.add(i); s.flush()
            s.add(m.AutoProcScalingHasInt(autoProcScalingId=sc.autoProcScalingId, autoProcIntegrationId=i.autoProcIntegrationId))
        return sc

    fast_dp = program("fast_dp", "/dls_sw/apps/fast_dp/2395/src/fast_dp.py -a S thau_1_00001.cbf")
    scaled(fast_dp, (99.7, 99.9, 61.0))
    xia2 = program("xia2 dials", "xia2 -dials image=thau_1_00001.cbf")
    scaled(xia2, (0.997, 0.999, 0.61))
    program("dimple", "dimple free.mtz thau.pdb out", parentAutoProcProgramId=xia2.autoProcProgramId)

    # Group B: a grid scan.
    gb = m.DataCollectionGroup(sessionId=session.sessionId, blSampleId=sample.blSampleId, experimentType="MESH",
                               actualSampleBarcode="NR")
    s.add(gb); s.flush()
    mesh = m.DataCollection(dataCollectionGroupId=gb.dataCollectionGroupId, SESSIONID=session.sessionId, BLSAMPLEID=sample.blSampleId,
                            dataCollectionNumber=1, startTime=T(2019, 7, 1, 9, 50, 0), endTime=T(2019, 7, 1, 9, 51, 0),
                            runStatus="DataCollection Successful", axisStart=45.0, axisEnd=0, axisRange=0, overlap=0, numberOfImages=50,
                            startImageNumber=1, exposureTime=0.01, imageDirectory="/dls/i04/data/2019/mx99001-3/grid/", imagePrefix="grid",
                            fileTemplate="grid_1_master.h5", wavelength=0.9795, transmission=0, rotationAxis="Omega", omegaStart=45.0)
    s.add(mesh); s.flush()
    s.add(m.GridInfo(dataCollectionGroupId=gb.dataCollectionGroupId, dataCollectionId=mesh.dataCollectionId, steps_x=10, steps_y=5,
                     dx_mm=0.01, dy_mm=0.02, orientation="horizontal"))
    s.commit()
print(f"legacy rows written by ispyb.sqlalchemy into {database}", file=sys.stderr)
