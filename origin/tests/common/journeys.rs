//! A hand-built journey set for the cohort tests (the embedded push and the ClickHouse views):
//! the records the journeys send, and the cohort cells computed by hand from them.

use std::collections::BTreeSet;

use attrib_core::attribution::attribute;
use attrib_core::conversion::Conversion;
use attrib_core::geo::OriginRegion;
use attrib_core::outbox::{AttributionRecord, EventRecord, MergeRecord, OutboxBatch, OutboxRecord};
use attrib_core::settings::AppSettings;
use attrib_origin::testkit::{event, touch};

pub const DAY_MS: i64 = 86_400_000;
/// 2026-03-01T10:00:00Z: the first cohort day.
pub const T0: i64 = 1_772_359_200_000;
pub const APP: &str = "shop";

pub fn journey(user: &str) -> String {
    format!("u:{APP}:{user}")
}

pub fn batch(user: &str, records: Vec<OutboxRecord>) -> OutboxBatch {
    OutboxBatch {
        journey: journey(user),
        region: OriginRegion::Us,
        records,
    }
}

/// A page view: activity without a purchase.
pub fn visit(user: &str, id: &str, ts_ms: i64) -> OutboxRecord {
    OutboxRecord::Event(Box::new(EventRecord {
        app_id: APP.into(),
        journey: journey(user),
        event: event(id, user, ts_ms, None),
        touch: None,
        is_conversion: false,
    }))
}

/// A purchase, attributed over `touches` (source indexes of testkit's sources: 0 google,
/// 1 facebook, 2 newsletter; none: organic), each touch an hour before it.
pub fn purchase(
    user: &str,
    id: &str,
    ts_ms: i64,
    touches: &[usize],
    (revenue, currency): (f64, &str),
) -> Vec<OutboxRecord> {
    let mut records = Vec::new();
    let mut made = Vec::new();
    for (i, source) in touches.iter().enumerate() {
        let touch_id = format!("{id}-t{i}");
        let ts = ts_ms - 3_600_000 + i as i64;
        let t = touch(&touch_id, ts, *source);
        made.push(t.clone());
        records.push(OutboxRecord::Event(Box::new(EventRecord {
            app_id: APP.into(),
            journey: journey(user),
            event: event(&touch_id, user, ts, None),
            touch: Some(t),
            is_conversion: false,
        })));
    }
    records.push(OutboxRecord::Event(Box::new(EventRecord {
        app_id: APP.into(),
        journey: journey(user),
        event: event(id, user, ts_ms, Some("Order Completed")),
        touch: None,
        is_conversion: true,
    })));
    let conversion = Conversion {
        conversion_id: id.into(),
        name: "Order Completed".into(),
        ts_ms,
        revenue,
        currency: currency.into(),
        order_id: None,
    };
    let result = attribute(&conversion, &made, &AppSettings::with_defaults(APP), ts_ms);
    records.push(OutboxRecord::Attribution(Box::new(AttributionRecord {
        app_id: APP.into(),
        journey: journey(user),
        result,
    })));
    records
}

/// (cohort day, source, campaign, offset, currency, users, active users, revenue).
pub type Cell = (String, String, String, u32, String, u64, u64, String);

pub fn cell(
    day: &str,
    (source, campaign): (&str, &str),
    offset: u32,
    currency: &str,
    (users, active): (u64, u64),
    revenue: f64,
) -> Cell {
    (
        day.into(),
        source.into(),
        campaign.into(),
        offset,
        currency.into(),
        users,
        active,
        format!("{revenue:.2}"),
    )
}

pub const GOOGLE: (&str, &str) = ("google", "spring-0");
pub const FACEBOOK: (&str, &str) = ("facebook", "spring-1");
pub const ORGANIC: (&str, &str) = ("(organic)", "(none)");
pub const D1: &str = "2026-03-01";
pub const D2: &str = "2026-03-02";
pub const D4: &str = "2026-03-04";

/// ann: google on day 0 (10 USD), again on day 2 (20 USD, newsletter's touch: she stays in
/// the google cohort), a visit on day 5. bob: facebook on day 0 (5 USD), a visit on day 1.
/// cy: organic on 03-02 (7 EUR). dan visits on 03-01 but first buys on 03-04 (google):
/// the visit is before his cohort.
pub fn first_batches() -> Vec<OutboxBatch> {
    vec![
        batch("ann", purchase("ann", "ann-1", T0, &[0], (10.0, "USD"))),
        batch(
            "ann",
            purchase("ann", "ann-2", T0 + 2 * DAY_MS, &[2], (20.0, "USD")),
        ),
        batch("ann", vec![visit("ann", "ann-v5", T0 + 5 * DAY_MS)]),
        batch(
            "bob",
            purchase("bob", "bob-1", T0 + 60_000, &[1], (5.0, "USD")),
        ),
        batch("bob", vec![visit("bob", "bob-v1", T0 + DAY_MS)]),
        batch("cy", purchase("cy", "cy-1", T0 + DAY_MS, &[], (7.0, "EUR"))),
        batch("dan", vec![visit("dan", "dan-v0", T0)]),
        batch(
            "dan",
            purchase("dan", "dan-1", T0 + 3 * DAY_MS, &[0], (3.0, "USD")),
        ),
    ]
}

pub fn first_cells() -> BTreeSet<Cell> {
    [
        cell(D1, GOOGLE, 0, "", (1, 1), 0.0),
        cell(D1, GOOGLE, 0, "USD", (0, 0), 10.0),
        cell(D1, GOOGLE, 2, "", (1, 1), 0.0),
        cell(D1, GOOGLE, 2, "USD", (0, 0), 20.0),
        cell(D1, GOOGLE, 5, "", (1, 1), 0.0),
        cell(D1, FACEBOOK, 0, "", (1, 1), 0.0),
        cell(D1, FACEBOOK, 0, "USD", (0, 0), 5.0),
        cell(D1, FACEBOOK, 1, "", (1, 1), 0.0),
        cell(D2, ORGANIC, 0, "", (1, 1), 0.0),
        cell(D2, ORGANIC, 0, "EUR", (0, 0), 7.0),
        cell(D4, GOOGLE, 0, "", (1, 1), 0.0),
        cell(D4, GOOGLE, 0, "USD", (0, 0), 3.0),
    ]
    .into_iter()
    .collect()
}

/// Later: bob buys again on day 3 (8 USD) and cy comes back on her day 1, under another
/// journey merged into hers.
pub fn later_batches() -> Vec<OutboxBatch> {
    vec![
        batch(
            "bob",
            purchase("bob", "bob-2", T0 + 3 * DAY_MS, &[1], (8.0, "USD")),
        ),
        batch(
            "cy-phone",
            vec![visit("cy-phone", "cy-v1", T0 + 2 * DAY_MS)],
        ),
        OutboxBatch {
            journey: journey("cy"),
            region: OriginRegion::Us,
            records: vec![OutboxRecord::Merge(MergeRecord {
                app_id: APP.into(),
                from: journey("cy-phone"),
                into: journey("cy"),
                merged_at_ms: T0 + 2 * DAY_MS,
            })],
        },
    ]
}

/// [`first_cells`] after [`later_batches`].
pub fn later_cells() -> BTreeSet<Cell> {
    let mut cells = first_cells();
    cells.insert(cell(D1, FACEBOOK, 3, "", (1, 1), 0.0));
    cells.insert(cell(D1, FACEBOOK, 3, "USD", (0, 0), 8.0));
    cells.insert(cell(D2, ORGANIC, 1, "", (1, 1), 0.0));
    cells
}
