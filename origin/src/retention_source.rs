//! Where the origin learns each app's `retention_days` (issue 12): the query Worker's signed
//! `GET /internal/retention` (attrib_core::app_retention), read page by page with the rollup
//! keys, at most [`MAX_RETENTION_APPS`] apps and [`MAX_RETENTION_PAGE_BYTES`] per answer.

use std::time::Duration;

use attrib_core::app_retention::{AppRetention, RetentionPage, AFTER_PARAM, RETENTION_PATH};
use attrib_core::limits::{MAX_RETENTION_APPS, RETENTION_APPS_PER_PAGE};
use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::signing::Keyring;

use crate::limits::MAX_RETENTION_PAGE_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum RetentionSourceError {
    #[error("bad QUERY_WORKER_URL: {0}")]
    Url(String),
    #[error("retention read from the query Worker failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the query Worker answered {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("the query Worker's retention answer is invalid: {0}")]
    Invalid(String),
}

/// The query Worker's retention read.
#[derive(Clone)]
pub struct WorkerRetention {
    client: reqwest::Client,
    url: reqwest::Url,
    keys: Keyring,
}

impl WorkerRetention {
    pub fn new(base: &reqwest::Url, keys: &Keyring) -> Result<Self, RetentionSourceError> {
        let url = base
            .join(RETENTION_PATH)
            .map_err(|e| RetentionSourceError::Url(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(WorkerRetention {
            client,
            url,
            keys: keys.clone(),
        })
    }

    /// Every app's days, following pages up to [`MAX_RETENTION_APPS`] apps.
    pub async fn fetch(&self) -> Result<AppRetention, RetentionSourceError> {
        let mut known = AppRetention::default();
        let mut after: Option<String> = None;
        // Each page names at least one new app (the cursor only moves forward), so this bounds
        // the loop even against a misbehaving answer.
        for _ in 0..=MAX_RETENTION_APPS / RETENTION_APPS_PER_PAGE {
            let page = self.page(after.as_deref()).await?;
            if page.apps.len() > RETENTION_APPS_PER_PAGE {
                return Err(RetentionSourceError::Invalid(format!(
                    "{} apps in one page, more than {RETENTION_APPS_PER_PAGE}",
                    page.apps.len()
                )));
            }
            let next = known.add(page);
            match next {
                Some(next) if after.as_ref().is_none_or(|a| next > *a) => after = Some(next),
                Some(next) => {
                    return Err(RetentionSourceError::Invalid(format!(
                        "the cursor {next:?} does not move forward"
                    )))
                }
                None => return Ok(known),
            }
        }
        known.complete = false;
        Ok(known)
    }

    async fn page(&self, after: Option<&str>) -> Result<RetentionPage, RetentionSourceError> {
        let mut url = self.url.clone();
        if let Some(after) = after {
            url.query_pairs_mut().append_pair(AFTER_PARAM, after);
        }
        // The path and query exactly as sent are signed (the Worker checks both).
        let signed_path = match url.query() {
            Some(query) => format!("{RETENTION_PATH}?{query}"),
            None => RETENTION_PATH.to_owned(),
        };
        let signature = self
            .keys
            .sign(chrono::Utc::now().timestamp(), "GET", &signed_path, b"");
        let mut response = self
            .client
            .get(url)
            .header(SIGNATURE_HEADER, signature)
            .send()
            .await?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RETENTION_PAGE_BYTES {
                return Err(RetentionSourceError::Invalid(format!(
                    "the answer is larger than {MAX_RETENTION_PAGE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(RetentionSourceError::Rejected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| RetentionSourceError::Invalid(e.to_string()))
    }
}
