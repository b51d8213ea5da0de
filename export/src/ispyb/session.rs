//! Sessions (found by proposal code + number + visit number, created only with
//! `--create-session`) and the `--dry-run` rendering of statements.

use std::collections::HashMap;

use sqlx::{MySql, Transaction};

use super::rows::{self, Row, Val};
use super::{Ispyb, Options, Summary, quote};

impl Ispyb {
    /// Find the session (proposal code + number + visit number), or create it with
    /// `--create-session`. Returns (sessionId, proposalId).
    pub(super) async fn session(
        &self,
        tx: &mut Transaction<'_, MySql>,
        session: &serde_json::Value,
        options: &Options,
        counts: &mut Summary,
        log: &mut Vec<String>,
    ) -> Result<(i64, i64), String> {
        let label = crate::records::session_label(
            &serde_json::json!({"extensions": {"mxpipe.org": {"session": session}}}),
        )
        .unwrap_or_default();
        let code_number = session["proposalCode"].as_str().unwrap_or_default();
        let split = code_number
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(code_number.len());
        let (code, number) = code_number.split_at(split);
        if code.is_empty() || number.is_empty() {
            return Err(format!(
                "session {label}: proposalCode {code_number:?} is not letters followed by digits (e.g. mx23694)"
            ));
        }
        let visit = session["visitNumber"].as_i64();
        let key = (code.to_owned(), number.to_owned(), visit);
        if let Some(ids) = self.sessions.lock().expect("sessions lock").get(&key) {
            return Ok(*ids);
        }
        let db = |e: sqlx::Error| format!("session {label}: {e}");
        let proposal: Option<i64> = sqlx::query_scalar("SELECT CAST(proposalId AS SIGNED) FROM Proposal WHERE proposalCode = ? AND proposalNumber = ?")
            .bind(code).bind(number).fetch_optional(&mut **tx).await.map_err(db)?;
        if let Some(p) = proposal {
            let found: Option<i64> = sqlx::query_scalar("SELECT CAST(sessionId AS SIGNED) FROM BLSession WHERE proposalId = ? AND visit_number <=> ?")
                .bind(p).bind(visit).fetch_optional(&mut **tx).await.map_err(db)?;
            if let Some(s) = found {
                // Found, so committed before this transaction: the next units need no look-up.
                self.sessions
                    .lock()
                    .expect("sessions lock")
                    .insert(key, (s, p));
                return Ok((s, p));
            }
        }
        if !options.create_session {
            return Err(format!(
                "session {label} (proposal {code} {number}, visit {}) is not in ISPyB; have it created by the user office, or pass --create-session",
                visit.map_or("-".into(), |v| v.to_string())
            ));
        }
        let derived = serde_json::json!({"login": "mxpipe", "familyName": "mxpipe exporter", "proposalCode": code, "proposalNumber": number,
            "proposalType": "MX", "title": "created by mxpipe export"});
        let ctx = serde_json::json!({"session": session, "derived": derived});
        let s = &options.settings;
        let known_person: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(personId AS SIGNED) FROM Person WHERE login = 'mxpipe'",
        )
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        let mut insert = async |table: &'static str,
                                refs: HashMap<&str, String>,
                                ids: &HashMap<String, i64>|
               -> Result<i64, String> {
            let row = Row {
                table,
                key: table.into(),
                values: rows::apply(table, &ctx, &refs, s),
            };
            let values = self.resolve(&row, ids, &HashMap::new())?;
            let cols: Vec<String> = values.iter().map(|(c, _)| quote(c)).collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quote(table),
                cols.join(", "),
                vec!["?"; values.len()].join(", ")
            );
            let id = self
                .run(tx, &sql, &values, None, log, options.dry_run)
                .await
                .map_err(|e| format!("session {label}: {table}: {e}"))?;
            counts.entry(table).or_default()[0] += 1;
            Ok(id)
        };
        let mut ids = HashMap::new();
        let proposal = match proposal {
            Some(p) => p,
            None => {
                let person = match known_person {
                    Some(p) => p,
                    None => insert("Person", HashMap::new(), &ids).await?,
                };
                ids.insert("Person".to_owned(), person);
                insert(
                    "Proposal",
                    HashMap::from([("Person", "Person".to_owned())]),
                    &ids,
                )
                .await?
            }
        };
        ids.insert("Proposal".to_owned(), proposal);
        let session = insert(
            "BLSession",
            HashMap::from([("Proposal", "Proposal".to_owned())]),
            &ids,
        )
        .await?;
        Ok((session, proposal))
    }
}

/// A statement with its values written in, for `--dry-run`.
pub(super) fn render(sql: &str, values: &[(&'static str, Val)], key: Option<i64>) -> String {
    let mut parts = sql.split('?');
    let mut out = parts.next().unwrap_or_default().to_owned();
    let mut vals = values.iter().map(|(_, v)| match v {
        Val::Null | Val::Ref(_) => "NULL".to_owned(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => f.to_string(),
        Val::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Val::Bytes(b) => format!("X'{}'", hex::encode(b)),
    });
    for p in parts {
        out.push_str(
            &vals
                .next()
                .unwrap_or_else(|| key.map_or("NULL".into(), |k| k.to_string())),
        );
        out.push_str(p);
    }
    out.push(';');
    out
}
