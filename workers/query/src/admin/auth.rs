//! Who is calling the management API: the deployment's admin, or one app's manage key.

use attrib_core::keys::{bearer_token, hash_key, is_admin_token, KeyKind};
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::{config, response};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use crate::error::QueryError;

/// The secret (or var) listing the SHA-256 hex of each admin token, comma separated.
pub const ADMIN_TOKEN_HASHES: &str = "ADMIN_TOKEN_HASHES";

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// The deployment's admin token: every app.
    Admin { actor: String },
    /// An app's manage key: that app only.
    Manage {
        app_id: String,
        key_id: String,
        actor: String,
    },
}

impl Principal {
    pub fn actor(&self) -> &str {
        match self {
            Principal::Admin { actor } | Principal::Manage { actor, .. } => actor,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin { .. })
    }

    /// Refuses an app this principal may not manage (before anything is read about it).
    pub fn may_manage(&self, app_id: &str) -> Result<(), QueryError> {
        match self {
            Principal::Admin { .. } => Ok(()),
            Principal::Manage { app_id: own, .. } if own == app_id => Ok(()),
            Principal::Manage { .. } => Err(QueryError::Forbidden(FieldError::new(
                "app",
                "this manage key belongs to another app",
            ))),
        }
    }

    pub fn must_be_admin(&self, what: &str) -> Result<(), QueryError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(QueryError::Forbidden(FieldError::new(
                "authorization",
                format!("{what} needs the deployment's admin token"),
            )))
        }
    }
}

#[derive(Deserialize)]
struct KeyRow {
    id: String,
    app_id: String,
    kind: String,
}

pub async fn principal(req: &Request, env: &Env) -> Result<Principal, QueryError> {
    let unauthenticated =
        |reason: &str| QueryError::AdminUnauthenticated(FieldError::new("authorization", reason));
    let header = req
        .headers()
        .get("authorization")?
        .ok_or_else(|| unauthenticated("send an admin token or manage key as Bearer"))?;
    let token = bearer_token(&header)
        .ok_or_else(|| unauthenticated("send an admin token or manage key as Bearer"))?;
    let hash = hash_key(token);
    if let Some(hashes) = config::secret(env, ADMIN_TOKEN_HASHES) {
        if is_admin_token(token, &hashes) {
            return Ok(Principal::Admin {
                actor: format!("admin:{}", &hash[..12]),
            });
        }
    }
    let row: Option<KeyRow> = env
        .d1(DB_BINDING)?
        .prepare(
            "SELECT k.id, k.app_id, k.kind FROM api_keys k JOIN apps a ON a.id = k.app_id \
             WHERE k.key_hash = ?1 AND k.revoked_at IS NULL AND a.archived_at IS NULL \
             AND (k.expires_at IS NULL OR k.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        )
        .bind(&[JsValue::from_str(&hash)])?
        .first(None)
        .await?;
    let row = row.ok_or_else(|| unauthenticated("is not a live admin token or manage key"))?;
    match KeyKind::parse(&row.kind) {
        Some(KeyKind::Manage) => Ok(Principal::Manage {
            actor: format!("key:{}", row.id),
            app_id: row.app_id,
            key_id: row.id,
        }),
        _ => Err(QueryError::Forbidden(FieldError::new(
            "authorization",
            format!(
                "a {} key cannot manage; use the app's manage key or the admin token",
                row.kind
            ),
        ))),
    }
}

pub fn whoami(who: &Principal) -> Result<Response, QueryError> {
    Ok(response::json(200, who)?)
}
