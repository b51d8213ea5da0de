//! Reading an ISPyB database: one connection pool of a SELECT-only user, every value read as
//! text (`CAST(… AS CHAR)`, binary columns as hex) so one reader serves every schema 5.x
//! variant; columns a database lacks read as NULL. Tables stream in primary-key order by keyset
//! (`WHERE key > last ORDER BY key LIMIT n`), children by their indexed foreign keys.

use std::collections::HashMap;

use sqlx::Row as _;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

use mxpipe_export::ispyb::redacted_url as redacted;

use super::ImportError;

/// One row: column → value, NULL columns absent.
pub type Row = HashMap<&'static str, String>;

/// A connected, read-only source.
pub struct Source {
    pool: MySqlPool,
    /// `host:port/database` (the id map's instance, as `export ispyb` names it).
    pub instance: String,
    /// The database name.
    pub database: String,
    /// Existing columns per table (lower-cased names) and their SQL type (`float`, `int`, …).
    columns: HashMap<String, HashMap<String, String>>,
    /// Rows read per table.
    pub rows_read: HashMap<&'static str, u64>,
    /// Seconds spent reading per table (the query and turning its rows into text).
    pub seconds: HashMap<&'static str, f64>,
}

impl Source {
    /// Connect (`mysql://user@host:port/database`; the password separately). Every session is
    /// read-only (`SET SESSION TRANSACTION READ ONLY`) with `time_zone = '+00:00'`, so TIMESTAMP
    /// columns read as UTC; DATETIME columns are naive facility times (see the rules).
    pub async fn connect(url: &str, password: Option<&str>) -> Result<Source, ImportError> {
        let mxpipe_export::ispyb::DbTarget {
            options,
            instance,
            user,
        } = mxpipe_export::ispyb::db_target(url, password)
            .map_err(|e| ImportError::Config(e.to_string()))?;
        let database = instance.split_once('/').map_or("", |(_, d)| d).to_owned();
        if database.is_empty() {
            return Err(ImportError::Config(format!(
                "--db {:?} names no database: expected mysql://USER@HOST:PORT/DATABASE",
                redacted(url)
            )));
        }
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(20))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("SET SESSION time_zone = '+00:00'").await?;
                    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| {
                ImportError::Database(format!(
                    "cannot connect to ISPyB at {instance} as {}: {e}",
                    user
                ))
            })?;
        let mut columns: HashMap<String, HashMap<String, String>> = HashMap::new();
        let rows = sqlx::query(
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
        )
        .fetch_all(&pool)
        .await
        .map_err(|e| ImportError::Database(format!("cannot list the columns of {instance}: {e}")))?;
        for r in rows {
            let (t, c, ty): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            columns
                .entry(t)
                .or_default()
                .insert(c.to_ascii_lowercase(), ty.to_ascii_lowercase());
        }
        for needed in [
            "DataCollectionGroup",
            "DataCollection",
            "BLSession",
            "Proposal",
        ] {
            if !columns.contains_key(needed) {
                return Err(ImportError::Database(format!(
                    "{instance} has no table {needed} visible to {}: is this an ISPyB database, and may the user SELECT on it? (docs/ispyb-import.md lists the grants)",
                    user
                )));
            }
        }
        Ok(Source {
            pool,
            instance,
            database,
            columns,
            rows_read: HashMap::new(),
            seconds: HashMap::new(),
        })
    }

    /// True when the database has `table` (visible to the user).
    pub fn has_table(&self, table: &str) -> bool {
        self.columns.contains_key(table)
    }

    /// Rows of `table` with `cols` (a `#` prefix reads a binary column as hex), `filter` being the
    /// SQL after `WHERE` with `?` parameters bound to `params`, plus `tail` (ORDER BY / LIMIT).
    pub async fn fetch(
        &mut self,
        table: &'static str,
        cols: &[&'static str],
        filter: &str,
        params: &[i64],
        tail: &str,
    ) -> Result<Vec<Row>, ImportError> {
        let Some(existing) = self.columns.get(table) else {
            return Ok(Vec::new());
        };
        // FLOAT (4-byte) columns are read as DOUBLE and written back as the shortest text of the
        // 4-byte value (MariaDB's own text of a FLOAT keeps 6 digits: 3.7000327 would read 3.70003).
        let mut float = vec![false; cols.len()];
        let select: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (hex, name) = match c.strip_prefix('#') {
                    Some(n) => (true, n),
                    None => (false, *c),
                };
                match existing.get(&name.to_ascii_lowercase()).map(String::as_str) {
                    None => "NULL".to_owned(),
                    Some(_) if hex => format!("HEX(`{name}`)"),
                    Some("float") => {
                        float[i] = true;
                        format!("CAST(CAST(`{name}` AS DOUBLE) AS CHAR)")
                    }
                    Some(_) => format!("CAST(`{name}` AS CHAR)"),
                }
            })
            .collect();
        // `?` → the integer parameters, written into the text: one round trip of the text
        // protocol (a prepared statement per IN list cost a prepare round trip — 40 ms each on
        // loopback TCP, delayed acknowledgement — and its statement-cache churn).
        let mut filter_sql = String::with_capacity(filter.len() + 16);
        let mut params = params.iter();
        for part in filter.split('?').enumerate() {
            if part.0 > 0 {
                filter_sql.push_str(&params.next().map_or("NULL".to_owned(), i64::to_string));
            }
            filter_sql.push_str(part.1);
        }
        let sql = format!(
            "SELECT {} FROM `{table}` WHERE {filter_sql} {tail}",
            select.join(", ")
        );
        // Table and column names are this crate's constants; values are integers.
        let started = std::time::Instant::now();
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| {
                ImportError::Database(format!("reading {table} from {}: {e}", self.instance))
            })?;
        *self.rows_read.entry(table).or_default() += rows.len() as u64;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Row::with_capacity(cols.len());
            for (i, c) in cols.iter().enumerate() {
                let v: Option<String> = r.try_get(i).map_err(|e| {
                    ImportError::Database(format!(
                        "reading {table}.{c} from {}: {e}",
                        self.instance
                    ))
                })?;
                if let Some(v) = v {
                    let v = match v.parse::<f64>() {
                        Ok(x) if float[i] => (x as f32).to_string(),
                        _ => v,
                    };
                    row.insert(c.trim_start_matches('#'), v);
                }
            }
            out.push(row);
        }
        *self.seconds.entry(table).or_default() += started.elapsed().as_secs_f64();
        Ok(out)
    }

    /// Rows of `table` whose `column` is one of `ids` (in chunks), ordered by `order`; a table
    /// or key column the database lacks reads as no rows.
    pub async fn fetch_in(
        &mut self,
        table: &'static str,
        cols: &[&'static str],
        column: &str,
        ids: &[i64],
        order: &str,
    ) -> Result<Vec<Row>, ImportError> {
        if !self.has_column(table, order) {
            return Ok(Vec::new());
        }
        self.fetch_in_where(
            table,
            cols,
            column,
            ids,
            "1 = 1",
            &format!("ORDER BY `{order}`"),
        )
        .await
    }

    /// Rows of `table` whose `column` is one of `ids` (in chunks of 1 000) and that pass
    /// `filter` (SQL over the table's columns), each chunk followed by `tail`.
    pub async fn fetch_in_where(
        &mut self,
        table: &'static str,
        cols: &[&'static str],
        column: &str,
        ids: &[i64],
        filter: &str,
        tail: &str,
    ) -> Result<Vec<Row>, ImportError> {
        let mut out = Vec::new();
        if ids.is_empty() || !self.has_column(table, column) {
            return Ok(out);
        }
        let mut ids: Vec<i64> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(1000) {
            let list = chunk
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let f = format!("`{column}` IN ({list}) AND {filter}");
            out.extend(self.fetch(table, cols, &f, &[], tail).await?);
        }
        Ok(out)
    }

    /// True when `table` has `column` (visible to the user).
    fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns
            .get(table)
            .is_some_and(|cs| cs.contains_key(&column.to_ascii_lowercase()))
    }

    /// Ids of one column from an arbitrary read-only query (session and proposal filters).
    pub async fn ids(&self, sql: &str, texts: &[String]) -> Result<Vec<i64>, ImportError> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        for t in texts {
            q = q.bind(t);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(|e| ImportError::Database(format!("{sql} at {}: {e}", self.instance)))?;
        rows.iter()
            .map(|r| {
                r.try_get::<i64, _>(0)
                    .map_err(|e| ImportError::Database(format!("{sql}: {e}")))
            })
            .collect()
    }
}

/// An integer value of a row.
pub fn int(row: &Row, col: &str) -> Option<i64> {
    row.get(col).and_then(|v| v.trim().parse().ok())
}
