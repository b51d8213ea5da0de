"""Independent checks of mxpipe's RDF exports (rdflib + pyshacl from PyPI).

  rdf_check.py shacl SHAPES.ttl DATA FORMAT   validate DATA against the SHACL shapes (inference
                                              none); prints the report, exit 0 if it conforms
  rdf_check.py count DATA FORMAT              print the number of triples rdflib reads

FORMAT is an rdflib format name: turtle, nquads, json-ld."""
import sys

from rdflib import Dataset, Graph
from pyshacl import validate


def load(path, fmt):
    if fmt == "nquads":
        ds = Dataset()
        ds.parse(path, format="nquads")
        g = Graph()
        for s, p, o, _ in ds.quads((None, None, None, None)):
            g.add((s, p, o))
        return g
    return Graph().parse(path, format=fmt)


def main():
    if sys.argv[1] == "shacl":
        shapes, data, fmt = sys.argv[2:5]
        conforms, _, text = validate(load(data, fmt), shacl_graph=Graph().parse(shapes, format="turtle"),
                                     inference="none", abort_on_first=False, allow_warnings=False)
        print(text)
        sys.exit(0 if conforms else 1)
    if sys.argv[1] == "count":
        data, fmt = sys.argv[2:4]
        print(len(load(data, fmt)))
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
