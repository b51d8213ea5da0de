//! The catalogues: ISPyB (a MariaDB), ICAT (REST or files) and SciCat (REST).

use std::path::PathBuf;
use std::time::Instant;

use mxpipe_export::driver::{self, Catalogue, DriverOptions};
use mxpipe_export::icat::rest::{Connection, IcatRest};
use mxpipe_export::icat::{IcatFiles, Output, Settings as IcatSettings};
use mxpipe_export::ispyb::{Ispyb, Options};
use mxpipe_export::scicat::bodies::{Site, placeholder};
use mxpipe_export::scicat::check::{self, Checker};
use mxpipe_export::scicat::client::Auth;
use mxpipe_export::scicat::{SciCat, Settings as ScicatSettings};
use mxpipe_store::Store;

use super::{ExportJob, Exported, secret};
use crate::context::Context;
use crate::error::{AppError, AppResult};

/// Environment variable holding the ISPyB password.
pub const ISPYB_PASSWORD_ENV: &str = "MXPIPE_ISPYB_PASSWORD";
/// Environment variable holding the ICAT password.
pub const ICAT_PASSWORD_ENV: &str = "MXPIPE_ICAT_PASSWORD";
/// Environment variable holding SciCat's functional account's password.
pub const SCICAT_PASSWORD_ENV: &str = "MXPIPE_SCICAT_PASSWORD";
/// Environment variable holding a pre-issued SciCat bearer token (OIDC sites).
pub const SCICAT_TOKEN_ENV: &str = "MXPIPE_SCICAT_TOKEN";

/// Where an ISPyB export goes.
#[derive(Debug, Clone, Default)]
pub struct IspybTarget {
    /// `mysql://USER@HOST:PORT/DATABASE` (else `[ispyb] url`).
    pub db: Option<String>,
    /// The password's file (else `[ispyb] password_file`, else `$MXPIPE_ISPYB_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// Create a BLSession that does not exist yet.
    pub create_session: bool,
}

/// Export to ISPyB.
pub async fn ispyb(
    ctx: &Context,
    store: &Store,
    job: &ExportJob,
    target: IspybTarget,
    progress: impl FnMut(usize),
    warn: &dyn Fn(&str),
) -> AppResult<Exported> {
    let config = &ctx.config;
    let url = target.db.or(config.ispyb.url.clone()).ok_or_else(|| {
        AppError::usage("no database: pass --db mysql://USER@HOST:PORT/DATABASE or set [ispyb] url in the configuration")
    })?;
    let settings = super::files::ispyb_settings(ctx)?;
    let password = match target.password_file.or(config.ispyb.password_file.clone()) {
        Some(f) => Some(secret("--password-file", &f)?),
        None => std::env::var(ISPYB_PASSWORD_ENV).ok(),
    };
    if config.ispyb.timezone.is_none() && config.timezone.is_none() {
        warn("timezone is not set in the configuration; ISPyB times are written as UTC");
    }
    let db = Ispyb::connect(&url, password.as_deref())
        .await
        .map_err(AppError::failed)?;
    let options = Options {
        create_session: target.create_session,
        dry_run: job.dry_run,
        settings,
        command: job.command.clone(),
        concurrency: ctx.config.ispyb.concurrency.unwrap_or(4).max(1),
    };
    let started = Instant::now();
    let outcome = db
        .export(store, &job.filter, &options, progress)
        .await
        .map_err(AppError::failed)?;
    Ok(Exported {
        outcome,
        target: format!(
            "to ISPyB {} (schema {}) in {:.2} s",
            db.instance(),
            db.schema_version,
            started.elapsed().as_secs_f64()
        ),
        headers: ["table", "inserted", "updated", "unchanged"],
    })
}

/// Which ICAT form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IcatForm {
    /// icatdata XML for python-icat's icatingest (any ICAT site).
    #[default]
    Icatdata,
    /// One ESRF dataset message (pyicat-plus format) per dataset, in a folder.
    Esrf,
}

/// Where an ICAT export goes.
#[derive(Debug, Clone, Default)]
pub struct IcatTarget {
    /// The icatdata file, or the folder of ESRF messages.
    pub out: Option<PathBuf>,
    /// ICAT's REST base URL (else `[icat] url` when no `out`).
    pub url: Option<String>,
    /// The password's file (else `[icat] password_file`, else `$MXPIPE_ICAT_PASSWORD`).
    pub password_file: Option<PathBuf>,
    /// File form.
    pub form: IcatForm,
    /// icatdata version (6.2 or 5.0).
    pub icatdata_version: String,
}

/// Export to ICAT: through its REST API, or as files.
pub async fn icat(
    ctx: &Context,
    store: &Store,
    job: &ExportJob,
    target: IcatTarget,
    progress: impl FnMut(usize),
) -> AppResult<Exported> {
    let c = &ctx.config.icat;
    let settings = IcatSettings {
        facility: c.facility.clone(),
        fallback_facility: None,
        pixel_size_mm: c.pixel_size_mm,
    };
    let url = target.url.clone().or(if target.out.is_none() {
        c.url.clone()
    } else {
        None
    });
    if let Some(url) = url {
        let conn = icat_connection(ctx, &target, url)?;
        let mut rest = IcatRest::new(store, conn, settings, job.dry_run)
            .await
            .map_err(AppError::usage)?;
        return drive(
            &mut rest,
            store,
            job,
            ctx.config.icat.concurrency.unwrap_or(4).max(1),
            progress,
            |t| format!("to ICAT {} ({} login(s))", t.conn_url(), t.logins),
        )
        .await;
    }
    let out = target.out.ok_or_else(|| {
        AppError::usage("choose where to: --out FILE (icatdata XML), --flavour esrf --out DIR, or --url URL (REST)")
    })?;
    let output = match target.form {
        IcatForm::Icatdata => Output::Icatdata {
            path: out,
            version: target.icatdata_version,
        },
        IcatForm::Esrf => Output::Esrf { dir: out },
    };
    let mut files = IcatFiles::new(store, output, settings, job.dry_run)
        .await
        .map_err(AppError::usage)?;
    drive(&mut files, store, job, 1, progress, |t| {
        let first = t
            .written
            .first()
            .map(|p| format!(", first {}", p.display()));
        format!(
            "for ICAT ({} file(s) written{})",
            t.written.len(),
            first.unwrap_or_default()
        )
    })
    .await
}

fn icat_connection(ctx: &Context, target: &IcatTarget, url: String) -> AppResult<Connection> {
    let c = &ctx.config.icat;
    let username = c.username.clone().ok_or_else(|| {
        AppError::usage("ICAT REST needs a user: set [icat] username (and password_file, or $MXPIPE_ICAT_PASSWORD)")
    })?;
    let password = match target.password_file.clone().or(c.password_file.clone()) {
        Some(f) => secret("--password-file", &f)?,
        None => std::env::var(ICAT_PASSWORD_ENV).map_err(|_| {
            AppError::Usage(format!("no ICAT password: pass --password-file FILE, set [icat] password_file or ${ICAT_PASSWORD_ENV}"))
        })?,
    };
    Ok(Connection {
        url,
        plugin: c.plugin.clone().unwrap_or_else(|| "db".into()),
        username,
        password,
    })
}

/// Run the export seam over one catalogue.
async fn drive<C: Catalogue>(
    target: &mut C,
    store: &Store,
    job: &ExportJob,
    concurrency: usize,
    progress: impl FnMut(usize),
    describe: impl Fn(&C) -> String,
) -> AppResult<Exported> {
    let options = DriverOptions {
        dry_run: job.dry_run,
        command: job.command.clone(),
        concurrency,
    };
    let started = Instant::now();
    let outcome = driver::export(target, store, &job.filter, &options, progress)
        .await
        .map_err(AppError::failed)?;
    Ok(Exported {
        outcome,
        target: format!(
            "{} in {:.2} s",
            describe(target),
            started.elapsed().as_secs_f64()
        ),
        headers: super::ENTITY_HEADERS,
    })
}

/// Where a SciCat export goes.
#[derive(Debug, Clone, Default)]
pub struct ScicatTarget {
    /// The backend's base URL (else `[scicat] url`).
    pub url: Option<String>,
    /// The functional account's password file (else `[scicat] password_file`, else the env).
    pub password_file: Option<PathBuf>,
    /// A bearer token's file (else `[scicat] token_file`, else `$MXPIPE_SCICAT_TOKEN`).
    pub token_file: Option<PathBuf>,
    /// Validate every body against the backend's OpenAPI document before sending.
    pub check: bool,
    /// That document, saved (else `[scicat] openapi`, else the server's).
    pub openapi: Option<PathBuf>,
}

/// Export to SciCat.
pub async fn scicat(
    ctx: &Context,
    store: &Store,
    job: &ExportJob,
    target: ScicatTarget,
    progress: impl FnMut(usize),
    warn: &dyn Fn(&str),
) -> AppResult<Exported> {
    let c = &ctx.config.scicat;
    let settings = scicat_settings(ctx, job.dry_run);
    let url = target.url.clone().or(c.url.clone());
    let missing = settings.missing();
    let auth = if job.dry_run {
        for m in &missing {
            warn(&format!(
                "[scicat] {m} is not set: the requests show {} (a real run refuses to start without it)",
                placeholder(m)
            ));
        }
        None
    } else {
        if url.is_none() {
            return Err(AppError::usage(
                "where to? pass --url URL (the SciCat backend) or set [scicat] url; --dry-run shows the requests without one",
            ));
        }
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            return Err(AppError::Usage(format!(
                "set {} in the [scicat] section of the configuration before exporting (every dataset carries them); --dry-run shows the requests without them",
                names.join(" and ")
            )));
        }
        Some(scicat_auth(ctx, &target)?)
    };
    let checker = match target.check {
        true => Some(scicat_checker(ctx, &target, url.as_deref()).await?),
        false => None,
    };
    let declared = checker.as_ref().map(|ch| ch.sample_name);
    let target_url = url
        .clone()
        .unwrap_or_else(|| "http://scicat.invalid".into());
    let mut scicat = SciCat::new(store, &target_url, auth, settings, checker)
        .await
        .map_err(AppError::usage)?;
    if c.sample_name.is_none() {
        let probe = url.as_deref().filter(|_| !job.dry_run);
        if let Some(note) = detect_backend(&mut scicat, declared, probe).await {
            warn(&note);
        }
    }
    let started = Instant::now();
    let mut exported = drive(
        &mut scicat,
        store,
        job,
        ctx.config.scicat.concurrency.unwrap_or(4).max(1),
        progress,
        |_| String::new(),
    )
    .await?;
    let (logins, requests) = scicat.traffic();
    exported.target = format!(
        "to SciCat {} in {:.2} s ({requests} request(s), {logins} login(s))",
        url.as_deref().unwrap_or("(no URL: dry run)"),
        started.elapsed().as_secs_f64()
    );
    exported.outcome.warnings.extend(scicat.warnings());
    Ok(exported)
}

/// Which backend generation: its OpenAPI document says whether samples carry `sampleName`
/// (from `--check`'s document, else fetched when there is a URL). A warning when unknown.
async fn detect_backend(
    target: &mut SciCat,
    declared: Option<bool>,
    url: Option<&str>,
) -> Option<String> {
    if let Some(yes) = declared {
        target.set_sample_name(yes);
        return None;
    }
    // Only the document is needed here, not the validators --check compiles.
    match check::fetch_document(url?).await {
        Ok((doc, _)) => {
            target.set_sample_name(check::declares_sample_name(&doc));
            None
        }
        Err(e) => Some(format!(
            "{e}; assuming a 4.x backend (samples without sampleName; set [scicat] sample_name = true for backend 5)"
        )),
    }
}

fn scicat_settings(ctx: &Context, dry_run: bool) -> ScicatSettings {
    let c = &ctx.config.scicat;
    ScicatSettings {
        site: Site {
            owner: c.owner.clone(),
            owner_group: c.owner_group.clone(),
            access_groups: c.access_groups.clone(),
            contact_email: c.contact_email.clone(),
            pid_prefix: c.pid_prefix.clone(),
            sample_name: c.sample_name.unwrap_or(false),
        },
        graph: IcatSettings {
            facility: c.facility.clone(),
            fallback_facility: dry_run.then(|| placeholder("facility")),
            pixel_size_mm: c.pixel_size_mm,
        },
        create_proposals: c.create_proposals.unwrap_or(false),
    }
}

fn scicat_auth(ctx: &Context, target: &ScicatTarget) -> AppResult<Auth> {
    let c = &ctx.config.scicat;
    let read = |f: &std::path::Path| {
        crate::config::read_secret(f).map_err(|e| AppError::Usage(format!("{}: {e}", f.display())))
    };
    if let Some(f) = target.token_file.clone().or(c.token_file.clone()) {
        return read(&f).map(Auth::Token);
    }
    if let Ok(t) = std::env::var(SCICAT_TOKEN_ENV) {
        return Ok(Auth::Token(t));
    }
    let username = c.username.clone().ok_or_else(|| AppError::Usage(format!(
        "SciCat needs credentials: set [scicat] username with password_file (or ${SCICAT_PASSWORD_ENV}), or give a bearer token (--token-file, ${SCICAT_TOKEN_ENV})"
    )))?;
    let password = match target.password_file.clone().or(c.password_file.clone()) {
        Some(f) => read(&f)?,
        None => std::env::var(SCICAT_PASSWORD_ENV).map_err(|_| AppError::Usage(format!(
            "no SciCat password: pass --password-file FILE, set [scicat] password_file or ${SCICAT_PASSWORD_ENV}"
        )))?,
    };
    Ok(Auth::Login { username, password })
}

async fn scicat_checker(
    ctx: &Context,
    target: &ScicatTarget,
    url: Option<&str>,
) -> AppResult<Checker> {
    let Some(f) = target.openapi.clone().or(ctx.config.scicat.openapi.clone()) else {
        let url = url.ok_or_else(|| AppError::usage(
            "--check needs the backend's OpenAPI document: --openapi FILE (a saved /explorer-json) or --url",
        ))?;
        return Checker::from_server(url).await.map_err(AppError::Usage);
    };
    let text = std::fs::read_to_string(&f)
        .map_err(|e| AppError::Usage(format!("--openapi {}: {e}", f.display())))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| AppError::Usage(format!("--openapi {}: not JSON: {e}", f.display())))?;
    Checker::from_openapi(&doc, &f.display().to_string()).map_err(AppError::Usage)
}
