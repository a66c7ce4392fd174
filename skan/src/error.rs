//! Why a postback or a schema was refused.
//!
//! Two kinds of failure, kept apart because the endpoint treats them differently:
//! - [`PostbackError`]: the body cannot be read as a postback at all (too large, not JSON, a
//!   field missing or malformed). No record can be built; the endpoint counts it with
//!   [`PostbackError::reason_code`] and [`PostbackError::field`].
//! - [`SignatureError`]: the postback reads fine but Apple's signature does not verify it. The
//!   record is built, marked unverified, and stored with the reason.

use crate::limits::MAX_ERROR_DETAIL_CHARS;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("is required")]
    Missing,
    #[error("must be {0}")]
    WrongType(&'static str),
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must be between {min} and {max}")]
    OutOfRange { min: u64, max: u64 },
    #[error("must be {0}")]
    Format(&'static str),
    #[error("must be one of {0}")]
    NotOneOf(&'static str),
    #[error("is not part of a version {0} postback")]
    NotInVersion(&'static str),
    #[error("cannot be sent together with `{0}`")]
    Conflicts(&'static str),
    #[error("is only sent in the first postback (sequence index 0)")]
    OnlyInFirstPostback,
    #[error("is only sent with winning postbacks (`did-win` true)")]
    OnlyWhenWinning,
    #[error(
        "names a version this service does not verify (2.1, 2.2, 3.0 and 4.0 are; 1.0 and 2.0 \
         are signed with Apple's retired P-192 key)"
    )]
    UnsupportedVersion,
}

impl Reason {
    /// A stable machine-readable code for the error body's `reason`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::WrongType(_) => "wrong_type",
            Reason::Empty => "empty",
            Reason::TooLong { .. } => "too_long",
            Reason::OutOfRange { .. } => "out_of_range",
            Reason::Format(_) => "bad_format",
            Reason::NotOneOf(_) => "not_allowed_value",
            Reason::NotInVersion(_) => "not_in_version",
            Reason::Conflicts(_) => "conflicting_fields",
            Reason::OnlyInFirstPostback => "only_in_first_postback",
            Reason::OnlyWhenWinning => "only_when_winning",
            Reason::UnsupportedVersion => "unsupported_version",
        }
    }
}

/// The body is not a readable postback; nothing can be stored but the count and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostbackError {
    #[error("the body is {size} bytes; the limit is {max}")]
    BodyTooLarge { size: usize, max: usize },
    #[error("the body is not a JSON object of postback fields: {0}")]
    NotJson(String),
    #[error("`{field}` {reason}")]
    Field { field: &'static str, reason: Reason },
}

impl PostbackError {
    pub(crate) fn field(field: &'static str, reason: Reason) -> Self {
        PostbackError::Field { field, reason }
    }

    pub(crate) fn not_json(error: &serde_json::Error) -> Self {
        PostbackError::NotJson(truncate(error.to_string()))
    }

    /// The field at fault, as Apple names it (`None` for errors about the whole body).
    pub fn field_name(&self) -> Option<&'static str> {
        match self {
            PostbackError::Field { field, .. } => Some(field),
            _ => None,
        }
    }

    /// A stable machine-readable code for the error body's `reason`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            PostbackError::BodyTooLarge { .. } => "body_too_large",
            PostbackError::NotJson(_) => "not_json",
            PostbackError::Field { reason, .. } => reason.code(),
        }
    }
}

/// The postback was read, but it is not proven to come from Apple.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("`attribution-signature` is not standard base64")]
    SignatureNotBase64,
    #[error("`attribution-signature` is not a DER-encoded ECDSA P-256 signature")]
    SignatureNotDer,
    #[error("the JWS signature is not 64 bytes of base64url (ES256 r||s)")]
    JwsSignatureMalformed,
    #[error("the JWS header has no `kid`")]
    MissingKeyId,
    #[error("the JWS header names a key id Apple does not publish")]
    UnknownKeyId,
    #[error("the JWS header's `alg` is not ES256")]
    UnsupportedAlgorithm,
    #[error("the JWS header lists critical extensions, which Apple's postbacks never use")]
    CriticalHeader,
    #[error("the postback is signed with Apple's development key, which this endpoint refuses")]
    DevelopmentKeyRefused,
    #[error("the signature does not match Apple's public key for these fields")]
    Mismatch,
    #[error("an embedded Apple public key failed to load (a build defect)")]
    EmbeddedKey,
}

impl SignatureError {
    /// A stable machine-readable code, stored beside an unverified postback.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::SignatureNotBase64 => "signature_not_base64",
            SignatureError::SignatureNotDer => "signature_not_der",
            SignatureError::JwsSignatureMalformed => "jws_signature_malformed",
            SignatureError::MissingKeyId => "missing_key_id",
            SignatureError::UnknownKeyId => "unknown_key_id",
            SignatureError::UnsupportedAlgorithm => "unsupported_algorithm",
            SignatureError::CriticalHeader => "critical_header",
            SignatureError::DevelopmentKeyRefused => "development_key_refused",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::EmbeddedKey => "embedded_key",
        }
    }
}

/// A conversion-value schema the management API must refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    #[error("the schema is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the schema is not valid JSON for a conversion-value schema: {0}")]
    NotJson(String),
    #[error("`{path}` {reason}")]
    Invalid { path: String, reason: Reason },
}

impl SchemaError {
    pub(crate) fn invalid(path: impl Into<String>, reason: Reason) -> Self {
        SchemaError::Invalid {
            path: path.into(),
            reason,
        }
    }

    pub(crate) fn not_json(error: &serde_json::Error) -> Self {
        SchemaError::NotJson(truncate(error.to_string()))
    }

    /// The offending path inside the schema, e.g. `windows[0].fine[3].revenue.max`.
    pub fn path(&self) -> Option<&str> {
        match self {
            SchemaError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }

    /// A stable machine-readable code for the error body's `reason`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            SchemaError::TooLarge { .. } => "schema_too_large",
            SchemaError::NotJson(_) => "not_json",
            SchemaError::Invalid { reason, .. } => reason.code(),
        }
    }
}

fn truncate(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_ERROR_DETAIL_CHARS) {
        message.truncate(cut);
    }
    message
}
