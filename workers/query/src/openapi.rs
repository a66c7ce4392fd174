//! `GET /openapi.json` (this Worker's API) and `GET /openapi/ingest.json` (the ingest
//! Worker's), compiled in from openapi/ so a deploy always serves the document of its code.

use worker::{Headers, Response};

use crate::error::QueryError;

const QUERY_DOCUMENT: &str = include_str!("../../../openapi/query.json");
const INGEST_DOCUMENT: &str = include_str!("../../../openapi/ingest.json");

pub fn query_document() -> Result<Response, QueryError> {
    document(QUERY_DOCUMENT)
}

pub fn ingest_document() -> Result<Response, QueryError> {
    document(INGEST_DOCUMENT)
}

fn document(text: &'static str) -> Result<Response, QueryError> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    headers.set("access-control-allow-origin", "*")?;
    Ok(Response::ok(text)?.with_headers(headers))
}
