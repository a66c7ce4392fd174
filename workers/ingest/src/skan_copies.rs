//! Developer copies of SKAdNetwork and AdAttributionKit postbacks:
//! `POST /.well-known/skadnetwork/report-attribution/` and
//! `POST /.well-known/appattribution/report-attribution/`.
//!
//! Parsed and verified by `attrib-skan`; the app is the one whose `apps.mobile.apple_app_id` is
//! the postback's `app-id`; the conversion value is decoded through the app's
//! `skan_conversion_schema`. A verified postback is stored once per dedup key
//! (`INSERT OR IGNORE` on `skan_postbacks (app_id, dedup_key)`) and answered 200, repeats
//! included (the device stops retrying). One that does not verify is counted in `skan_invalid`
//! by reason and answered 400 naming the reason; one for no known app is 404, stored nowhere.
//!
//! Every verified postback, repeats included, is also queued for the origin (a
//! `skan_postback` outbox record, id `skan:{app}:{dedup key}`) in the app's edge journey
//! (`attrib_worker_common::edge_facts`) before the 200: if queueing fails the answer is an
//! error, the device's retry finds the D1 row already there and queues it again, and the
//! origin stores the dedup key once whichever copies arrive.

use attrib_core::mobile::settings::parse_mobile_settings;
use attrib_core::outbox::{OutboxRecord, SkanPostbackRecord};
use attrib_core::settings::Residency;
use attrib_core::FieldError;
use attrib_skan::limits::MAX_POSTBACK_BODY_BYTES;
use attrib_skan::{
    receive_aak, receive_skan, ConversionSchema, KeyPolicy, PostbackRecord, Protocol,
};
use attrib_worker_common::body::read_capped;
use attrib_worker_common::{apps, edge_facts, response};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use crate::error::IngestError;

pub const SKAN_PATH: &str = "/.well-known/skadnetwork/report-attribution/";
pub const AAK_PATH: &str = "/.well-known/appattribution/report-attribution/";

#[derive(Deserialize)]
struct AppRow {
    id: String,
    mobile: String,
    residency: String,
}

fn bad(field: &str, reason: impl Into<String>) -> IngestError {
    IngestError::BadField(FieldError::new(field, reason))
}

fn receive(
    aak: bool,
    body: &[u8],
    schema: Option<&ConversionSchema>,
    policy: KeyPolicy,
) -> Result<PostbackRecord, IngestError> {
    let received = if aak {
        receive_aak(body, schema, policy)
    } else {
        receive_skan(body, schema)
    };
    received.map_err(|e| bad(e.field_name().unwrap_or("body"), e.to_string()))
}

pub async fn report(mut req: Request, env: &Env) -> Result<Response, IngestError> {
    let aak = req.path().starts_with("/.well-known/appattribution/");
    let body = read_capped(&mut req, MAX_POSTBACK_BODY_BYTES).await?;
    // First without a schema, to learn the app; development keys are judged after.
    let first = receive(aak, &body, None, KeyPolicy::AllowDevelopment)?;
    let db = env.d1(apps::DB_BINDING)?;
    let app: Option<AppRow> = db
        .prepare(
            "SELECT id, mobile, residency FROM apps \
             WHERE json_extract(mobile, '$.apple_app_id') = ?1",
        )
        .bind(&[JsValue::from_f64(first.app_id as f64)])?
        .first(None)
        .await?;
    let Some(app) = app else {
        return Err(IngestError::NotFound);
    };
    let mobile = parse_mobile_settings(Some(&app.mobile)).map_err(IngestError::BadField)?;
    let schema = mobile
        .skan_conversion_schema
        .as_ref()
        .and_then(|v| ConversionSchema::from_json(v.to_string().as_bytes()).ok());
    let policy = if mobile.aak_allow_development_keys {
        KeyPolicy::AllowDevelopment
    } else {
        KeyPolicy::ProductionOnly
    };
    let record = receive(aak, &body, schema.as_ref(), policy)?;
    let Some(key) = record.dedup_key() else {
        let reason = record
            .invalid_reason
            .clone()
            .unwrap_or_else(|| "not_verified".into());
        db.prepare(
            "INSERT INTO skan_invalid (app_id, reason, n) VALUES (?1, ?2, 1) \
             ON CONFLICT (app_id, reason) DO UPDATE SET n = n + 1",
        )
        .bind(&[JsValue::from_str(&app.id), JsValue::from_str(&reason)])?
        .run()
        .await?;
        return Err(bad(
            "attribution-signature",
            format!("not verified: {reason}"),
        ));
    };
    let kind = match record.protocol {
        Protocol::Skadnetwork => "skan",
        Protocol::Adattributionkit => "aak",
    };
    let version = record
        .version
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "aak".into());
    let opt_str = |v: Option<String>| v.map_or(JsValue::NULL, |s| JsValue::from_str(&s));
    let opt_num = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from_f64);
    let source = record
        .source_identifier
        .clone()
        .or_else(|| record.campaign_id.map(|c| c.to_string()));
    let coarse = record
        .coarse_value
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_str().map(str::to_owned));
    let decoded = record
        .decoded
        .as_ref()
        .and_then(|d| serde_json::to_string(d).ok());
    let for_origin = OutboxRecord::SkanPostback(SkanPostbackRecord {
        app_id: app.id.clone(),
        dedup_key: key.to_string(),
        protocol: kind.into(),
        version: version.clone(),
        ad_network_id: record.ad_network_id.clone(),
        source_identifier: source.clone(),
        did_win: record.did_win,
        postback_sequence_index: record.postback_sequence_index,
        fine_value: record.fine_value,
        coarse_value: coarse.clone(),
        decoded: decoded.clone(),
        received_at_ms: worker::Date::now().as_millis() as i64,
    });
    let result = db
        .prepare(
            "INSERT OR IGNORE INTO skan_postbacks (app_id, dedup_key, kind, version, ad_network_id, \
             source_identifier, did_win, postback_sequence_index, fine_value, coarse_value, decoded, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(&[
            JsValue::from_str(&app.id),
            JsValue::from_str(&key.to_string()),
            JsValue::from_str(kind),
            JsValue::from_str(&version),
            JsValue::from_str(&record.ad_network_id),
            opt_str(source),
            JsValue::from_f64(if record.did_win { 1.0 } else { 0.0 }),
            JsValue::from_f64(f64::from(record.postback_sequence_index)),
            opt_num(record.fine_value.map(f64::from)),
            opt_str(coarse),
            opt_str(decoded),
            JsValue::from_str(&String::from_utf8_lossy(&body)),
        ])?
        .run()
        .await?;
    let stored = result
        .meta()?
        .and_then(|m| m.changes)
        .is_some_and(|n| n > 0);
    // An unknown residency cannot be stored (D1's CHECK); the default is the safe reading.
    let residency: Residency =
        serde_json::from_value(serde_json::Value::String(app.residency.clone()))
            .unwrap_or_default();
    edge_facts::queue(env, &app.id, residency, "skan", vec![for_origin]).await?;
    Ok(response::json(
        200,
        &serde_json::json!({ "ok": true, "duplicate": !stored, "app_id": app.id }),
    )?)
}
