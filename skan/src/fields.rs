//! Reading one postback field at a time, so every failure names its field.
//!
//! Postbacks are deserialized into structs of [`Slot`]s: serde then refuses duplicate keys (a
//! body with two `app-id`s is ambiguous about what was signed), ignores fields Apple may add
//! later, and keeps an explicit `null` apart from an absent field.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{PostbackError, Reason};
use crate::limits::{
    MAX_FINE_CONVERSION_VALUE, MAX_POSTBACK_BODY_BYTES, MAX_SOURCE_IDENTIFIER_DIGITS,
};
use crate::limits::{MAX_TOKEN_CHARS, MIN_SOURCE_IDENTIFIER_DIGITS};
use crate::{CoarseValue, ConversionValue};

/// One field of a JSON object: absent, or present with any value (`null` included).
#[derive(Debug, Default)]
pub(crate) enum Slot {
    #[default]
    Absent,
    Present(Value),
}

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Slot::Present)
    }
}

type FieldResult<T> = std::result::Result<T, PostbackError>;

/// A postback body as one struct of slots, bounded before it is parsed.
pub(crate) fn read_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> FieldResult<T> {
    if body.len() > MAX_POSTBACK_BODY_BYTES {
        return Err(PostbackError::BodyTooLarge {
            size: body.len(),
            max: MAX_POSTBACK_BODY_BYTES,
        });
    }
    serde_json::from_slice(body).map_err(|e| PostbackError::not_json(&e))
}

impl Slot {
    pub(crate) fn is_present(&self) -> bool {
        matches!(self, Slot::Present(_))
    }

    pub(crate) fn required(&self, field: &'static str) -> FieldResult<&Value> {
        match self {
            Slot::Present(value) => Ok(value),
            Slot::Absent => Err(PostbackError::field(field, Reason::Missing)),
        }
    }

    pub(crate) fn optional(&self) -> Option<&Value> {
        match self {
            Slot::Present(value) => Some(value),
            Slot::Absent => None,
        }
    }

    /// Refuses a field that the postback's version never carries.
    pub(crate) fn absent_in(&self, field: &'static str, version: &'static str) -> FieldResult<()> {
        match self {
            Slot::Present(_) => Err(PostbackError::field(field, Reason::NotInVersion(version))),
            Slot::Absent => Ok(()),
        }
    }
}

/// Which characters a string field may hold. Every rule excludes U+2063 and every other
/// non-ASCII or control character, so that no value can move a separator of the signed string.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Charset {
    /// Ad network ids and bundle ids: `[A-Za-z0-9._-]`.
    Identifier,
    /// Transaction and postback ids: `[A-Za-z0-9-]`.
    Uuid,
    /// DNS names: `[A-Za-z0-9.-]`.
    Domain,
    /// Printable ASCII without spaces (JWS `kid`, `alg`; enumerated tokens).
    Token,
}

impl Charset {
    fn allows(self, c: char) -> bool {
        match self {
            Charset::Identifier => c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'),
            Charset::Uuid => c.is_ascii_alphanumeric() || c == '-',
            Charset::Domain => c.is_ascii_alphanumeric() || matches!(c, '.' | '-'),
            Charset::Token => c.is_ascii_graphic(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Charset::Identifier => "letters, digits, '.', '_' or '-'",
            Charset::Uuid => "letters, digits or '-'",
            Charset::Domain => "a DNS name of letters, digits, '.' or '-'",
            Charset::Token => "printable ASCII without spaces",
        }
    }
}

pub(crate) fn text(
    value: &Value,
    field: &'static str,
    max: usize,
    set: Charset,
) -> FieldResult<String> {
    let Value::String(s) = value else {
        return Err(PostbackError::field(field, Reason::WrongType("a string")));
    };
    if s.is_empty() {
        return Err(PostbackError::field(field, Reason::Empty));
    }
    if s.chars().count() > max {
        return Err(PostbackError::field(field, Reason::TooLong { max }));
    }
    if !s.chars().all(|c| set.allows(c)) {
        return Err(PostbackError::field(field, Reason::Format(set.describe())));
    }
    Ok(s.clone())
}

pub(crate) fn token(value: &Value, field: &'static str) -> FieldResult<String> {
    text(value, field, MAX_TOKEN_CHARS, Charset::Token)
}

pub(crate) fn unsigned(value: &Value, field: &'static str, min: u64, max: u64) -> FieldResult<u64> {
    let Some(n) = value.as_u64() else {
        return Err(PostbackError::field(
            field,
            Reason::WrongType("a non-negative integer"),
        ));
    };
    if n < min || n > max {
        return Err(PostbackError::field(field, Reason::OutOfRange { min, max }));
    }
    Ok(n)
}

pub(crate) fn boolean(value: &Value, field: &'static str) -> FieldResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| PostbackError::field(field, Reason::WrongType("a boolean")))
}

/// `source-identifier`: a string of two to four digits, kept verbatim (leading zeros are
/// part of what Apple signed).
pub(crate) fn source_identifier(value: &Value, field: &'static str) -> FieldResult<String> {
    let Value::String(s) = value else {
        return Err(PostbackError::field(field, Reason::WrongType("a string")));
    };
    let digits = MIN_SOURCE_IDENTIFIER_DIGITS..=MAX_SOURCE_IDENTIFIER_DIGITS;
    if !digits.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PostbackError::field(
            field,
            Reason::Format("a string of two to four digits"),
        ));
    }
    Ok(s.clone())
}

/// `country-code`: two upper-case ASCII letters (ISO 3166-1 alpha-2).
pub(crate) fn country_code(value: &Value, field: &'static str) -> FieldResult<String> {
    let Value::String(s) = value else {
        return Err(PostbackError::field(field, Reason::WrongType("a string")));
    };
    if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PostbackError::field(
            field,
            Reason::Format("two upper-case letters (ISO 3166-1 alpha-2)"),
        ));
    }
    Ok(s.clone())
}

pub(crate) const CONVERSION_VALUE: &str = "conversion-value";
pub(crate) const COARSE_CONVERSION_VALUE: &str = "coarse-conversion-value";

/// The fine or coarse conversion value of a postback (never both; neither is signed).
pub(crate) fn conversion(fine: &Slot, coarse: &Slot) -> FieldResult<Option<ConversionValue>> {
    match (fine.optional(), coarse.optional()) {
        (Some(_), Some(_)) => Err(PostbackError::field(
            COARSE_CONVERSION_VALUE,
            Reason::Conflicts(CONVERSION_VALUE),
        )),
        (Some(value), None) => {
            let max = u64::from(MAX_FINE_CONVERSION_VALUE);
            let n = unsigned(value, CONVERSION_VALUE, 0, max)?;
            Ok(u8::try_from(n).ok().map(ConversionValue::Fine))
        }
        (None, Some(value)) => {
            let coarse = match value.as_str() {
                Some("low") => CoarseValue::Low,
                Some("medium") => CoarseValue::Medium,
                Some("high") => CoarseValue::High,
                _ => {
                    return Err(PostbackError::field(
                        COARSE_CONVERSION_VALUE,
                        Reason::NotOneOf("\"low\", \"medium\", \"high\""),
                    ))
                }
            };
            Ok(Some(ConversionValue::Coarse(coarse)))
        }
        (None, None) => Ok(None),
    }
}

/// Apple's rules for the unsigned conversion values: only winning postbacks carry one, and
/// only the first postback may carry the fine value. These are the fields a relay could alter
/// without breaking the signature, so they are held to the documented shape.
pub(crate) fn check_conversion_rules(
    conversion: Option<ConversionValue>,
    did_win: bool,
    sequence_index: u8,
) -> FieldResult<()> {
    let Some(value) = conversion else {
        return Ok(());
    };
    let field = match value {
        ConversionValue::Fine(_) => CONVERSION_VALUE,
        ConversionValue::Coarse(_) => COARSE_CONVERSION_VALUE,
    };
    if !did_win {
        return Err(PostbackError::field(field, Reason::OnlyWhenWinning));
    }
    if sequence_index > 0 && matches!(value, ConversionValue::Fine(_)) {
        return Err(PostbackError::field(field, Reason::OnlyInFirstPostback));
    }
    Ok(())
}
