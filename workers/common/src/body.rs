//! Reading request bodies without ever holding more than a limit in memory.

use futures_util::StreamExt;
use worker::Request;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body could not be read: {0}")]
    Unreadable(String),
}

/// The whole body, or `TooLarge` as soon as it passes `limit` (checked against
/// `Content-Length` first, then while streaming).
pub async fn read_capped(req: &mut Request, limit: usize) -> Result<Vec<u8>, BodyError> {
    let declared = req
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared {
        Some(len) if len > limit => return Err(BodyError::TooLarge { limit }),
        // The declared length frames the body: it cannot be longer, so one read takes it
        // (a stream read costs a round trip to JS per chunk).
        Some(_) => {
            let body = req
                .bytes()
                .await
                .map_err(|e| BodyError::Unreadable(e.to_string()))?;
            return match body.len() > limit {
                true => Err(BodyError::TooLarge { limit }),
                false => Ok(body),
            };
        }
        None => {}
    }
    let mut body = Vec::new();
    let mut stream = match req.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(body),
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
