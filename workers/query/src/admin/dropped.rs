//! `/admin/v1/apps/{app}/dropped-events`: what the ingest Worker took but did not store, per
//! UTC day: events of suppressed subjects (`suppressed_events`, issue 12 scope 3) and events
//! without analytics consent (`consent_dropped_events`, scope 5). Counts only; D1 is where the
//! ingest Worker keeps them.

use attrib_worker_common::apps::DB_BINDING;
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use super::write::{answer, load_app, text};
use super::Cx;
use crate::error::QueryError;
use crate::params::{today_utc, Params};

#[derive(Debug, Deserialize, Serialize)]
struct DroppedDay {
    day: String,
    suppressed: f64,
    consent: f64,
}

pub async fn list(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let url = req.url()?;
    let params = Params::parse(url.query(), &["from", "to"]).map_err(QueryError::BadField)?;
    let today = today_utc();
    let range = params.range(today).map_err(QueryError::BadField)?;
    let (from, to) = (range.first_day(), range.last_day());
    let days: Vec<DroppedDay> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(
            "SELECT day, SUM(suppressed) AS suppressed, SUM(consent) AS consent FROM ( \
               SELECT day, events AS suppressed, 0 AS consent FROM suppressed_events \
                 WHERE app_id = ?1 AND day BETWEEN ?2 AND ?3 \
               UNION ALL \
               SELECT day, 0, events FROM consent_dropped_events \
                 WHERE app_id = ?1 AND day BETWEEN ?2 AND ?3 \
             ) GROUP BY day ORDER BY day",
        )
        .bind(&[text(app_id), text(&from), text(&to)])?
        .all()
        .await?
        .results()?;
    let total = |f: fn(&DroppedDay) -> f64| days.iter().map(f).sum::<f64>() as i64;
    let totals = json!({
        "suppressed": total(|d| d.suppressed),
        "consent": total(|d| d.consent),
    });
    let days: Vec<_> = days
        .iter()
        .map(|d| json!({"day": d.day, "suppressed": d.suppressed as i64, "consent": d.consent as i64}))
        .collect();
    answer(
        200,
        &json!({ "app_id": app_id, "from": from, "to": to, "days": days, "totals": totals }),
        app.version(),
    )
}
