//! `/admin/v1/apps/{app}/settings`: GET the settings document, PATCH it with a JSON
//! merge-patch (RFC 7396; `null` resets a field to its default). Checked by
//! `attrib_core::manage::SettingsDoc`, which runs the validation the edge runs when it loads
//! the app. The edge sees a change within the settings cache time (60 s).

use attrib_core::manage::SettingsDoc;
use attrib_worker_common::apps;
use serde_json::{json, Value};
use worker::Response;

use super::write::{answer, check_expected, commit, load_app, num, opt, stmt, text, Audit};
use super::Cx;
use crate::error::QueryError;

async fn current(cx: &Cx<'_>, app_id: &str) -> Result<SettingsDoc, QueryError> {
    let settings = apps::app_settings(cx.env, app_id)
        .await?
        .ok_or_else(|| QueryError::Missing(format!("no app {app_id}")))?;
    let mut doc = SettingsDoc::of(&settings);
    doc.mobile = apps::app_mobile(cx.env, app_id).await?;
    doc.reporting_currency = crate::reporting::currency_of(cx.env, app_id).await?;
    Ok(doc)
}

fn view(app_id: &str, version: i64, doc: &SettingsDoc) -> Value {
    json!({ "app_id": app_id, "version": version, "settings": doc })
}

pub async fn show(cx: &Cx<'_>, app_id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let doc = current(cx, app_id).await?;
    answer(200, &view(app_id, app.version(), &doc), app.version())
}

pub async fn update(
    cx: &Cx<'_>,
    app_id: &str,
    patch: Value,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let before = current(cx, app_id).await?;
    let after = before.patched(&patch).map_err(QueryError::BadField)?;
    let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    let fraud = serde_json::to_string(&after.fraud_rules).unwrap_or_else(|_| "{}".into());
    let mobile = serde_json::to_string(&after.mobile).unwrap_or_else(|_| "{}".into());
    let consent = serde_json::to_string(&after.consent).unwrap_or_else(|_| "{}".into());
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "UPDATE apps SET residency = ?2, click_window_secs = ?3, view_window_secs = ?4, \
             reattribution_window_secs = ?5, reengagement_window_secs = ?6, default_model = ?7, \
             time_decay_half_life_secs = ?8, conversion_events = ?9, lifecycle_events = ?10, \
             fraud_rules = ?11, rate_limit_tier = ?12, mobile = ?13, reporting_currency = ?14, \
             ip_handling = ?15, consent = ?16, retention_days = ?17 WHERE id = ?1",
            &[
                text(app_id),
                text(after.residency.as_str()),
                num(i64::from(after.click_window_secs)),
                num(i64::from(after.view_window_secs)),
                num(i64::from(after.reattribution_window_secs)),
                num(i64::from(after.reengagement_window_secs)),
                text(after.default_model.as_str()),
                num(i64::from(after.time_decay_half_life_secs)),
                text(&list(&after.conversion_events)),
                text(&list(&after.lifecycle_events)),
                text(&fraud),
                text(after.rate_limit_tier.as_str()),
                text(&mobile),
                opt(after.reporting_currency.as_deref()),
                text(after.ip_handling.as_str()),
                text(&consent),
                num(i64::from(after.retention_days)),
            ],
        )?],
        Audit {
            action: "settings.update",
            resource: format!("apps/{app_id}/settings"),
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&after).ok(),
        },
        None,
    )
    .await?;
    answer(200, &view(app_id, version, &after), version)
}
