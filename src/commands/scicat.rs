//! `mxpipe export scicat`: datasets, samples and origdatablocks through SciCat's API.

use std::path::{Path, PathBuf};

use clap::Args;
use mxpipe_export::driver::{self, DriverOptions};
use mxpipe_export::icat::Settings as GraphSettings;
use mxpipe_export::scicat::bodies::Site;
use mxpipe_export::scicat::check::Checker;
use mxpipe_export::scicat::client::Auth;
use mxpipe_export::scicat::{SciCat, Settings};
use mxpipe_store::Store;

use crate::cli::TableFormat;
use crate::commands::export::{SelectionArgs, export_bar, report};
use crate::config::Config;

/// Environment variable holding the functional account's password.
pub const PASSWORD_ENV: &str = "MXPIPE_SCICAT_PASSWORD";
/// Environment variable holding a pre-issued bearer token (OIDC sites).
pub const TOKEN_ENV: &str = "MXPIPE_SCICAT_TOKEN";

/// `mxpipe export scicat` flags.
#[derive(Debug, Args)]
pub struct ScicatArgs {
    #[command(flatten)]
    pub which: SelectionArgs,
    /// The backend's base URL, e.g. https://scicat.example.org (default [scicat] url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// File holding the functional account's password (default [scicat] password_file; else
    /// $MXPIPE_SCICAT_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// File holding a pre-issued bearer token, for OIDC sites (default [scicat] token_file; else
    /// $MXPIPE_SCICAT_TOKEN). Used instead of a login when given.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Send nothing: print every request that would be sent, one JSON object per line
    /// ({"method", "path", "body"}); works with no configuration.
    #[arg(long)]
    pub dry_run: bool,
    /// Validate every request body before sending against the backend's OpenAPI document
    /// (required fields, types, no unknown field): --openapi FILE, [scicat] openapi, else the
    /// server's /explorer-json.
    #[arg(long)]
    pub check: bool,
    /// The backend's OpenAPI document for --check (a saved /explorer-json).
    #[arg(long, value_name = "FILE")]
    pub openapi: Option<PathBuf>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub output: TableFormat,
}

fn read_secret(file: &Path) -> Result<String, String> {
    crate::config::read_secret(file).map_err(|e| format!("{}: {e}", file.display()))
}

fn auth(args: &ScicatArgs, config: &Config) -> Result<Auth, String> {
    let c = &config.scicat;
    if let Some(f) = args.token_file.clone().or(c.token_file.clone()) {
        return read_secret(&f).map(Auth::Token);
    }
    if let Ok(t) = std::env::var(TOKEN_ENV) {
        return Ok(Auth::Token(t));
    }
    let username = c.username.clone().ok_or(format!(
        "SciCat needs credentials: set [scicat] username with password_file (or ${PASSWORD_ENV}), or give a bearer token (--token-file, ${TOKEN_ENV})"
    ))?;
    let password = match args.password_file.clone().or(c.password_file.clone()) {
        Some(f) => read_secret(&f)?,
        None => std::env::var(PASSWORD_ENV).map_err(|_| {
            format!("no SciCat password: pass --password-file FILE, set [scicat] password_file or ${PASSWORD_ENV}")
        })?,
    };
    Ok(Auth::Login { username, password })
}

async fn checker(args: &ScicatArgs, config: &Config, url: Option<&str>) -> Result<Checker, String> {
    let (doc, source): (serde_json::Value, String) = match args
        .openapi
        .clone()
        .or(config.scicat.openapi.clone())
    {
        Some(f) => {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| format!("--openapi {}: {e}", f.display()))?;
            let doc = serde_json::from_str(&text)
                .map_err(|e| format!("--openapi {}: not JSON: {e}", f.display()))?;
            (doc, f.display().to_string())
        }
        None => {
            let Some(url) = url else {
                return Err("--check needs the backend's OpenAPI document: --openapi FILE (a saved /explorer-json) or --url".into());
            };
            return Checker::from_server(url).await;
        }
    };
    Checker::from_openapi(&doc, &source)
}

/// Run `mxpipe export scicat`.
pub async fn run(store: &Store, args: ScicatArgs, config: &Config) -> u8 {
    let fail = |m: String| {
        eprintln!("error: {m}");
        2
    };
    let c = &config.scicat;
    let settings = Settings {
        site: Site {
            owner: c.owner.clone(),
            owner_group: c.owner_group.clone(),
            access_groups: c.access_groups.clone(),
            contact_email: c.contact_email.clone(),
            pid_prefix: c.pid_prefix.clone(),
            sample_name: c.sample_name.unwrap_or(false),
        },
        graph: GraphSettings {
            facility: c.facility.clone(),
            fallback_facility: args
                .dry_run
                .then(|| mxpipe_export::scicat::bodies::placeholder("facility")),
            pixel_size_mm: c.pixel_size_mm,
        },
        create_proposals: c.create_proposals.unwrap_or(false),
    };
    let url = args.url.clone().or(c.url.clone());
    let missing = settings.missing();
    let auth = if args.dry_run {
        for m in &missing {
            eprintln!(
                "warning: [scicat] {m} is not set: the requests show {} (a real run refuses to start without it)",
                mxpipe_export::scicat::bodies::placeholder(m)
            );
        }
        None
    } else {
        if url.is_none() {
            return fail("where to? pass --url URL (the SciCat backend) or set [scicat] url; --dry-run shows the requests without one".into());
        }
        if !missing.is_empty() {
            return fail(format!(
                "set {} in the [scicat] section of the configuration before exporting (every dataset carries them); --dry-run shows the requests without them",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        match auth(&args, config) {
            Ok(a) => Some(a),
            Err(e) => return fail(e),
        }
    };
    let checker = if args.check {
        match checker(&args, config, url.as_deref()).await {
            Ok(c) => Some(c),
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let declared = checker.as_ref().map(|ch| ch.sample_name);
    let target_url = url
        .clone()
        .unwrap_or_else(|| "http://scicat.invalid".into());
    let mut target = match SciCat::new(store, &target_url, auth, settings, checker).await {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    // Which backend generation: its OpenAPI document says whether samples carry sampleName.
    if c.sample_name.is_none() {
        if let Some(yes) = declared {
            target.set_sample_name(yes);
        } else if let (false, Some(u)) = (args.dry_run, &url) {
            // Only the document is needed here, not the validators --check compiles.
            match mxpipe_export::scicat::check::fetch_document(u).await {
                Ok((doc, _)) => {
                    target.set_sample_name(mxpipe_export::scicat::check::declares_sample_name(&doc))
                }
                Err(e) => eprintln!(
                    "warning: {e}; assuming a 4.x backend (samples without sampleName; set [scicat] sample_name = true for backend 5)"
                ),
            }
        }
    }
    let bar = export_bar("to SciCat");
    let options = DriverOptions {
        dry_run: args.dry_run,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let started = std::time::Instant::now();
    let result = driver::export(&mut target, store, &args.which.filter(), &options, |n| {
        bar.inc(n as u64)
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(mut outcome) => {
            outcome.warnings.extend(target.warnings());
            let (logins, requests) = target.traffic();
            report(
                &outcome,
                ["entity", "created", "updated", "unchanged"],
                args.dry_run.then_some(
                    "dry run: nothing was sent (requests above, one JSON object per line)",
                ),
                args.output,
                format!(
                    "to SciCat {} in {:.2} s ({requests} request(s), {logins} login(s))",
                    url.as_deref().unwrap_or("(no URL: dry run)"),
                    started.elapsed().as_secs_f64()
                ),
            )
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
