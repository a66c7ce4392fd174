//! The one shape in which bad input is reported: which field, and why.

use serde::{Deserialize, Serialize};

/// A rejected input field. `field` is a path into the request as the client sent it
/// (`timestamp`, `batch[3].properties.currency`), so the client can find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error seen from an enclosing object (`timestamp` becomes `batch[2].timestamp`).
    pub fn within(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.field = format!("{prefix}.{}", self.field);
        }
        self
    }
}

/// The one error body of every HTTP surface (Workers, Durable Objects, origin; issue 13):
/// `{"success": false, "error": {"code", "message", "field"?, "reason"?}}`. `code` is stable
/// and machine-readable; `field` (a path into the request) and `reason` are there when one
/// field is to blame. `success` keeps the Segment reply convention the ingest API speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub success: bool,
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            success: false,
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                field: None,
                reason: None,
            },
        }
    }

    /// An error about one field: `message` is the whole sentence, `reason` the part after
    /// the field.
    pub fn for_field(code: impl Into<String>, err: &FieldError) -> Self {
        let mut body = ErrorBody::new(code, err.to_string());
        body.error.field = Some(err.field.clone());
        body.error.reason = Some(err.reason.clone());
        body
    }

    /// Names a field without a separate reason (`message` already says why).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.error.field = Some(field.into());
        self
    }
}

#[cfg(test)]
mod error_body_tests {
    use super::*;

    /// Issue 13, finding 10: the origin answered `{"error":...}` and the Workers
    /// `{"success":false,"error":...}`. One type now gives both the same JSON.
    #[test]
    fn one_error_contract_json_shape() {
        let plain =
            serde_json::to_value(ErrorBody::new("not_found", "no such endpoint")).expect("json");
        assert_eq!(
            plain,
            serde_json::json!({"success": false, "error": {"code": "not_found", "message": "no such endpoint"}})
        );
        let field =
            ErrorBody::for_field("invalid_request", &FieldError::new("records[3]", "is bad"));
        let value = serde_json::to_value(&field).expect("json");
        assert_eq!(value["error"]["field"], "records[3]");
        assert_eq!(value["error"]["reason"], "is bad");
        assert_eq!(value["error"]["message"], "records[3]: is bad");
        let back: ErrorBody = serde_json::from_value(value).expect("reads back");
        assert_eq!(back, field);
    }
}
