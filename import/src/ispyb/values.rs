//! Reading one row's values through the rules: placeholders, zero dates and non-positive
//! measurements become absent (counted), unparsable values are kept out (listed), naive local
//! times become UTC.

use super::read::Row;
use super::rules::Tally;

/// One row of one table, with its primary key, for rule-checked reads.
pub struct Values<'a> {
    /// The row.
    pub row: &'a Row,
    /// Its table.
    pub table: &'static str,
    /// Its primary key.
    pub key: i64,
}

/// Texts that mean "no value" in legacy rows.
const PLACEHOLDERS: &[&str] = &["", "NR", "null _FLAG_", "NULL", "null"];

impl<'a> Values<'a> {
    /// A row of `table` keyed by its `key_column`.
    pub fn of(row: &'a Row, table: &'static str, key_column: &str) -> Values<'a> {
        Values {
            row,
            table,
            key: super::read::int(row, key_column).unwrap_or(0),
        }
    }

    /// The text as stored (no rules).
    pub fn raw(&self, col: &str) -> Option<&'a str> {
        self.row.get(col).map(String::as_str)
    }

    /// Text; placeholders absent (rule `null-placeholders`).
    pub fn text(&self, col: &str, t: &mut Tally) -> Option<String> {
        let v = self.row.get(col)?;
        if PLACEHOLDERS.contains(&v.trim()) {
            t.applied("null-placeholders");
            return None;
        }
        Some(v.clone())
    }

    /// A number; a placeholder is absent, anything else unparsable is kept out.
    pub fn num(&self, col: &'static str, t: &mut Tally) -> Option<f64> {
        let v = self.text(col, t)?;
        match v.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Some(x),
            _ => {
                t.keep_out(self.table, self.key, col, &v, "not a number");
                None
            }
        }
    }

    /// A measurement that must be positive: 0 means "not measured" (absent, counted); a negative
    /// value is kept out.
    pub fn positive(&self, col: &'static str, t: &mut Tally) -> Option<f64> {
        let x = self.num(col, t)?;
        if x == 0.0 {
            t.applied("null-placeholders");
            None
        } else if x < 0.0 {
            t.keep_out(
                self.table,
                self.key,
                col,
                &x.to_string(),
                "negative where a positive measurement is expected",
            );
            None
        } else {
            Some(x)
        }
    }

    /// An integer (a number with no fraction).
    pub fn int(&self, col: &'static str, t: &mut Tally) -> Option<i64> {
        let x = self.num(col, t)?;
        if x.fract() == 0.0 && x.abs() < 9.0e15 {
            Some(x as i64)
        } else {
            t.keep_out(self.table, self.key, col, &x.to_string(), "not an integer");
            None
        }
    }

    /// A DATETIME in the facility's zone → RFC 3339 UTC (rule `local-time`); zero dates absent.
    pub fn time(&self, col: &'static str, tz: chrono_tz::Tz, t: &mut Tally) -> Option<String> {
        let v = self.text(col, t)?;
        if v.starts_with("0000-00-00") {
            t.applied("null-placeholders");
            return None;
        }
        let naive = chrono::NaiveDateTime::parse_from_str(v.trim(), "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
            });
        let Ok(naive) = naive else {
            t.keep_out(self.table, self.key, col, &v, "not a date and time");
            return None;
        };
        use chrono::TimeZone;
        match tz.from_local_datetime(&naive).earliest() {
            Some(local) => {
                t.applied("local-time");
                Some(
                    local
                        .with_timezone(&chrono::Utc)
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                )
            }
            None => {
                t.keep_out(
                    self.table,
                    self.key,
                    col,
                    &v,
                    format!("not a time that exists in {tz} (a daylight-saving gap)"),
                );
                None
            }
        }
    }
}
