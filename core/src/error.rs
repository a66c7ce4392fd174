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
