//! `mxpipe export mxlims` and `mxpipe store ...`.

use std::path::Path;

use mxpipe_model::validate::{Options, parse_message};
use mxpipe_store::{Selection, Store};

use crate::cli::TableFormat;
use crate::commands::table::print_table;

/// `mxpipe export mxlims`: write a message for the selection, validated before it is written.
pub async fn export_mxlims(store: &Store, selection: Selection, out: Option<&Path>) -> u8 {
    let message = match store.export_message(&selection).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Err(report) = parse_message(&message, &Options::default()) {
        eprintln!("error: the exported message does not validate (a bug; please report it):");
        for f in report.errors() {
            eprintln!(
                "  [{}] {}: expected {}; found {}",
                f.rule, f.pointer, f.expected, f.found
            );
        }
        return 1;
    }
    let text = serde_json::to_string_pretty(&message).expect("JSON") + "\n";
    match out {
        Some(p) => {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("error: {}: {e}", p.display());
                return 2;
            }
        }
        None => print!("{text}"),
    }
    0
}

/// `mxpipe store repair|optimize|vacuum|stats`.
pub async fn maintenance(
    store: &Store,
    action: &str,
    retention_hours: u64,
    output: TableFormat,
) -> u8 {
    let result = match action {
        "repair" => store.repair().await.map(|r| ("rows removed", r.per_table)),
        "optimize" => store
            .optimize()
            .await
            .map(|r| ("files compacted", r.per_table)),
        "vacuum" => store
            .vacuum(retention_hours)
            .await
            .map(|r| ("files deleted", r.per_table)),
        _ => store.row_counts().await.map(|r| {
            (
                "committed rows",
                r.into_iter().map(|(t, n)| (t, n as u64)).collect(),
            )
        }),
    };
    match result {
        Ok((what, per_table)) => {
            let rows: Vec<Vec<String>> = per_table
                .into_iter()
                .map(|(t, n)| vec![t, n.to_string()])
                .collect();
            print_table(&["table", what], &rows, output);
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `mxpipe relink`: every processing input and the sweep it resolves to.
pub async fn relink(store: &Store, only_unresolved: bool, fail: bool, format: TableFormat) -> u8 {
    let links = match store.processing_links().await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let unresolved = links.iter().filter(|l| l.sweep_uuid.is_none()).count();
    let rows: Vec<Vec<String>> = links
        .iter()
        .filter(|l| !only_unresolved || l.sweep_uuid.is_none())
        .map(|l| {
            vec![
                l.processing_uuid.clone(),
                l.list_index.to_string(),
                l.input.clone(),
                l.sweep_uuid.clone().unwrap_or_else(|| "unresolved".into()),
                l.linked_by.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["processing", "input", "images", "sweep", "linked by"],
        &rows,
        format,
    );
    eprintln!(
        "{} input link(s), {unresolved} unresolved{}",
        links.len(),
        if unresolved > 0 {
            " (they link when the collection with those images is ingested)"
        } else {
            ""
        }
    );
    if fail && unresolved > 0 { 1 } else { 0 }
}
