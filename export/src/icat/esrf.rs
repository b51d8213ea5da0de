//! The ESRF flavour: one dataset message per dataset, as pyicat-plus writes it (namespace
//! `http://www.esrf.fr/icat`, `store_dataset`/`store_processed_data` with `store_filename=`), for
//! the ESRF ingester. Only names of the ESRF definitions are sent (mxpipe's own are left out);
//! processed datasets carry `input_datasets`, the comma-separated folders of every input.

use std::collections::HashMap;

use super::graph::{Dataset, UnitGraph};
use crate::xml::Xml;

/// Namespace of the messages.
pub const NAMESPACE: &str = "http://www.esrf.fr/icat";

/// The messages of one unit: (file name, XML bytes). `locations` maps dataset keys (of this and
/// earlier units) to their folders, for `input_datasets`.
pub fn unit_messages(
    u: &UnitGraph,
    locations: &HashMap<String, String>,
    software: &str,
) -> Vec<(String, Vec<u8>)> {
    let samples: HashMap<&str, &str> = u
        .samples
        .iter()
        .map(|s| (s.key.as_str(), s.name.as_str()))
        .collect();
    u.datasets
        .iter()
        .map(|d| {
            let sample = d.sample.as_deref().and_then(|k| samples.get(k)).copied();
            let inputs: Vec<&str> = d
                .inputs
                .iter()
                .filter_map(|k| locations.get(k).map(String::as_str))
                .collect();
            let name = format!("{}_{}.xml", u.investigation.name, d.name);
            (name, message(u, d, sample, &inputs, software))
        })
        .collect()
}

fn message(
    u: &UnitGraph,
    d: &Dataset,
    sample: Option<&str>,
    inputs: &[&str],
    software: &str,
) -> Vec<u8> {
    let inv = &u.investigation;
    // pyicat-plus (and so the ESRF ingester) knows beamlines by lower-case name.
    let beamline = inv.instrument.to_lowercase();
    let location = d.location.clone().unwrap_or_default();
    let mut params: Vec<(String, String)> = d
        .params
        .iter()
        .filter(|p| !p.map.mxpipe)
        .map(|p| (p.name.clone(), p.value.to_string()))
        .collect();
    if !d.raw {
        params.push(("input_datasets".into(), inputs.join(",")));
    }
    let start = d.start.clone().unwrap_or_default();
    let end = d.end.clone().unwrap_or_else(|| start.clone());
    for (k, v) in [
        ("beamlineID", beamline.clone()),
        ("datasetName", d.name.clone()),
        ("proposal", inv.name.clone()),
        ("location", location.clone()),
        ("startDate", start.clone()),
        ("endDate", end.clone()),
        ("software", software.to_owned()),
        ("complete", "true".to_owned()),
    ] {
        params.push((k.to_owned(), v));
    }
    let mut x = Xml::new();
    x.open_with(
        "tns:dataset",
        &[("xmlns:tns", NAMESPACE), ("complete", "true")],
    );
    x.leaf("tns:investigation", Some(inv.name.clone()));
    x.leaf("tns:instrument", Some(beamline));
    x.leaf("tns:name", Some(d.name.clone()));
    x.leaf("tns:location", Some(location));
    x.leaf("tns:startDate", Some(start));
    x.leaf("tns:endDate", Some(end));
    if let Some(s) = sample {
        x.open("tns:sample");
        x.leaf("tns:name", Some(s.to_owned()));
        x.close("tns:sample");
    }
    for (k, v) in params {
        x.open("tns:parameter");
        x.leaf("tns:name", Some(k));
        x.leaf("tns:value", Some(v));
        x.close("tns:parameter");
    }
    x.close("tns:dataset");
    let mut bytes = x.finish();
    bytes.push(b'\n');
    bytes
}
