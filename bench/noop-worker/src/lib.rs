//! A Rust Worker that does nothing but read the request body and answer 200: the baseline
//! the ingest Worker's throughput is compared with (scripts/bench-edge.sh), built with the
//! same toolchain and profile and run on the same workerd.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let body = req.bytes().await?;
    Response::ok(format!("{{\"success\":true,\"bytes\":{}}}", body.len()))
}
