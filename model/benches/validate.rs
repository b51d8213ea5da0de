//! Parse + both validation layers: on the samples and on a generated 10 000-sweep message.
//! Run with `cargo bench -p mxpipe-model`; throughput is reported in bytes (MB/s) and elements
//! (messages/s).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mxpipe_model::validate::{Options, Target, validate_value};
use serde_json::{Value, json};

const SAMPLES: [(&str, &str); 4] = [
    (
        "mad-interleaved",
        include_str!("../../samples/mad-interleaved.json"),
    ),
    (
        "two-crystal-merge",
        include_str!("../../samples/two-crystal-merge.json"),
    ),
    ("ssx-chip", include_str!("../../samples/ssx-chip.json")),
    (
        "shipment-unipucks",
        include_str!("../../samples/shipment-unipucks.json"),
    ),
];

/// One experiment with `n` sweeps of four interleaved 90-image wedges each.
fn big_message(n: usize) -> String {
    let mut sweeps = serde_json::Map::new();
    for i in 0..n {
        let scans: Vec<Value> = (0..4)
            .map(|w| json!({"scanPositionStart": 45.0 * w as f64, "firstImageNumber": 1 + 90 * w, "numberImages": 90, "ordinal": (i * 4 + w) as i64}))
            .collect();
        sweeps.insert(format!("CollectionSweep{}", i + 1), json!({
            "mxlimsType": "CollectionSweep", "uuid": uuid_for(i), "scanAxis": "omega", "exposureTime": 0.01,
            "imageWidth": 0.5, "numberImages": 360, "energy": 12700.0 + i as f64, "transmission": 20.0,
            "axisPositionsStart": {"omega": 0.0, "kappa": 0.0}, "scans": scans,
            "filenameTemplate": format!("s{i}_%06d.h5"), "path": "/data/bench",
            "sourceRef": {"$ref": "#/MxExperiment/MxExperiment1"}, "logisticalSampleRef": {"$ref": "#/Crystal/Crystal1"}
        }));
    }
    json!({"version": "0.6.13",
        "MxExperiment": {"MxExperiment1": {"mxlimsType": "MxExperiment", "uuid": "0e0e0e0e-0000-4000-8000-000000000001",
            "startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z"}},
        "Crystal": {"Crystal1": {"mxlimsType": "Crystal", "uuid": "0e0e0e0e-0000-4000-8000-000000000002"}},
        "CollectionSweep": sweeps}).to_string()
}

fn uuid_for(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i, i)
}

fn bench(c: &mut Criterion) {
    let options = Options::default();
    let mut group = c.benchmark_group("validate-samples");
    let total: usize = SAMPLES.iter().map(|(_, t)| t.len()).sum();
    group.throughput(Throughput::Bytes(total as u64));
    let all_samples = || {
        for (_, text) in SAMPLES {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(
                validate_value(&v, &Target::AutoMessage, &options)
                    .unwrap()
                    .is_valid()
            );
        }
    };
    group.bench_function("4 samples (bytes)", |b| b.iter(all_samples));
    group.throughput(Throughput::Elements(SAMPLES.len() as u64));
    group.bench_function("4 samples (messages)", |b| b.iter(all_samples));
    group.finish();

    let big = big_message(10_000);
    let mut group = c.benchmark_group("validate-10k-sweeps");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("10000-sweep message", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_str(&big).unwrap();
            let report = validate_value(&v, &Target::AutoMessage, &options).unwrap();
            assert!(report.is_valid(), "{:?}", report.findings.first());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
