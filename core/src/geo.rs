//! Geo-routing policy: where a user's journey lives and which origin region its events go to.
//!
//! Inputs are what Cloudflare's edge knows about the request (`request.cf`: continent,
//! country, EU membership, longitude) and the app's residency setting. The placement is
//! decided once, when a journey is created; a journey keeps it for life, so one person's
//! events always flow through one origin in order.

use serde::{Deserialize, Serialize};

use crate::settings::Residency;

/// What the edge knows about where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestGeo {
    /// Two-letter continent code: AF, AN, AS, EU, NA, OC, SA.
    pub continent: Option<String>,
    pub country: Option<String>,
    pub is_eu_country: bool,
    pub longitude: Option<f32>,
}

/// Durable Object location hints (Cloudflare's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationHint {
    Wnam,
    Enam,
    Sam,
    Weur,
    Eeur,
    Apac,
    Oc,
    Afr,
    Me,
}

impl LocationHint {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationHint::Wnam => "wnam",
            LocationHint::Enam => "enam",
            LocationHint::Sam => "sam",
            LocationHint::Weur => "weur",
            LocationHint::Eeur => "eeur",
            LocationHint::Apac => "apac",
            LocationHint::Oc => "oc",
            LocationHint::Afr => "afr",
            LocationHint::Me => "me",
        }
    }
}

/// Durable Object jurisdictions: objects created in one never leave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jurisdiction {
    Eu,
}

impl Jurisdiction {
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::Eu => "eu",
        }
    }
}

/// The origin service regions; each maps to an origin URL in the Worker's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginRegion {
    Us,
    Eu,
    Apac,
}

impl OriginRegion {
    pub fn as_str(self) -> &'static str {
        match self {
            OriginRegion::Us => "us",
            OriginRegion::Eu => "eu",
            OriginRegion::Apac => "apac",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Jurisdiction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_hint: Option<LocationHint>,
    pub origin_region: OriginRegion,
}

/// Countries of the Middle East that Cloudflare's `me` hint serves better than `apac`/`eeur`.
const MIDDLE_EAST: [&str; 15] = [
    "AE", "BH", "CY", "EG", "IL", "IQ", "IR", "JO", "KW", "LB", "OM", "QA", "SA", "SY", "YE",
];
/// Longitudes east of this (Central/Eastern Europe) are served by `eeur`.
const EASTERN_EUROPE_LONGITUDE: f32 = 19.0;
/// Longitudes west of this (the Rockies and the Pacific coast) are served by `wnam`.
const WESTERN_NORTH_AMERICA_LONGITUDE: f32 = -100.0;

/// Where a new journey for a request from `geo` goes, under the app's `residency`.
/// Requests with no geo data (local development) go to `fallback_region` with no hint.
pub fn place(geo: &RequestGeo, residency: Residency, fallback_region: OriginRegion) -> Placement {
    let nearest = nearest_hint(geo);
    match residency {
        Residency::Eu => Placement {
            jurisdiction: Some(Jurisdiction::Eu),
            location_hint: Some(match nearest {
                Some(LocationHint::Eeur) => LocationHint::Eeur,
                _ => LocationHint::Weur,
            }),
            origin_region: OriginRegion::Eu,
        },
        Residency::Us => Placement {
            jurisdiction: None,
            location_hint: Some(match nearest {
                Some(LocationHint::Wnam) => LocationHint::Wnam,
                _ => LocationHint::Enam,
            }),
            origin_region: OriginRegion::Us,
        },
        Residency::Global => Placement {
            jurisdiction: None,
            location_hint: nearest,
            origin_region: nearest.map(region_of_hint).unwrap_or(fallback_region),
        },
    }
}

fn nearest_hint(geo: &RequestGeo) -> Option<LocationHint> {
    let country = geo.country.as_deref().unwrap_or("");
    if MIDDLE_EAST.contains(&country) {
        return Some(LocationHint::Me);
    }
    let hint = match geo.continent.as_deref()? {
        "NA" => match geo.longitude {
            Some(lon) if lon < WESTERN_NORTH_AMERICA_LONGITUDE => LocationHint::Wnam,
            _ => LocationHint::Enam,
        },
        "SA" => LocationHint::Sam,
        "EU" => match geo.longitude {
            Some(lon) if lon > EASTERN_EUROPE_LONGITUDE => LocationHint::Eeur,
            _ => LocationHint::Weur,
        },
        "AS" => LocationHint::Apac,
        "OC" => LocationHint::Oc,
        "AF" => LocationHint::Afr,
        _ => return None,
    };
    Some(hint)
}

fn region_of_hint(hint: LocationHint) -> OriginRegion {
    match hint {
        LocationHint::Wnam | LocationHint::Enam | LocationHint::Sam => OriginRegion::Us,
        LocationHint::Weur | LocationHint::Eeur | LocationHint::Afr | LocationHint::Me => {
            OriginRegion::Eu
        }
        LocationHint::Apac | LocationHint::Oc => OriginRegion::Apac,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo(continent: &str, country: &str, eu: bool, lon: f32) -> RequestGeo {
        RequestGeo {
            continent: Some(continent.into()),
            country: Some(country.into()),
            is_eu_country: eu,
            longitude: Some(lon),
        }
    }

    #[test]
    fn nearest_placement_per_continent() {
        let us_west = place(
            &geo("NA", "US", false, -122.4),
            Residency::Global,
            OriginRegion::Us,
        );
        assert_eq!(us_west.location_hint, Some(LocationHint::Wnam));
        assert_eq!(us_west.origin_region, OriginRegion::Us);
        let paris = place(
            &geo("EU", "FR", true, 2.35),
            Residency::Global,
            OriginRegion::Us,
        );
        assert_eq!(
            (paris.location_hint, paris.origin_region, paris.jurisdiction),
            (Some(LocationHint::Weur), OriginRegion::Eu, None)
        );
        let tokyo = place(
            &geo("AS", "JP", false, 139.7),
            Residency::Global,
            OriginRegion::Us,
        );
        assert_eq!(
            (tokyo.location_hint, tokyo.origin_region),
            (Some(LocationHint::Apac), OriginRegion::Apac)
        );
        let dubai = place(
            &geo("AS", "AE", false, 55.3),
            Residency::Global,
            OriginRegion::Us,
        );
        assert_eq!(dubai.location_hint, Some(LocationHint::Me));
    }

    #[test]
    fn eu_residency_pins_everyone_to_the_eu() {
        for g in [geo("NA", "US", false, -74.0), geo("AS", "JP", false, 139.7)] {
            let p = place(&g, Residency::Eu, OriginRegion::Us);
            assert_eq!(p.jurisdiction, Some(Jurisdiction::Eu));
            assert_eq!(p.origin_region, OriginRegion::Eu);
            assert_eq!(p.location_hint, Some(LocationHint::Weur));
        }
        let warsaw = place(
            &geo("EU", "PL", true, 21.0),
            Residency::Eu,
            OriginRegion::Us,
        );
        assert_eq!(warsaw.location_hint, Some(LocationHint::Eeur));
    }

    #[test]
    fn no_geo_data_uses_the_fallback_region() {
        let p = place(
            &RequestGeo::default(),
            Residency::Global,
            OriginRegion::Apac,
        );
        assert_eq!(
            (p.location_hint, p.origin_region),
            (None, OriginRegion::Apac)
        );
    }
}
