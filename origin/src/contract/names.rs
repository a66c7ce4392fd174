//! Wire names and one-byte codes of the contract's enums, without going through serde on the
//! hot path. `tests.rs` checks every name against the contract's own serialisation.

use attrib_core::attribution::{Basis, Model};
use attrib_core::event::EventType;
use attrib_core::touch::{Channel, TouchKind};

pub const EVENT_TYPES: [EventType; 8] = [
    EventType::Track,
    EventType::Identify,
    EventType::Page,
    EventType::Screen,
    EventType::Group,
    EventType::Alias,
    EventType::Click,
    EventType::Impression,
];
pub const TOUCH_KINDS: [TouchKind; 2] = [TouchKind::Click, TouchKind::View];
pub const CHANNELS: [Channel; 10] = [
    Channel::PaidSearch,
    Channel::PaidSocial,
    Channel::Display,
    Channel::Affiliate,
    Channel::Email,
    Channel::Referral,
    Channel::OrganicSearch,
    Channel::OrganicSocial,
    Channel::Direct,
    Channel::Other,
];
pub const BASES: [Basis; 3] = [Basis::Click, Basis::View, Basis::Unattributed];
pub const MODELS: [Model; 6] = Model::ALL;

/// The position of `value` in `all`: its one-byte code in the spool.
pub fn code_of<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter().position(|v| v == value).unwrap_or(0) as u8
}

pub fn from_code<T: Copy>(all: &[T], code: u8) -> Option<T> {
    all.get(usize::from(code)).copied()
}

pub fn touch_kind_str(kind: TouchKind) -> &'static str {
    match kind {
        TouchKind::Click => "click",
        TouchKind::View => "view",
    }
}

pub fn channel_str(channel: Channel) -> &'static str {
    match channel {
        Channel::PaidSearch => "paid_search",
        Channel::PaidSocial => "paid_social",
        Channel::Display => "display",
        Channel::Affiliate => "affiliate",
        Channel::Email => "email",
        Channel::Referral => "referral",
        Channel::OrganicSearch => "organic_search",
        Channel::OrganicSocial => "organic_social",
        Channel::Direct => "direct",
        Channel::Other => "other",
    }
}

pub fn basis_str(basis: Basis) -> &'static str {
    match basis {
        Basis::Click => "click",
        Basis::View => "view",
        Basis::Unattributed => "unattributed",
    }
}
