// SciCat adds valueSI/unitSI to every {value, unit} it finds in scientificMetadata with mathjs
// (`unit(value, unit).toSI()`), and takes any object holding keys starting with "u" and "v" for
// such a quantity. Reads `mxpipe export scicat --dry-run` JSON lines on stdin and prints JSON:
// {"quantities": n, "units": {unit: SI unit}, "rejected": [units mathjs cannot parse],
//  "problems": [objects SciCat would misread, dotted keys, valueSI/unitSI sent]}.
// Usage: node scicat_units.js MATHJS_DIR < requests.jsonl
const math = require(require("path").join(process.argv[2], "node_modules", "mathjs"));
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim());
const out = { quantities: 0, units: {}, rejected: [], problems: [] };
function walk(v, at) {
  if (v === null || typeof v !== "object") return;
  if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}/${i}`));
  const keys = Object.keys(v);
  for (const k of keys) {
    if (k.includes(".")) out.problems.push(`${at}: key with a dot: ${k}`);
    if (k === "valueSI" || k === "unitSI") out.problems.push(`${at}: sends ${k}`);
  }
  const quantityLike = keys.some((k) => k.startsWith("u")) && keys.some((k) => k.startsWith("v"));
  if (quantityLike) {
    if (keys.length !== 2 || !("value" in v) || !("unit" in v)) {
      out.problems.push(`${at}: SciCat reads this object as a quantity: ${JSON.stringify(v)}`);
      return;
    }
    out.quantities++;
    try {
      out.units[v.unit] = math.unit(v.value, v.unit).toSI().toJSON().unit;
    } catch (e) {
      if (!out.rejected.includes(v.unit)) out.rejected.push(v.unit);
    }
    return;
  }
  keys.forEach((k) => walk(v[k], `${at}/${k}`));
}
lines.forEach((l, i) => {
  const r = JSON.parse(l);
  walk(r.body.scientificMetadata, `line ${i + 1} scientificMetadata`);
  walk(r.body.sampleCharacteristics, `line ${i + 1} sampleCharacteristics`);
});
console.log(JSON.stringify(out));
