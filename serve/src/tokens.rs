//! Bearer tokens for `mxpipe serve`: created with `mxpipe token new --scope …`, printed once,
//! stored only as SHA-256 hashes in a JSON file (default `mxpipe-tokens.json`, `[serve]
//! tokens_file`), revocable, with an optional expiry. A token's scope is `ingest` (post data),
//! `read` (views, query, experiments) or `admin` (both); `proposals` limits what it may read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Post messages and files.
    Ingest,
    /// Read views, run queries, fetch experiments.
    Read,
    /// Everything.
    Admin,
}

impl Scope {
    /// Parse `ingest`, `read` or `admin`.
    pub fn parse(s: &str) -> Result<Scope, String> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "unknown scope {other:?}: use ingest, read or admin"
            )),
        }
    }

    /// Does this scope allow what `needed` asks for?
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }
}

/// One token as stored (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id (shown by `mxpipe token list`, used to revoke).
    pub id: String,
    /// SHA-256 of the secret (hex).
    pub sha256: String,
    /// What it may do.
    pub scope: Scope,
    /// Proposals it may read (empty: all).
    #[serde(default)]
    pub proposals: Vec<String>,
    /// Creation time (RFC 3339).
    pub created: String,
    /// Expiry (RFC 3339), if any.
    pub expires: Option<String>,
    /// Revoked tokens stay listed, refused.
    #[serde(default)]
    pub revoked: bool,
    /// Free note (who it is for).
    #[serde(default)]
    pub note: String,
    /// The store it opens ([`store_id`]): a server of another store refuses it, even one that
    /// reads the same token file. Tokens made before stores were named carry none and are
    /// refused; make new ones.
    #[serde(default)]
    pub store: Option<String>,
}

/// The identity of a store a token is bound to: its location as a URL (absolute).
pub fn store_id(store: &mxpipe_store::Store) -> String {
    store.root().as_str().trim_end_matches('/').to_owned()
}

/// Why a bearer token was refused (401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Not a token this server issued.
    Unknown,
    /// Revoked with `mxpipe token revoke`.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Made for another store.
    OtherStore,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::Missing => {
                "no bearer token: send `Authorization: Bearer <token>` (mxpipe token new)"
            }
            Refused::Unknown => "unknown token",
            Refused::Revoked => "the token was revoked",
            Refused::Expired => "the token has expired",
            Refused::OtherStore => {
                "this token was made for another store: make one for this store with `mxpipe --store <this store> token new`"
            }
        })
    }
}

/// The token file.
#[derive(Debug, Clone)]
pub struct Tokens {
    path: PathBuf,
    records: Vec<TokenRecord>,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Tokens {
    /// Load the token file (an absent file holds no token).
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let records = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a token file: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(Tokens {
            path: path.to_owned(),
            records,
        })
    }

    /// The id of the token whose secret this is (for logs: never the secret itself).
    pub fn id_of(&self, secret: &str) -> Option<String> {
        let h = hash(secret);
        self.records
            .iter()
            .find(|r| r.sha256 == h)
            .map(|r| r.id.clone())
    }

    /// Every record (hashes only).
    pub fn records(&self) -> &[TokenRecord] {
        &self.records
    }

    fn save(&self) -> Result<(), String> {
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.records).expect("JSON");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Create a token; returns (record, secret). The secret is shown once and never stored.
    pub fn create(
        &mut self,
        scope: Scope,
        proposals: Vec<String>,
        expires: Option<chrono::DateTime<chrono::Utc>>,
        note: String,
        store: String,
    ) -> Result<(TokenRecord, String), String> {
        let secret = format!(
            "mxp_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let record = TokenRecord {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            sha256: hash(&secret),
            scope,
            proposals,
            created: chrono::Utc::now().to_rfc3339(),
            expires: expires.map(|e| e.to_rfc3339()),
            revoked: false,
            note,
            store: Some(store),
        };
        self.records.push(record.clone());
        self.save()?;
        Ok((record, secret))
    }

    /// Create a token from what the user typed: a scope name, proposal codes (letters, digits
    /// and `_`), days until it expires; errors name the flag.
    pub fn issue(
        &mut self,
        scope: &str,
        proposals: Vec<String>,
        expires_days: Option<u32>,
        note: String,
        store: String,
    ) -> Result<(TokenRecord, String), String> {
        let scope = Scope::parse(scope)?;
        let code =
            |p: &String| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(bad) = proposals.iter().find(|p| !code(p)) {
            return Err(format!(
                "--proposal {bad:?}: expected a proposal code of letters and digits, e.g. mx23694 (its visits are mx23694-1, mx23694-2, …)"
            ));
        }
        let expires = expires_days.map(|d| chrono::Utc::now() + chrono::Duration::days(d as i64));
        self.create(scope, proposals, expires, note, store)
    }

    /// Revoke a token by id.
    pub fn revoke(&mut self, id: &str) -> Result<(), String> {
        let r = self
            .records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| format!("no token with id {id:?} (mxpipe token list)"))?;
        r.revoked = true;
        self.save()
    }

    /// The record of a presented secret, if it may be used now on the store `store` (its
    /// [`store_id`]).
    pub fn check(&self, secret: Option<&str>, store: &str) -> Result<&TokenRecord, Refused> {
        let secret = secret.ok_or(Refused::Missing)?;
        let h = hash(secret);
        let r = self
            .records
            .iter()
            .find(|r| r.sha256 == h)
            .ok_or(Refused::Unknown)?;
        if r.revoked {
            return Err(Refused::Revoked);
        }
        if r.store.as_deref() != Some(store) {
            return Err(Refused::OtherStore);
        }
        if let Some(e) = &r.expires
            && chrono::DateTime::parse_from_rfc3339(e).is_ok_and(|e| e < chrono::Utc::now())
        {
            return Err(Refused::Expired);
        }
        Ok(r)
    }
}
