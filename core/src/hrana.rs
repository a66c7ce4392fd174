//! Turso's HTTP pipeline protocol (Hrana over HTTP, `POST /v2/pipeline`), the part the read
//! stores need: one `execute` for a query; one `batch` of BEGIN, the statements, COMMIT (each
//! step conditional on the one before) and a ROLLBACK when COMMIT did not run.
//!
//! Pure encoding and decoding, shared by the query Worker's Turso read store and the origin's
//! Turso rollup target, which only send the bodies. Two choices keep it working against both
//! Turso Cloud (sqld) and the local `tursodb --sync-server`: parameters are positional (`args`;
//! the local server ignores `named_args`), and no `close` request is sent (the local server
//! refuses it; without a baton the stream ends with the request anyway).

use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

/// A positional parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    Null,
    Integer(i64),
    Float(f64),
    Text(&'a str),
}

/// One statement and its parameters, in `?1..?N` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt<'a> {
    pub sql: &'a str,
    pub args: Vec<Arg<'a>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HranaError {
    #[error("statement failed ({code}): {message}")]
    Statement { code: String, message: String },
    #[error("reply not understood: {0}")]
    Protocol(String),
}

fn arg(arg: &Arg) -> Value {
    match arg {
        Arg::Null => json!({"type": "null"}),
        // Hrana carries 64-bit integers as strings.
        Arg::Integer(n) => json!({"type": "integer", "value": n.to_string()}),
        Arg::Float(x) => json!({"type": "float", "value": x}),
        Arg::Text(s) => json!({"type": "text", "value": s}),
    }
}

fn stmt(statement: &Stmt) -> Value {
    let args: Vec<Value> = statement.args.iter().map(arg).collect();
    json!({"sql": statement.sql, "args": args, "want_rows": true})
}

/// The body of a pipeline that runs one query.
pub fn execute_body(statement: &Stmt) -> Value {
    json!({"baton": null, "requests": [{"type": "execute", "stmt": stmt(statement)}]})
}

/// The body of a pipeline that runs `statements` as one transaction: each step runs only if
/// the one before succeeded, COMMIT only if all did, ROLLBACK otherwise.
pub fn transaction_body(statements: &[Stmt]) -> Value {
    let mut steps = vec![json!({"stmt": {"sql": "BEGIN"}})];
    for statement in statements {
        let previous = steps.len() - 1;
        steps.push(json!({"stmt": stmt(statement), "condition": {"type": "ok", "step": previous}}));
    }
    let last = steps.len() - 1;
    steps.push(json!({"stmt": {"sql": "COMMIT"}, "condition": {"type": "ok", "step": last}}));
    let commit = steps.len() - 1;
    steps.push(json!({
        "stmt": {"sql": "ROLLBACK"},
        "condition": {"type": "not", "cond": {"type": "ok", "step": commit}}
    }));
    json!({"baton": null, "requests": [{"type": "batch", "batch": {"steps": steps}}]})
}

#[derive(Deserialize)]
struct PipelineReply {
    results: Vec<StreamResult>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamResult {
    Ok { response: StreamResponse },
    Error { error: ErrorReply },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamResponse {
    Execute { result: StmtResult },
    Batch { result: BatchResult },
}

#[derive(Deserialize)]
struct StmtResult {
    cols: Vec<Col>,
    rows: Vec<Vec<Cell>>,
}

#[derive(Deserialize)]
struct Col {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Cell {
    Null,
    Integer { value: String },
    Float { value: f64 },
    Text { value: String },
    Blob { base64: String },
}

#[derive(Deserialize)]
struct BatchResult {
    step_errors: Vec<Option<ErrorReply>>,
}

#[derive(Deserialize)]
struct ErrorReply {
    message: String,
    #[serde(default)]
    code: Option<String>,
}

impl From<ErrorReply> for HranaError {
    fn from(err: ErrorReply) -> Self {
        HranaError::Statement {
            code: err.code.unwrap_or_else(|| "UNKNOWN".into()),
            message: err.message,
        }
    }
}

fn parse(text: &str) -> Result<StreamResponse, HranaError> {
    let reply: PipelineReply =
        serde_json::from_str(text).map_err(|e| HranaError::Protocol(e.to_string()))?;
    match reply.results.into_iter().next() {
        Some(StreamResult::Ok { response }) => Ok(response),
        Some(StreamResult::Error { error }) => Err(error.into()),
        None => Err(HranaError::Protocol(
            "no result in the pipeline reply".into(),
        )),
    }
}

fn cell_value(cell: Cell) -> Result<Value, HranaError> {
    Ok(match cell {
        Cell::Null => Value::Null,
        Cell::Integer { value } => {
            let n: i64 = value
                .parse()
                .map_err(|_| HranaError::Protocol(format!("integer {value:?}")))?;
            Value::Number(n.into())
        }
        Cell::Float { value } => Number::from_f64(value).map_or(Value::Null, Value::Number),
        Cell::Text { value } => Value::String(value),
        Cell::Blob { base64 } => Value::String(base64),
    })
}

/// The rows of an [`execute_body`] reply, as `{column: value}` objects.
pub fn decode_rows(text: &str) -> Result<Vec<Map<String, Value>>, HranaError> {
    let StreamResponse::Execute { result } = parse(text)? else {
        return Err(HranaError::Protocol("expected an execute result".into()));
    };
    let names: Vec<String> = result
        .cols
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.name.unwrap_or_else(|| format!("column{i}")))
        .collect();
    result
        .rows
        .into_iter()
        .map(|row| {
            names
                .iter()
                .cloned()
                .zip(row)
                .map(|(name, cell)| Ok((name, cell_value(cell)?)))
                .collect()
        })
        .collect()
}

/// Whether a [`transaction_body`] reply committed; the first failing step's error if not.
pub fn decode_transaction(text: &str) -> Result<(), HranaError> {
    let StreamResponse::Batch { result } = parse(text)? else {
        return Err(HranaError::Protocol("expected a batch result".into()));
    };
    match result.step_errors.into_iter().flatten().next() {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_positional_and_typed() {
        let body = execute_body(&Stmt {
            sql: "SELECT ?1, ?2, ?3, ?4",
            args: vec![Arg::Text("a"), Arg::Integer(7), Arg::Float(1.5), Arg::Null],
        });
        let args = &body["requests"][0]["stmt"]["args"];
        assert_eq!(args[0], json!({"type": "text", "value": "a"}));
        assert_eq!(args[1], json!({"type": "integer", "value": "7"}));
        assert_eq!(args[2], json!({"type": "float", "value": 1.5}));
        assert_eq!(args[3], json!({"type": "null"}));
        assert!(
            body["requests"].as_array().is_some_and(|r| r.len() == 1),
            "no close request"
        );
    }

    #[test]
    fn transactions_chain_conditions_and_roll_back() {
        let s = Stmt {
            sql: "DELETE FROM t",
            args: vec![],
        };
        let body = transaction_body(&[s.clone(), s]);
        let steps = body["requests"][0]["batch"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(steps.len(), 5);
        assert_eq!(steps[2]["condition"], json!({"type": "ok", "step": 1}));
        assert_eq!(steps[3]["stmt"]["sql"], "COMMIT");
        assert_eq!(
            steps[4]["condition"]["cond"],
            json!({"type": "ok", "step": 3})
        );
    }

    #[test]
    fn rows_decode_into_objects() {
        let reply = r#"{"baton":null,"results":[{"type":"ok","response":{"type":"execute","result":
            {"cols":[{"name":"day"},{"name":"n"},{"name":"x"},{"name":"z"}],
             "rows":[[{"type":"text","value":"2026-01-01"},{"type":"integer","value":"3"},
                      {"type":"float","value":0.5},{"type":"null"}]]}}}]}"#;
        let rows = decode_rows(reply).expect("rows");
        assert_eq!(
            Value::Object(rows[0].clone()),
            json!({"day": "2026-01-01", "n": 3, "x": 0.5, "z": null})
        );
    }

    #[test]
    fn statement_and_step_errors_surface() {
        let failed = r#"{"results":[{"type":"error","error":{"message":"no such table","code":"PREPARE_ERROR"}}]}"#;
        assert!(matches!(
            decode_rows(failed),
            Err(HranaError::Statement { code, .. }) if code == "PREPARE_ERROR"
        ));
        let step = r#"{"results":[{"type":"ok","response":{"type":"batch","result":
            {"step_results":[null],"step_errors":[null,{"message":"UNIQUE","code":"BATCH_STEP_ERROR"},null]}}}]}"#;
        assert!(decode_transaction(step).is_err());
        let ok = r#"{"results":[{"type":"ok","response":{"type":"batch","result":{"step_results":[],"step_errors":[null,null]}}}]}"#;
        assert!(decode_transaction(ok).is_ok());
        assert!(matches!(
            decode_rows("not json"),
            Err(HranaError::Protocol(_))
        ));
        assert!(decode_rows(ok).is_err(), "a batch reply is not rows");
    }
}
