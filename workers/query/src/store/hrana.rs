//! The query Worker's side of Turso's pipeline protocol: its [`Statement`]s as
//! [`attrib_core::hrana`] bodies, and that module's errors as [`StoreError`]s.

use attrib_core::hrana::{self, Arg, HranaError, Stmt};
use serde_json::{Map, Value};

use super::{Param, Statement, StoreError};

fn stmt(statement: &Statement) -> Stmt<'_> {
    Stmt {
        sql: &statement.sql,
        args: statement
            .params
            .iter()
            .map(|param| match param {
                Param::Text(s) => Arg::Text(s),
                Param::Int(n) => Arg::Integer(*n),
                Param::Real(x) => Arg::Float(*x),
            })
            .collect(),
    }
}

impl From<HranaError> for StoreError {
    fn from(err: HranaError) -> Self {
        match err {
            HranaError::Statement { code, message } => StoreError::TursoStatement { code, message },
            HranaError::Protocol(reason) => StoreError::TursoProtocol(reason),
        }
    }
}

/// The body of a pipeline that runs one query.
pub fn execute_body(statement: &Statement) -> Value {
    hrana::execute_body(&stmt(statement))
}

/// The body of a pipeline that runs `statements` as one transaction.
pub fn transaction_body(statements: &[Statement]) -> Value {
    let stmts: Vec<Stmt> = statements.iter().map(stmt).collect();
    hrana::transaction_body(&stmts)
}

/// The rows of an `execute_body` reply, as `{column: value}` objects.
pub fn decode_rows(text: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
    Ok(hrana::decode_rows(text)?)
}

/// Whether a `transaction_body` reply committed; the first failing step's error if not.
pub fn decode_transaction(text: &str) -> Result<(), StoreError> {
    Ok(hrana::decode_transaction(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statements_become_positional_typed_arguments() {
        let body = execute_body(&Statement::new(
            "SELECT ?1, ?2, ?3",
            vec![Param::Text("a".into()), Param::Int(7), Param::Real(1.5)],
        ));
        let args = &body["requests"][0]["stmt"]["args"];
        assert_eq!(args[1], json!({"type": "integer", "value": "7"}));
        assert_eq!(args[2], json!({"type": "float", "value": 1.5}));
        let failed = r#"{"results":[{"type":"error","error":{"message":"no such table","code":"PREPARE_ERROR"}}]}"#;
        assert!(matches!(
            decode_rows(failed),
            Err(StoreError::TursoStatement { code, .. }) if code == "PREPARE_ERROR"
        ));
    }
}
