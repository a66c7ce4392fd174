//! Failures of the edge plumbing (not of the client's input: those are `FieldError`s).

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("runtime call failed: {0}")]
    Runtime(#[from] worker::Error),
    #[error("JSON encoding failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error("configuration {name} is invalid: {reason}")]
    Config { name: &'static str, reason: String },
    #[error("journey answered {status}: {body}")]
    Journey { status: u16, body: String },
    #[error("stored app settings are invalid: {0}")]
    Settings(String),
}
