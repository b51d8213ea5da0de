//! What keeps one query from taking the server down: queries run on their own runtime (threads
//! with a large stack, so the server's routes keep answering and a deep plan cannot overflow a
//! worker's stack), under a size and operator limit checked before parsing, a memory pool per
//! query with spilling off, functions that multiply their input (`repeat`, `lpad`, `range`, …)
//! refused when their answer would pass the pool, a timeout that drops (cancels) the query, and
//! error messages that name what the client sent — never a row value, a server path or the
//! engine's internals (those go to the log).

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use axum::http::StatusCode;
use datafusion::error::DataFusionError;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::GreedyMemoryPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Longest SQL text `/v1/query` accepts (bytes).
pub(crate) const MAX_SQL_BYTES: usize = 256 * 1024;
/// Most operators (arithmetic, comparison, AND/OR/NOT, LIKE, `::`, …) in one statement: the
/// depth of an expression tree is at most this plus the parser's nesting limit (50), which the
/// query threads' stack holds with a wide margin.
pub(crate) const MAX_OPERATORS: usize = 500;
/// Stack of each query thread (the server's own threads keep tokio's default).
const QUERY_STACK_BYTES: usize = 64 * 1024 * 1024;

/// The runtime queries run on: `threads` workers with a large stack, apart from the server's.
pub(crate) struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl QueryRuntime {
    /// Start it.
    pub(crate) fn start(threads: usize) -> Result<QueryRuntime, String> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_stack_size(QUERY_STACK_BYTES)
            .thread_name("mxpipe-query")
            .enable_all()
            .build()
            .map(|rt| QueryRuntime(Some(rt)))
            .map_err(|e| format!("cannot start the query threads: {e}"))
    }

    /// Run `work` there; dropping the returned future cancels it (the query stops at its next
    /// batch). `None` when the work panicked (logged) or the runtime is gone.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let handle = self.0.as_ref()?.spawn(work);
        let guard = AbortOnDrop(handle.abort_handle());
        let out = handle.await;
        drop(guard);
        match out {
            Ok(v) => Some(v),
            Err(e) => {
                if e.is_panic() {
                    tracing::error!(error = %e, "a query panicked");
                }
                None
            }
        }
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Never block (the server may be dropped inside its own runtime).
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Refuse SQL too long or with too many operators before the engine parses it.
pub(crate) fn check_sql(sql: &str) -> Result<(), String> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(format!(
            "the SQL text is {} bytes; at most {MAX_SQL_BYTES} are accepted: pass long lists as a join or split the query",
            sql.len()
        ));
    }
    // Text that does not tokenize is left to the parser, which names the place.
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(());
    };
    let first = tokens.iter().find(|t| !matches!(t, Token::Whitespace(_)));
    if let Some(Token::Word(w)) = first
        && matches!(w.keyword, Keyword::EXPLAIN | Keyword::ANALYZE)
    {
        return Err(
            "EXPLAIN is not answered over the API (a plan names the server's files and engine): run `mxpipe query` on the server, or ask for the rows"
                .to_owned(),
        );
    }
    let operators = tokens
        .iter()
        .filter(|t| match t {
            Token::Word(w) => matches!(
                w.keyword,
                Keyword::AND
                    | Keyword::OR
                    | Keyword::NOT
                    | Keyword::LIKE
                    | Keyword::ILIKE
                    | Keyword::IS
                    | Keyword::BETWEEN
                    | Keyword::WHEN
                    | Keyword::UNION
                    | Keyword::JOIN
            ),
            Token::Whitespace(_)
            | Token::Comma
            | Token::LParen
            | Token::RParen
            | Token::Period
            | Token::SemiColon
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::EOF => false,
            _ => true,
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(format!(
            "the statement has {operators} operators; at most {MAX_OPERATORS} are accepted (a long chain of OR or + builds an expression too deep to plan safely): use IN (…), sum(…) or a join"
        ));
    }
    Ok(())
}

/// `ctx` with a memory pool of `memory_bytes` for this query only (no spilling to disk: a query
/// over the pool fails with a reason), the size-checked functions, and every plan node stopping
/// once `stop` is set ([`crate::stop`]).
pub(crate) fn limited(
    ctx: &SessionContext,
    memory_bytes: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<SessionContext, String> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(ctx.runtime_env().object_store_registry.clone())
        .with_memory_pool(Arc::new(GreedyMemoryPool::new(memory_bytes)))
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| e.to_string())?;
    let state = SessionStateBuilder::new_from_existing(ctx.state())
        .with_runtime_env(runtime)
        .with_physical_optimizer_rule(Arc::new(crate::stop::StopRule(stop)))
        .build();
    let limited = SessionContext::new_with_state(state);
    // The engine and its version are the server's business.
    limited.deregister_udf("version");
    for (name, kind) in GROWING {
        if let Ok(inner) = limited.udf(name) {
            let mut signature = inner.signature().clone();
            signature.volatility = datafusion::logical_expr::Volatility::Volatile;
            limited.register_udf(ScalarUDF::new_from_impl(Bounded {
                inner,
                signature,
                kind: *kind,
                limit: memory_bytes / FUNCTION_SHARE,
            }));
        }
    }
    Ok(limited)
}

/// One call of a function that multiplies its input may build at most this share of the query's
/// memory: expression results are not counted by DataFusion's pool, and a value is copied by the
/// operators above it.
const FUNCTION_SHARE: usize = 8;

/// How a function's answer grows with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Growth {
    /// `repeat(text, n)`: len(text) × n.
    Repeat,
    /// `lpad(text, n [, fill])`: n characters (≤ 4 bytes each).
    Pad,
    /// `replace(text, from, to)`: len(text) + (len(text) / len(from)) × len(to).
    Replace,
    /// `array_repeat(value, n)`, `array_resize(list, n, …)`: n elements of the first argument's
    /// size (at least 16 bytes).
    ArrayRepeat,
    /// `regexp_replace(text, pattern, to, …)`: a match at every position at worst.
    RegexpReplace,
    /// `levenshtein(a, b)`: len(a) × len(b) steps (work, not memory, bounded the same way).
    Quadratic,
    /// `range(start, stop [, step])`: (stop − start) / step elements.
    Range,
    /// `concat(…)`: the sum of the arguments.
    Concat,
}

pub(crate) const GROWING: &[(&str, Growth)] = &[
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("array_repeat", Growth::ArrayRepeat),
    ("array_resize", Growth::ArrayRepeat),
    ("regexp_replace", Growth::RegexpReplace),
    ("levenshtein", Growth::Quadratic),
    ("range", Growth::Range),
    ("generate_series", Growth::Range),
    ("concat", Growth::Concat),
    ("concat_ws", Growth::Concat),
];

/// A function refused (before it allocates) when its answer for a batch would pass `limit`.
/// Volatile, so that the planner never evaluates it on constants (once, for one row) and copies
/// an unchecked answer into every row: it is always evaluated, and checked, per batch.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    signature: Signature,
    kind: Growth,
    limit: usize,
}

/// Each row's value, as text length (bytes) or as an integer, `None` where null or unknown; a
/// value shorter than `rows` (an array of another length) reads as null beyond its end.
fn per_row(v: &ColumnarValue, rows: usize, as_text: bool) -> Vec<Option<i64>> {
    let mut out = vec![None; rows];
    let Ok(array) = v.to_array(rows) else {
        return out;
    };
    let n = array.len().min(rows);
    if as_text {
        match arrow::compute::cast(&array, &DataType::Utf8) {
            Ok(a) => {
                let s = a.as_string::<i32>();
                for (i, slot) in out.iter_mut().enumerate().take(n) {
                    *slot = (!s.is_null(i)).then(|| s.value(i).len() as i64);
                }
            }
            Err(_) => {
                let each = array.get_array_memory_size() as i64 / array.len().max(1) as i64;
                out.iter_mut().take(n).for_each(|slot| *slot = Some(each));
            }
        }
    } else if let Ok(a) = arrow::compute::cast(&array, &DataType::Int64) {
        let a = a.as_primitive::<Int64Type>();
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            *slot = (!a.is_null(i)).then(|| a.value(i));
        }
    }
    out
}

fn lengths(v: &ColumnarValue, rows: usize) -> Vec<Option<i64>> {
    per_row(v, rows, true)
}

fn integers(v: &ColumnarValue, rows: usize) -> Vec<Option<i64>> {
    per_row(v, rows, false)
}

impl Bounded {
    /// An upper bound of the answer's size in bytes (saturating).
    fn estimate(&self, args: &[ColumnarValue], rows: usize) -> u128 {
        let rows = rows.max(1);
        // Each argument converted once, as what the estimate needs of it.
        let len = |i: usize| args.get(i).map(|a| lengths(a, rows));
        let int = |i: usize| args.get(i).map(|a| integers(a, rows));
        let mut total: u128 = 0;
        match self.kind {
            Growth::Repeat | Growth::Pad | Growth::ArrayRepeat => {
                let (Some(len), Some(n)) = (len(0), int(1)) else {
                    return 0;
                };
                for i in 0..rows {
                    let n = n[i].unwrap_or(0).max(0) as u128;
                    let size = len[i].unwrap_or(0).max(0) as u128;
                    total += match self.kind {
                        Growth::Repeat => size * n,
                        Growth::Pad => 4 * n,
                        _ => size.max(16) * n,
                    };
                }
            }
            Growth::Replace => {
                let (Some(text), Some(from), Some(to)) = (len(0), len(1), len(2)) else {
                    return 0;
                };
                for i in 0..rows {
                    let t = text[i].unwrap_or(0).max(0) as u128;
                    let f = from[i].unwrap_or(1).max(1) as u128;
                    total += t + (t / f + 1) * to[i].unwrap_or(0).max(0) as u128;
                }
            }
            Growth::RegexpReplace => {
                let (Some(text), Some(to)) = (len(0), len(2)) else {
                    return 0;
                };
                for i in 0..rows {
                    let t = text[i].unwrap_or(0).max(0) as u128;
                    total += t + (t + 1) * to[i].unwrap_or(0).max(0) as u128;
                }
            }
            Growth::Quadratic => {
                let (Some(a), Some(b)) = (len(0), len(1)) else {
                    return 0;
                };
                for i in 0..rows {
                    total += a[i].unwrap_or(0).max(0) as u128 * b[i].unwrap_or(0).max(0) as u128;
                }
            }
            Growth::Range => {
                let (Some(start), Some(stop)) = (int(0), int(1)) else {
                    return 0;
                };
                let step = int(2);
                for i in 0..rows {
                    let (a, b) = (start[i].unwrap_or(0) as i128, stop[i].unwrap_or(0) as i128);
                    let s = step
                        .as_ref()
                        .and_then(|s| s[i])
                        .unwrap_or(1)
                        .unsigned_abs()
                        .max(1) as u128;
                    total += 8 * (a.abs_diff(b) / s + 1);
                }
            }
            Growth::Concat => {
                for a in args {
                    total += lengths(a, rows)
                        .into_iter()
                        .map(|l| l.unwrap_or(0).max(0) as u128)
                        .sum::<u128>();
                }
            }
        }
        total
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(
        &self,
        args: ReturnFieldArgs,
    ) -> datafusion::error::Result<arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> datafusion::error::Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let estimate = self.estimate(&args.args, args.number_rows);
        if estimate > self.limit as u128 {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}(…) would build about {} MB, more than the query's memory limit ({} MB)",
                self.name(),
                estimate / 1_000_000,
                self.limit / 1_000_000
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

/// The client's message for a value that could not be computed while running.
fn running_failure(a: &arrow::error::ArrowError) -> String {
    use arrow::error::ArrowError as A;
    let what = match a {
        A::DivideByZero => "division by zero: guard the divisor, e.g. x / NULLIF(y, 0)",
        A::CastError(_) | A::ParseError(_) => {
            "a value could not be converted (e.g. CAST of text that is not a number): use TRY_CAST to get NULL instead"
        }
        A::ArithmeticOverflow(_) => "an arithmetic overflow: use a wider type or smaller values",
        A::ComputeError(text) => {
            // The reader keeps only the text of a pushed-down filter's error.
            if text.contains("DivideByZero") {
                return running_failure(&A::DivideByZero);
            }
            if text.contains("CastError") || text.contains("ParseError") {
                return running_failure(&A::CastError(String::new()));
            }
            if text.contains("ArithmeticOverflow") {
                return running_failure(&A::ArithmeticOverflow(String::new()));
            }
            "a value could not be computed"
        }
        _ => "a value could not be computed",
    };
    format!("the query failed while running: {what} (the value is not shown)")
}

/// A Parquet error that is a filter's value error (not the storage's): the client's message.
fn filter_failure(p: &datafusion::parquet::errors::ParquetError) -> Option<String> {
    use datafusion::parquet::errors::ParquetError as P;
    match p {
        P::External(e) => e
            .downcast_ref::<arrow::error::ArrowError>()
            .filter(|a| {
                use arrow::error::ArrowError as A;
                matches!(
                    a,
                    A::DivideByZero
                        | A::CastError(_)
                        | A::ParseError(_)
                        | A::ArithmeticOverflow(_)
                        | A::ComputeError(_)
                )
            })
            .map(running_failure),
        P::ArrowError(text) if text.contains("evaluating filter predicate") => Some(
            running_failure(&arrow::error::ArrowError::ComputeError(text.clone())),
        ),
        _ => None,
    }
}

/// What a client is told about a failed query: planning errors name what it sent; errors while
/// running say what kind of failure it was, never the value (another message could carry one).
/// The whole error goes to the log.
pub(crate) fn public_error(e: &DataFusionError, memory_mb: usize) -> (StatusCode, String) {
    tracing::info!(error = %e, "query failed");
    let root = e.find_root();
    let bad = StatusCode::BAD_REQUEST;
    match root {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Configuration(_) => {
            // Names are the client's; the engine's default catalog is not.
            let first_line = root.to_string().lines().next().unwrap_or_default().to_owned();
            let text = first_line.replace("datafusion.", "");
            (bad, text)
        }
        DataFusionError::ArrowError(a, _) => (bad, running_failure(a.as_ref())),
        // A filter evaluated inside the Parquet reader (pushed down to the scan) fails there:
        // the reader wraps the value error, so it is told apart from a storage failure here.
        DataFusionError::ParquetError(p) if filter_failure(p).is_some() => (
            bad,
            filter_failure(p).unwrap_or_default(),
        ),
        DataFusionError::ResourcesExhausted(_) => (
            bad,
            format!(
                "the query needs more memory than [serve] query_memory_mb ({memory_mb} MB) allows: narrow it (WHERE, LIMIT) or aggregate"
            ),
        ),
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) | DataFusionError::ParquetError(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the store could not be read; retry (the reason is in the server's log)".to_owned(),
        ),
        DataFusionError::Internal(_) => (
            bad,
            "the engine cannot run this statement (an internal limitation, logged): rephrase it".to_owned(),
        ),
        _ => (
            bad,
            "the query failed while running (the details may hold values, so they are only in the server's log): check casts, divisions and function arguments".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_chains_are_refused_before_parsing() {
        let ok = format!("SELECT 1{}", "+1".repeat(MAX_OPERATORS - 1));
        assert!(check_sql(&ok).is_ok());
        let deep = format!("SELECT 1{}", "+1".repeat(MAX_OPERATORS + 1));
        assert!(check_sql(&deep).unwrap_err().contains("operators"));
        let ors = format!("SELECT 1 WHERE {}", vec!["a = 1"; 300].join(" OR "));
        assert!(check_sql(&ors).unwrap_err().contains("IN"));
        // Long lists and long strings are not operators.
        let list = format!("SELECT 1 WHERE a IN ({})", vec!["'x-y'"; 5000].join(", "));
        assert!(check_sql(&list).is_ok());
        assert!(check_sql(&"x".repeat(MAX_SQL_BYTES + 1)).is_err());
    }

    #[tokio::test]
    async fn growing_functions_are_refused_over_the_limit() {
        let ctx = limited(&SessionContext::new(), 512 << 20, Default::default()).unwrap();
        for sql in [
            "SELECT length(repeat('x', 1600000000))",
            "SELECT length(rpad('x', 100000000))",
            "SELECT cardinality(range(1, 100000000))",
            "SELECT length(replace(repeat('ab', 1000000), 'a', repeat('c', 1000)))",
            "SELECT arrow_cast(repeat('x', 50000000), 'LargeUtf8') AS v FROM range(1000)",
            "SELECT cardinality(array_repeat(array_repeat(0, 40000), 50000))",
            "SELECT cardinality(array_resize([0], 2000000000, 0))",
            "SELECT length(regexp_replace(repeat('x', 10000000), '', repeat('y', 100), 'g'))",
            "SELECT levenshtein(repeat('a', 3000000), repeat('b', 3000000))",
        ] {
            let e = match ctx.sql(sql).await {
                Ok(df) => df.collect().await.unwrap_err(),
                Err(e) => e,
            };
            assert!(
                matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)),
                "{sql}: {e}"
            );
        }
        // Within the limit they answer as usual.
        let b = ctx
            .sql("SELECT length(repeat('x', 1000)) AS n")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(
            b[0].column(0)
                .as_primitive::<arrow::datatypes::Int32Type>()
                .value(0),
            1000
        );
    }

    #[test]
    fn errors_while_running_show_no_value() {
        let e = DataFusionError::ArrowError(
            Box::new(arrow::error::ArrowError::CastError(
                "Cannot cast string 'secret|123' to value of Int32 type".into(),
            )),
            None,
        );
        let (status, text) = public_error(&e, 1);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            !text.contains("secret") && text.contains("TRY_CAST"),
            "{text}"
        );
        let e = DataFusionError::Execution("value 'secret' is bad".into());
        assert!(!public_error(&e, 1).1.contains("secret"));
        let e = DataFusionError::Internal("bug in DataFusion".into());
        assert!(!public_error(&e, 1).1.to_lowercase().contains("datafusion"));
    }
}
