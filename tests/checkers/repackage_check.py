"""Independent checks of a sweep master written by `mxpipe repackage` (h5py, PyPI `nxmx` — the
reader dxtbx builds its models with — and `nexusformat`'s nxvalidate). Run it from a folder other
than the data's: relative virtual-dataset sources must resolve against the master's folder.

  repackage_check.py MASTER WAVELENGTH_A WIDTH_DEG [--pixels]

Checks: every frame of /entry/data/data equals the frame the acquisition group names in its
source file (with --pixels also that its pixels equal the image's acquisition index, as the
fixtures write them); omega strictly monotonic with the sweep's constant step, omega_end =
omega + step, as many angles as frames; the wavelength; every NX_class attribute ASCII; no
data_NNNNNN members; nxmx builds the scan (omega the scan axis, its start and step) and the beam.
Prints one JSON line: {"acquisition_index": [...], "frames": n, "nxmx_scan": [...],
"nxvalidate_errors": n}. Exit 1 with the reason on the first failure."""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import nxmx


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def ascii_attrs(f):
    bad = []

    def visit(name, obj):
        if "NX_class" in obj.attrs:
            tid = obj.attrs.get_id("NX_class").get_type()
            if tid.get_class() == h5py.h5t.STRING and tid.get_cset() != h5py.h5t.CSET_ASCII:
                bad.append(name)
    f.visititems(visit)
    return bad


def nxvalidate_errors(path):
    exe = os.path.join(os.path.dirname(sys.executable), "nxvalidate")
    out = subprocess.run([exe, "-e", "-p", "/entry", path], capture_output=True, text=True)
    text = out.stdout + out.stderr
    for line in text.splitlines():
        if "Total number of errors" in line:
            return int(line.split(":")[-1].strip())
    fail(f"nxvalidate printed no error total:\n{text[-2000:]}")


def main():
    path, wavelength, width = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    pixels = "--pixels" in sys.argv
    base = os.path.dirname(os.path.abspath(path))
    with h5py.File(path, "r") as f:
        data = f["/entry/data/data"]
        if not data.is_virtual:
            fail("/entry/data/data is not a virtual dataset")
        names = [k for k in f["/entry/data"] if k.startswith("data_")]
        if names:
            fail(f"data_NNNNNN members present: {names}")
        acq = f["/entry/mxpipe:acquisition"]
        index = acq["acquisition_index"][()]
        files = [s.decode() if isinstance(s, bytes) else s for s in acq["source_file"][()]]
        frames = acq["source_frame"][()]
        n = data.shape[0]
        if not (len(index) == len(files) == len(frames) == n):
            fail(f"acquisition group lists {len(index)} images for {n} frames")
        if len(set(index.tolist())) != n:
            fail("an image is listed twice in the acquisition group")
        opened = {}
        for i in range(n):
            src = files[i]
            if src not in opened:
                sf = h5py.File(os.path.join(base, src), "r")
                opened[src] = sf["/entry/data/data"] if "/entry/data/data" in sf else sf["/data"]
            want = opened[src][frames[i]]
            got = data[i]
            if not np.array_equal(got, want):
                fail(f"frame {i}: differs from {src} frame {frames[i]}")
            if pixels and not np.all(got == index[i]):
                fail(f"frame {i}: pixels {got[0, 0]} but acquisition index {index[i]}")
        tr = f["/entry/sample/transformations"]
        omega = tr["omega"][()]
        if len(omega) != n:
            fail(f"{len(omega)} omega values for {n} frames")
        steps = np.diff(omega)
        if width > 0 and (np.any(steps <= 0) or not np.allclose(steps, width)):
            fail(f"omega is not monotonic with step {width}: {omega[:12]}")
        if not np.allclose(tr["omega_end"][()] - omega, width):
            fail("omega_end is not omega + step")
        wl = f["/entry/instrument/beam/incident_wavelength"][()]
        if abs(float(wl) - wavelength) > 1e-9:
            fail(f"wavelength {wl}, expected {wavelength}")
        bad = ascii_attrs(f)
        if bad:
            fail(f"NX_class not ASCII at {bad}")
        # dxtbx's reader: the scan axis, its start and step, the beam.
        entry = nxmx.NXmx(f).entries[0]
        sample = entry.samples[0]
        chain = nxmx.get_dependency_chain(sample.depends_on)
        axes = nxmx.get_rotation_axes(chain)
        scan = [str(x) for x in axes.names[axes.is_scan_axis]]
        if width > 0 and scan != ["omega"]:
            fail(f"nxmx finds scan axes {scan}, expected omega")
        beam = entry.instruments[0].beams[0]
        if abs(beam.incident_wavelength.to("angstrom").magnitude - wavelength) > 1e-9:
            fail(f"nxmx beam wavelength {beam.incident_wavelength}")
        start = float(sample.depends_on[()].to("degree").magnitude[0])
        if abs(start - omega[0]) > 1e-9:
            fail(f"nxmx scan starts at {start}, omega[0] is {omega[0]}")
    print(json.dumps({"acquisition_index": index.tolist(), "frames": n, "nxmx_scan": scan,
                      "nxvalidate_errors": nxvalidate_errors(path)}))


if __name__ == "__main__":
    main()
