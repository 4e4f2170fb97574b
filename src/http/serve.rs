//! Serving connections: at most `max_connections` at once (past it, a short 503), each
//! given `header_timeout` to send a request's headers (a client that trickles them, or sends
//! half a request line, is closed) and closed when idle that long between requests; on
//! shutdown, requests in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::AppState;
use super::fast::FastProgress;

/// What one instance allows its clients.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// When a client refused for want of room should try again.
const BUSY_RETRY_SECONDS: u64 = 5;

/// Serves `router` (progress reads from memory first) until `stop` completes, then lets the
/// connections in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    state: AppState,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let room = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = room.clone().try_acquire_owned() else {
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let per_connection = router.clone().map_request(move |mut request: axum::extract::Request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let fast = FastProgress::new(per_connection, state.clone());
        let service = TowerToHyperService::new(
            fast.map_request(|request: hyper::Request<Incoming>| request.map(Body::new)),
        );
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Live streams never end on their own: end them, or the shutdown would wait for ever.
    state.live.close_all();
    graceful.shutdown().await;
    Ok(())
}

/// A connection past the cap: a 503 with Retry-After, then closed gently (what the client
/// sent is read away first, so that it sees the answer rather than a reset).
async fn refuse_busy(mut stream: TcpStream) {
    let body = format!(
        "{{\"type\":\"urn:appeal:problem:busy\",\"title\":\"Too many connections\",\"status\":503,\
         \"detail\":\"This server holds as many connections as it may; retry in {BUSY_RETRY_SECONDS} seconds.\"}}"
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\n\
         Retry-After: {BUSY_RETRY_SECONDS}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut sent = [0_u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut sent)).await;
    if stream.write_all(answer.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while matches!(stream.read(&mut sent).await, Ok(read) if read > 0) {}
        })
        .await;
    }
}
