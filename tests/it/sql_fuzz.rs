//! Proposal isolation of `POST /v1/query` under random SQL. One store holds two proposals: A
//! (`mxA111-1`) and B (`mxB999-12`), both made from the sample messages with fresh uuids; every
//! free-text field of B (names, acronyms, paths, filename templates, barcodes, PIDs, programs,
//! beamline) carries the marker `BSECRET_`, and one sample is used by both. A read token limited
//! to A sends a few hundred seeded random read-only queries over the views (columns from
//! `information_schema`): nested CASTs, concatenations, `1 / (CASE WHEN … LIKE 'BSECRE%' THEN 0
//! …)`, CASE, substr/upper/length/strpos, regexp_like, coalesce, arithmetic, aggregates with
//! GROUP BY and HAVING, joins and self-joins, CTEs, IN/EXISTS/scalar subqueries (correlated or
//! not), UNION, ORDER BY, LIMIT — in SELECT lists, WHERE, JOIN ON and HAVING. Every answer:
//!
//! - is 200, 400 or 504 (no 500, no dropped connection), and both servers are alive afterwards;
//! - never names B: no marker, no `mxB999`, no uuid of B in the body or any header — error
//!   messages included (a failed CAST quotes the value it failed on);
//! - is what the same token gets from a store holding A alone (same status; for 200 the same
//!   rows, in any order): B's rows may not change an answer at all — not by their number, not by
//!   an expression failing on them (a side channel that names nothing).
//!
//! Controls: an unrestricted token finds B's markers and uuids (so the checks can fail), the A
//! token sees A's experiments, and the shared sample is used by both proposals.
//! `MXPIPE_SQL_FUZZ_CASES` (default 400) and `MXPIPE_SQL_FUZZ_SEED` override the number of queries
//! and the seed; a failure prints both with the query and the answers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::serve::{new_token, serve_config, start};

/// The sample messages each proposal is made of (MAD, a two-crystal merge with processing, SSX).
const TEMPLATES: [&str; 3] = [
    "samples/mad-interleaved.json",
    "samples/two-crystal-merge.json",
    "samples/ssx-chip.json",
];

/// The views queried (those the A token sees; their columns are read at run time).
const VIEWS: &str = "samples crystals experiments sweeps scans image_index processing reflection_sets \
    reflection_shells processing_inputs ssx_frames ssx_lattices ssx_runs barcode_reuse ingests";

/// Columns that differ between two stores holding the same messages (commit times, run ids).
const UNSTABLE: [&str; 3] = ["committed_at", "started_at", "ingest_id"];

/// Free-text fields marked in B's messages.
const MARKED: &str = "name acronym annotation barcode barcodeAtAssignment pid prefix filenameTemplate \
    filename path programName programVersion commandLine deliveryDescription sampleHolding facility beamline";

/// LIKE patterns matching B's values only. Neither these nor any other literal of a query holds a
/// whole marker, B's proposal code or a uuid of B: an error message may quote the query.
const B_LIKE: &str = "BSECRE% %SECRE% %ECRET_% mxB99% bb0000% /BSECRE%";
const OTHER_LIKE: &str = "% %/% mxA111% %-1 aa0000% %.h5 sel% _ %x%";
const REGEX: &str = "^BSECRE SECRE[T] mxB9+ ^bb0 ^aa0 .* ^/ [0-9]+$ (?i)bsecre ^$";

#[test]
fn sql_fuzz_never_leaks_another_proposals_rows() {
    // The two proposals' messages; B uses A's MAD sample (and its parent macromolecule) as is.
    let mut a_uuids = BTreeMap::new();
    let a_msgs = messages("mxA111", 1, "aa", &mut a_uuids, &BTreeSet::new(), false);
    let mad = read_json(&repo().join(TEMPLATES[0]));
    let sample = mad["MacromoleculeSample"]["MacromoleculeSample1"]["uuid"]
        .as_str()
        .unwrap();
    let parent = mad["Macromolecule"]["Macromolecule1"]["uuid"]
        .as_str()
        .unwrap();
    let mut b_uuids: BTreeMap<String, String> = [sample, parent]
        .map(|u| (u.to_owned(), a_uuids[u].clone()))
        .into();
    let shared: BTreeSet<String> = b_uuids.values().cloned().collect();
    let b_msgs = messages("mxB999", 12, "bb", &mut b_uuids, &shared, true);
    let shared_sample = &a_uuids[sample];
    // What may never reach the A token (lower case: upper() and lower() are in reach).
    let mut needles = vec!["bsecret".to_owned(), "secret_".into(), "mxb999".into()];
    for u in b_uuids.values().filter(|u| !shared.contains(*u)) {
        needles.push(u.clone());
        needles.push(u[..8].to_owned());
    }

    let (dir, config) = serve_config("rate_per_second = 0\nquery_timeout_s = 20\n");
    let (ref_dir, ref_config) = serve_config("rate_per_second = 0\nquery_timeout_s = 20\n");
    let write = |name: String, m: &Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string_pretty(m).unwrap()).unwrap();
        p
    };
    let a_files: Vec<PathBuf> = a_msgs
        .iter()
        .enumerate()
        .map(|(i, m)| write(format!("a-{i}.json"), m))
        .collect();
    let b_files: Vec<PathBuf> = b_msgs
        .iter()
        .enumerate()
        .map(|(i, m)| write(format!("b-{i}.json"), m))
        .collect();
    let store = dir.path().join("store");
    let ref_store = ref_dir.path().join("store");
    ingest(&store, &a_files);
    ingest(&store, &b_files);
    ingest(&ref_store, &a_files);

    let token = new_token(&config, &["--scope", "read", "--proposal", "mxA111"]);
    let read_all = new_token(&config, &["--scope", "read"]);
    let ref_token = new_token(&ref_config, &["--scope", "read", "--proposal", "mxA111"]);
    let mut server = start(&config, &store);
    let mut reference = start(&ref_config, &ref_store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = rt.enter();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let q = |base: &str, token: &str, sql: &str| rt.block_on(post_sql(&client, base, token, sql));

    // Controls: B's markers and uuids are in the store and the checks see them; the A token sees
    // A's experiments (on both servers); the shared sample is used by both proposals.
    let (s, h, body) = q(
        &server.base,
        &read_all,
        "SELECT name FROM samples WHERE name LIKE 'BSECRET%'",
    );
    assert!(s == 200 && body.contains("BSECRET_"), "{s} {body}");
    assert!(leaked(&needles, &h, &body).is_some());
    let sql = "SELECT experiment_uuid FROM experiments WHERE visit = 'mxB999-12'";
    let (s, h, body) = q(&server.base, &read_all, sql);
    assert!(
        s == 200 && leaked(&needles[3..], &h, &body).is_some(),
        "{s} {body}"
    );
    let n_a: usize = a_msgs
        .iter()
        .map(|m| m["MxExperiment"].as_object().map_or(0, |o| o.len()))
        .sum();
    for (base, t) in [(&server.base, &token), (&reference.base, &ref_token)] {
        let (s, _, body) = q(base, t, "SELECT count(*) AS n FROM experiments");
        assert_eq!((s, parse(&body)), (200, json!([{ "n": n_a }])), "{body}");
    }
    let sql = format!(
        "SELECT count(DISTINCT visit) AS n FROM experiments WHERE sample_uuid = '{shared_sample}'"
    );
    let (s, _, body) = q(&server.base, &read_all, &sql);
    assert_eq!(
        (s, parse(&body)),
        (200, json!([{ "n": 2 }])),
        "{sql}: {body}"
    );

    // The views and columns the A token sees.
    let sql = "SELECT table_name, column_name, data_type FROM information_schema.columns \
               WHERE table_schema = 'public' ORDER BY table_name, column_name";
    let (s, _, body) = q(&server.base, &token, sql);
    assert_eq!(s, 200, "{body}");
    let mut views: BTreeMap<String, Vec<(String, Kind)>> = BTreeMap::new();
    for c in serde_json::from_str::<Vec<Value>>(&body).unwrap() {
        let (t, n) = (
            c["table_name"].as_str().unwrap(),
            c["column_name"].as_str().unwrap(),
        );
        let ty = c["data_type"].as_str().unwrap();
        let kind = if ty.contains("Utf8") {
            Kind::Text
        } else if ["Int", "UInt", "Float", "Decimal"]
            .iter()
            .any(|p| ty.starts_with(p))
        {
            Kind::Num
        } else {
            continue;
        };
        if VIEWS.split_whitespace().any(|v| v == t) && !UNSTABLE.contains(&n) {
            views
                .entry(t.to_owned())
                .or_default()
                .push((n.to_owned(), kind));
        }
    }
    assert!(
        ["samples", "experiments", "sweeps", "crystals"]
            .iter()
            .all(|v| views.contains_key(*v)),
        "{views:?}"
    );
    // Literals: A's own values (so that equalities hit) and a few others.
    let mut strings = BTreeSet::new();
    for m in &a_msgs {
        leaves(m, &mut strings);
    }
    strings.extend(["", "local", "0", "12"].map(String::from));
    let strings: Vec<String> = strings.iter().map(|s| quote(s)).collect();

    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let cases = env("MXPIPE_SQL_FUZZ_CASES").unwrap_or(400);
    let seed = env("MXPIPE_SQL_FUZZ_SEED").unwrap_or(0x5eed_2026);
    eprintln!("sql_fuzz: seed {seed}, {cases} cases (MXPIPE_SQL_FUZZ_SEED, MXPIPE_SQL_FUZZ_CASES)");
    let mut g = Gen {
        state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        views: &views,
        strings,
        aliases: 0,
        subqueries: true,
    };
    let mut failures = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for case in 0..cases {
        let sql = g.query();
        let (ab, a) = rt.block_on(async {
            tokio::join!(
                post_sql(&client, &server.base, &token, &sql),
                post_sql(&client, &reference.base, &ref_token, &sql)
            )
        });
        *statuses.entry(ab.0).or_default() += 1;
        let mut problems = Vec::new();
        for (who, status) in [("", ab.0), (" (store without B)", a.0)] {
            if ![200, 400, 504].contains(&status) {
                problems.push(format!("status {status}{who}"));
            }
        }
        if let Some(n) = leaked(&needles, &ab.1, &ab.2) {
            problems.push(format!("the answer names B ({n:?})"));
        }
        if ab.0 != 504 && a.0 != 504 {
            if ab.0 != a.0 {
                problems.push(format!(
                    "status {} where the store without B answers {}",
                    ab.0, a.0
                ));
            } else if ab.0 == 200 && rows(&ab.2) != rows(&a.2) {
                problems.push("other rows than the store without B".to_owned());
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case {case} (seed {seed}): {}\n  SQL: {sql}\n  answer {}: {}\n  without B {}: {}",
                problems.join("; "),
                ab.0,
                short(&ab.2),
                a.0,
                short(&a.2)
            ));
        }
    }
    eprintln!("sql_fuzz: statuses {statuses:?}");

    // Both servers are alive and answer.
    for (name, srv) in [
        ("server", &mut server),
        ("reference server", &mut reference),
    ] {
        assert!(srv.child.try_wait().unwrap().is_none(), "the {name} exited");
        let alive = rt.block_on(client.get(format!("{}/healthz", srv.base)).send());
        assert_eq!(
            alive.map(|r| r.status().as_u16()).ok(),
            Some(200),
            "the {name}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} queries failed (seed {seed}; MXPIPE_SQL_FUZZ_SEED={seed} reproduces):\n\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    // Not vacuous: a good share of the queries ran (errors are allowed, but not only errors).
    let ok = statuses.get(&200).copied().unwrap_or(0);
    assert!(
        ok * 10 >= cases,
        "only {ok} of {cases} queries answered 200: {statuses:?}"
    );
}

/// Run `mxpipe ingest FILES…` on a store; it must succeed.
fn ingest(store: &Path, files: &[PathBuf]) {
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let o = mxpipe_store(store, &args);
    assert!(o.status.success(), "{}", text_of(&o));
}

/// A uuid (version 4 form) of its own for object `n` of a proposal (`prefix`: two hex digits).
fn fresh(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:06x}-5eed-4{n:03x}-8{n:03x}-{n:012x}")
}

/// The template messages for one proposal: every uuid replaced (by the one in `uuids`, else a
/// fresh one), the session `code`-`visit` on every experiment and processing job, long one-scan
/// sweeps cut to 50 images; with `secret`, every free-text field of each object not in `shared`
/// marked.
fn messages(
    code: &str,
    visit: i64,
    prefix: &str,
    uuids: &mut BTreeMap<String, String>,
    shared: &BTreeSet<String>,
    secret: bool,
) -> Vec<Value> {
    let mut out = Vec::new();
    for t in TEMPLATES {
        let mut text = std::fs::read_to_string(repo().join(t)).unwrap();
        let mut originals = Vec::new();
        template_uuids(&serde_json::from_str(&text).unwrap(), &mut originals);
        for u in originals {
            let n = uuids.len() + 1;
            let new = uuids
                .entry(u.clone())
                .or_insert_with(|| fresh(prefix, n))
                .clone();
            text = text.replace(&u, &new);
        }
        let mut m: Value = serde_json::from_str(&text).unwrap();
        for (ty, objects) in m.as_object_mut().unwrap().iter_mut() {
            let Some(objects) = objects.as_object_mut() else {
                continue; // "version"
            };
            for o in objects.values_mut() {
                if ty == "MxExperiment" || ty == "MxProcessing" {
                    let s = &mut o["extensions"]["mxpipe.org"]["session"];
                    s["proposalCode"] = json!(code);
                    s["visitNumber"] = json!(visit);
                }
                if ty == "CollectionSweep"
                    && o["scans"].as_array().is_some_and(|s| s.len() == 1)
                    && o["numberImages"].as_i64() > Some(100)
                {
                    o["numberImages"] = json!(50);
                    o["scans"][0]["numberImages"] = json!(50);
                }
                if secret && !shared.contains(o["uuid"].as_str().unwrap()) {
                    mark(o);
                }
            }
        }
        out.push(m);
    }
    out
}

/// Every uuid of a template: the objects' and those inside `urn:uuid:` PIDs.
fn template_uuids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("uuid", Some(u)) => out.push(u.to_owned()),
                    ("pid", Some(p)) => out.extend(p.strip_prefix("urn:uuid:").map(str::to_owned)),
                    _ => template_uuids(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| template_uuids(x, out)),
        _ => {}
    }
}

/// Mark every free-text field ([`MARKED`], identifier values) below `v` with `BSECRET_`, keeping
/// paths absolute and `urn:uuid:` PIDs as they are (their uuid is one of B's already).
fn mark(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match x {
                    Value::String(s)
                        if MARKED.split_whitespace().any(|f| f == k)
                            && !s.starts_with("urn:uuid:") =>
                    {
                        *s = match (k.as_str(), s.rsplit_once('/')) {
                            ("path", _) => format!("/BSECRET_dir/{}", s.trim_start_matches('/')),
                            ("pid", Some((a, b))) => format!("{a}/BSECRET_{b}"),
                            _ => format!("BSECRET_{s}"),
                        }
                    }
                    Value::Object(ids) if k == "identifiers" => {
                        for id in ids.values_mut() {
                            if let Value::String(s) = id {
                                *s = format!("BSECRET_{s}");
                            }
                        }
                    }
                    _ => mark(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mark),
        _ => {}
    }
}

/// Short string values of a message (literals for the queries), without `$ref`s.
fn leaves(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.len() <= 40 && !s.starts_with("#/") => {
            out.insert(s.clone());
        }
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// The first needle found (lower case) in the headers or the body.
fn leaked<'n>(needles: &'n [String], headers: &str, body: &str) -> Option<&'n String> {
    let (h, b) = (headers.to_lowercase(), body.to_lowercase());
    needles
        .iter()
        .find(|n| h.contains(n.as_str()) || b.contains(n.as_str()))
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// The rows of a JSON answer as a sorted list (order is not part of the comparison).
fn rows(body: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let mut r: Vec<String> = v.as_array()?.iter().map(Value::to_string).collect();
    r.sort();
    Some(r)
}

fn short(s: &str) -> String {
    s.chars().take(1500).collect()
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// (status, every header as `name: value` lines, body) of `POST /v1/query`; status 0 when the
/// request failed (a dropped connection).
async fn post_sql(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    sql: &str,
) -> (u16, String, String) {
    let sent = client
        .post(format!("{base}/v1/query"))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(json!({ "sql": sql }).to_string())
        .send()
        .await;
    let r = match sent {
        Ok(r) => r,
        Err(e) => return (0, String::new(), format!("request failed: {e}")),
    };
    let status = r.status().as_u16();
    let headers: String = r
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let body = match r.bytes().await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("reading the body failed: {e}"),
    };
    (status, headers, body)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Num,
}

/// A column in reach of an expression: (table alias, column, kind).
type Col = (String, String, Kind);

/// A seeded random SQL generator (xorshift64).
struct Gen<'a> {
    state: u64,
    views: &'a BTreeMap<String, Vec<(String, Kind)>>,
    /// Quoted literals.
    strings: Vec<String>,
    aliases: usize,
    /// Whether subqueries may be generated (see [`Gen::no_sub`]).
    subqueries: bool,
}

impl<'a> Gen<'a> {
    fn bits(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }
    fn below(&mut self, n: usize) -> usize {
        (self.bits() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.bits() % 100 < percent
    }
    /// `f` with subqueries off (DataFusion plans none in GROUP BY, JOIN … ON or CASE).
    fn no_sub<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let was = std::mem::replace(&mut self.subqueries, false);
        let out = f(self);
        self.subqueries = was;
        out
    }
    /// One of the space-separated words of `list`, quoted.
    fn one(&mut self, list: &str) -> String {
        let words: Vec<&str> = list.split_whitespace().collect();
        quote(words[self.below(words.len())])
    }
    fn pat(&mut self) -> String {
        if self.chance(60) {
            self.one(B_LIKE)
        } else {
            self.one(OTHER_LIKE)
        }
    }
    fn lit(&mut self) -> String {
        if self.chance(30) {
            return self.pat();
        }
        let n = self.strings.len();
        let i = self.below(n);
        self.strings[i].clone()
    }

    /// A view (outside `small`: any; inside: not the large image_index, for joins).
    fn pick_view(&mut self, small: bool) -> &'a str {
        let views = self.views;
        let names: Vec<&'a str> = views
            .keys()
            .map(String::as_str)
            .filter(|v| !small || *v != "image_index")
            .collect();
        names[self.below(names.len())]
    }
    /// `VIEW tN` and its columns.
    fn view_named(&mut self, name: &str) -> (String, Vec<Col>) {
        self.aliases += 1;
        let alias = format!("t{}", self.aliases);
        let views = self.views;
        let scope = views[name]
            .iter()
            .map(|(c, k)| (alias.clone(), c.clone(), *k))
            .collect();
        (format!("{name} {alias}"), scope)
    }
    fn view(&mut self, small: bool) -> (String, Vec<Col>) {
        let name = self.pick_view(small);
        self.view_named(name)
    }
    fn col(&mut self, scope: &[Col], kind: Kind) -> Option<String> {
        let cols: Vec<&Col> = scope.iter().filter(|c| c.2 == kind).collect();
        if cols.is_empty() {
            return None;
        }
        let (a, c, _) = cols[self.below(cols.len())];
        Some(format!("\"{a}\".\"{c}\""))
    }

    fn text(&mut self, s: &[Col], d: u32) -> String {
        if d == 0 || self.chance(30) {
            let (c, use_col) = (self.col(s, Kind::Text), self.chance(80));
            return match c {
                Some(c) if use_col => c,
                _ => self.lit(),
            };
        }
        let d = d - 1;
        match self.below(9) {
            0 => format!("concat({}, '|', {})", self.text(s, d), self.text(s, d)),
            1 => format!("upper({})", self.text(s, d)),
            2 => format!("lower({})", self.text(s, d)),
            3 => {
                let t = self.text(s, d);
                format!("substr({t}, {}, {})", 1 + self.below(6), 1 + self.below(12))
            }
            4 => format!("coalesce({}, {})", self.text(s, d), self.lit()),
            5 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.no_sub(|g| g.pred(s, d)),
                self.text(s, d),
                self.text(s, d)
            ),
            6 => format!("CAST({} AS VARCHAR)", self.num(s, d)),
            7 if self.subqueries => self.scalar(s, d, true),
            _ => format!("trim({})", self.text(s, d)),
        }
    }

    fn num(&mut self, s: &[Col], d: u32) -> String {
        if d == 0 || self.chance(30) {
            let (c, use_col) = (self.col(s, Kind::Num), self.chance(80));
            return match c {
                Some(c) if use_col => c,
                _ => self.below(10).to_string(),
            };
        }
        let d = d - 1;
        match self.below(10) {
            0 => format!("CAST({} AS INT)", self.text(s, d)),
            1 | 2 => format!("TRY_CAST({} AS INT)", self.text(s, d)),
            3 => {
                let (t, p) = (self.text(s, d), self.one(B_LIKE));
                format!("1 / (CASE WHEN {t} LIKE {p} THEN 0 ELSE 1 END)")
            }
            4 => format!("length({})", self.text(s, d)),
            5 => format!("({} + {})", self.num(s, d), self.num(s, d)),
            6 => format!("({} * {})", self.num(s, d), self.below(5)),
            7 => format!("strpos({}, {})", self.text(s, d), self.lit()),
            8 if self.subqueries => self.scalar(s, d, false),
            _ => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                self.no_sub(|g| g.pred(s, d)),
                self.num(s, d),
                self.num(s, d)
            ),
        }
    }

    fn pred(&mut self, s: &[Col], d: u32) -> String {
        if d == 0 || self.chance(25) {
            let e = d.saturating_sub(1);
            return match self.below(7) {
                0 => format!("{} = {}", self.text(s, e), self.lit()),
                1 => format!("{} LIKE {}", self.text(s, e), self.pat()),
                2 => format!("regexp_like({}, {})", self.text(s, e), self.one(REGEX)),
                3 => format!("{} > {}", self.num(s, e), self.below(100)),
                4 => format!("{} IS NOT NULL", self.text(s, e)),
                5 => format!("{} = {}", self.num(s, e), self.num(s, e)),
                _ => format!("{} <> {}", self.text(s, e), self.text(s, e)),
            };
        }
        let d = d - 1;
        let not = if self.chance(25) { "NOT " } else { "" };
        match self.below(7) {
            0 => format!("({} OR {})", self.pred(s, d), self.pred(s, d)),
            1 => format!("NOT ({})", self.pred(s, d)),
            2 | 3 if self.subqueries => {
                let t = self.text(s, d);
                let (from, inner) = self.view(false);
                let e = self.text(&inner, d);
                let w = self.correlation(&[], &inner, d);
                format!("{t} {not}IN (SELECT {e} FROM {from}{w})")
            }
            4 if self.subqueries => {
                let (from, inner) = self.view(false);
                let w = self.correlation(s, &inner, d);
                format!("{not}EXISTS (SELECT 1 FROM {from}{w})")
            }
            _ => format!("({} AND {})", self.pred(s, d), self.pred(s, d)),
        }
    }

    /// `(SELECT agg(…) FROM view …)`, sometimes correlated with the outer query.
    fn scalar(&mut self, outer: &[Col], d: u32, text: bool) -> String {
        let (from, inner) = self.view(false);
        let (e, agg) = if text {
            (self.text(&inner, d), ["max", "min"][self.below(2)])
        } else {
            (self.num(&inner, d), ["max", "min", "count"][self.below(3)])
        };
        let w = self.correlation(outer, &inner, d);
        format!("(SELECT {agg}({e}) FROM {from}{w})")
    }

    /// ` WHERE …` of a subquery: its own condition, sometimes tied to a text column outside.
    fn correlation(&mut self, outer: &[Col], inner: &[Col], d: u32) -> String {
        let mut conds = Vec::new();
        if self.chance(40)
            && let (Some(i), Some(o)) = (self.col(inner, Kind::Text), self.col(outer, Kind::Text))
        {
            conds.push(format!("{i} = {o}"));
        }
        if self.chance(60) {
            conds.push(self.pred(inner, d));
        }
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    }

    fn expr(&mut self, s: &[Col], d: u32) -> String {
        if self.chance(60) {
            self.text(s, d)
        } else {
            self.num(s, d)
        }
    }
    /// `e AS c0, …` (1 to 3 columns) and their number.
    fn items(&mut self, s: &[Col], d: u32) -> (String, usize) {
        let n = 1 + self.below(3);
        let items: Vec<String> = (0..n)
            .map(|i| format!("{} AS c{i}", self.expr(s, d)))
            .collect();
        (items.join(", "), n)
    }
    fn filter(&mut self, s: &[Col], d: u32) -> String {
        if self.chance(75) {
            format!(" WHERE {}", self.pred(s, d))
        } else {
            String::new()
        }
    }
    /// Sometimes ` ORDER BY` every output column (so a LIMIT keeps the same rows whatever the
    /// store's layout), sometimes with a LIMIT.
    fn order(&mut self, n: usize) -> String {
        if !self.chance(40) {
            return String::new();
        }
        let by: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        let limit = if self.chance(50) {
            format!(" LIMIT {}", self.below(5))
        } else {
            String::new()
        };
        format!(" ORDER BY {}{limit}", by.join(", "))
    }

    fn query(&mut self) -> String {
        self.aliases = 0;
        self.subqueries = true;
        let d = 1 + self.below(3) as u32;
        match self.below(10) {
            0..=2 => {
                let (from, s) = self.view(false);
                let (items, n) = self.items(&s, d);
                let (w, o) = (self.filter(&s, d), self.order(n));
                format!("SELECT {items} FROM {from}{w}{o}")
            }
            3 | 4 => self.aggregate(d),
            5 | 6 => self.join(d),
            7 => {
                let (from, s) = self.view(false);
                let (x, y, z) = (self.text(&s, d), self.num(&s, d), self.text(&s, d));
                let w = self.filter(&s, d);
                self.aliases += 1;
                let q = format!("t{}", self.aliases);
                let c: Vec<Col> = [("x", Kind::Text), ("y", Kind::Num), ("z", Kind::Text)]
                    .map(|(n, k)| (q.clone(), n.to_owned(), k))
                    .to_vec();
                let (items, n) = self.items(&c, d);
                let (w2, o) = (self.filter(&c, d), self.order(n));
                format!(
                    "WITH c AS (SELECT {x} AS x, {y} AS y, {z} AS z FROM {from}{w}) SELECT {items} FROM c {q}{w2}{o}"
                )
            }
            _ => {
                let (a, b) = (self.branch(d), self.branch(d));
                let all = if self.chance(50) { " ALL" } else { "" };
                format!("{a} UNION{all} {b}{}", self.order(2))
            }
        }
    }

    fn aggregate(&mut self, d: u32) -> String {
        let (from, s) = self.view(false);
        let (g, t, x) = self.no_sub(|g| (g.text(&s, d), g.text(&s, d), g.num(&s, d)));
        let agg = if self.chance(50) {
            format!("string_agg({t}, '|' ORDER BY {t})")
        } else {
            format!("array_to_string(array_sort(array_agg({t})), '|')")
        };
        let w = self.filter(&s, d);
        let h = match self.below(5) {
            0 => format!(" HAVING count(*) > {}", self.below(3)),
            1 => format!(" HAVING min({t}) LIKE {}", self.pat()),
            2 => format!(
                " HAVING 1 / (CASE WHEN max({t}) LIKE {} THEN 0 ELSE 1 END) = 1",
                self.one(B_LIKE)
            ),
            _ => String::new(),
        };
        let o = self.order(5);
        format!(
            "SELECT {g} AS c0, count(*) AS c1, min({t}) AS c2, max({x}) AS c3, {agg} AS c4 FROM {from}{w} GROUP BY {g}{h}{o}"
        )
    }

    fn join(&mut self, d: u32) -> String {
        let n1 = self.pick_view(true);
        let n2 = if self.chance(30) {
            n1
        } else {
            self.pick_view(true)
        };
        let ((f1, s1), (f2, s2)) = (self.view_named(n1), self.view_named(n2));
        let both: Vec<Col> = s1.iter().chain(&s2).cloned().collect();
        let mut on = match (self.col(&s1, Kind::Text), self.col(&s2, Kind::Text)) {
            (Some(l), Some(r)) => format!("{l} = {r}"),
            _ => "true".to_owned(),
        };
        if self.chance(40) {
            on = format!("{on} AND {}", self.no_sub(|g| g.pred(&both, d)));
        }
        let kind = if self.chance(60) { "JOIN" } else { "LEFT JOIN" };
        let (items, n) = self.items(&both, d);
        let (w, o) = (self.filter(&both, d), self.order(n));
        format!("SELECT {items} FROM {f1} {kind} {f2} ON {on}{w}{o}")
    }

    /// One side of a UNION: a text and a number column.
    fn branch(&mut self, d: u32) -> String {
        let (from, s) = self.view(false);
        let (t, x, w) = (self.text(&s, d), self.num(&s, d), self.filter(&s, d));
        format!("SELECT {t} AS c0, {x} AS c1 FROM {from}{w}")
    }
}
