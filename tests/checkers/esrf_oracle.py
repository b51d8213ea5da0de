"""Oracle for mxpipe's ESRF ICAT messages: rebuild each message with pyicat-plus (PyPI, the
library ESRF beamlines use) from the same dataset, name, path, inputs and parameters, with
strict=True (every name must exist in icat-esrf-definitions and have the declared type), and
compare the parameter sets and values. Usage: esrf_oracle.py MESSAGE_DIR. Exit 1 on a difference."""
import glob, os, sys, tempfile
import xml.etree.ElementTree as ET
from pyicat_plus.client.main import IcatClient

NS = {"t": "http://www.esrf.fr/icat"}
ADDED = {"beamlineID", "datasetName", "proposal", "location", "startDate", "endDate", "machine", "software", "complete"}

def read(path):
    root = ET.parse(path).getroot()
    get = lambda tag: root.findtext(f"t:{tag}", namespaces=NS)
    params = {p.findtext("t:name", namespaces=NS): p.findtext("t:value", namespaces=NS) or "" for p in root.findall("t:parameter", NS)}
    return get("investigation"), get("instrument"), get("name"), get("location"), params

def main(folder):
    client = IcatClient(metadata_urls=["localhost:61613"])
    bad = 0
    files = sorted(glob.glob(os.path.join(folder, "*.xml")))
    assert files, f"no messages in {folder}"
    for f in files:
        proposal, beamline, name, location, ours = read(f)
        meta = {k: v for k, v in ours.items() if k not in ADDED and k != "input_datasets"}
        meta["startDate"], meta["endDate"] = ours["startDate"], ours["endDate"]
        out = tempfile.mktemp(suffix=".xml")
        if "input_datasets" in ours:
            client.store_processed_data(beamline=beamline, proposal=proposal, dataset=name, path=location,
                                        raw=ours["input_datasets"].split(","), metadata=meta, store_filename=out, strict=True)
        else:
            client.store_dataset(beamline=beamline, proposal=proposal, dataset=name, path=location,
                                 metadata=meta, store_filename=out, strict=True)
        theirs = read(out)[4]
        os.unlink(out)
        for k in sorted(set(ours) | set(theirs)):
            if k in ("machine", "software"):
                continue
            a, b = ours.get(k), theirs.get(k)
            same = a == b
            if not same and a is not None and b is not None:
                try:
                    same = abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
                except ValueError:
                    same = False
                if not same and k in ("startDate", "endDate"):
                    same = a.replace("+00:00", "Z").split(".")[0].rstrip("Z") == b.split(".")[0].rstrip("Z")
            if not same:
                bad += 1
                print(f"{os.path.basename(f)}: {k}: mxpipe {a!r}, pyicat-plus {b!r}")
    print(f"{len(files)} messages compared, {bad} difference(s)")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
