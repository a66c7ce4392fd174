//! The origin's HTTP/1.1 accept loop. `axum::serve` gives hyper no timer, so hyper's header
//! read timeout never runs there: a client could hold a connection (and a task and a file
//! descriptor) for ever by never finishing its request head, or by opening keep-alive
//! connections and never using them (slowloris; issue 13, finding 8 "no timeouts"). This
//! loop is `axum::serve` with a timer and the head bound ([`crate::limits`]) set.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Serves `app` on `listener` until `stop` turns true (or its sender is dropped), then stops
/// accepting and lets every open connection finish its current request.
///
/// `header_timeout` bounds the time from when a connection is ready for a request head
/// (just accepted, or idle after an answer on a keep-alive connection) until the whole head
/// has arrived; past it hyper closes the connection without an answer. So it is also the idle
/// keep-alive bound.
///
/// At most `max_connections` are open at once: at the bound nothing more is accepted until one
/// closes (the kernel's listen backlog holds the rest).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        if connections.len() >= max_connections.max(1) {
            tokio::select! {
                _ = connections.join_next() => continue,
                stopped = stop.wait_for(|stopped| *stopped) => {
                    let _ = stopped.is_ok();
                    break;
                }
            }
        }
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            stopped = stop.wait_for(|stopped| *stopped) => {
                let _ = stopped.is_ok();
                break;
            }
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: wait instead of spinning, as
                // axum::serve does.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let mut conn_stop = stop.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let stopping = async move {
                // The guard `wait_for` returns is not Send: drop it before awaiting more.
                let _ = conn_stop.wait_for(|stopped| *stopped).await.is_ok();
            };
            let result = tokio::select! {
                result = conn.as_mut() => result,
                () = stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
