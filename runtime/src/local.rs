//! Local mode: the same handler behind an ordinary HTTP/1.1 server.

use crate::handler::{handle_safely, App, Request};
use crate::model::ChatModel;
use crate::rate_limit::RateLimiter;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub fn request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

async fn to_request(
    request: hyper::Request<hyper::body::Incoming>,
    peer: SocketAddr,
    max_body: usize,
) -> Request {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // One byte over the limit is enough for the handler to answer 413.
    let (body, body_incomplete) = match Limited::new(request.into_body(), max_body + 1)
        .collect()
        .await
    {
        Ok(collected) => (collected.to_bytes().to_vec(), false),
        Err(error) if error.is::<LengthLimitError>() => (vec![0; max_body + 1], false),
        // The connection ended (or the chunks broke off) before the body
        // it announced: a bad request, not a large one.
        Err(_) => (Vec::new(), true),
    };
    Request {
        method,
        path,
        headers,
        body,
        source_ip: peer.ip().to_string(),
        request_id: request_id(),
        body_incomplete,
    }
}

pub async fn serve<L, M>(app: Arc<App<L, M>>, listener: TcpListener) -> std::io::Result<()>
where
    L: RateLimiter + 'static,
    M: ChatModel + 'static,
{
    loop {
        let (stream, peer) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move {
                    let max_body = app.config.max_body_bytes;
                    let request = to_request(request, peer, max_body).await;
                    let response = handle_safely(app, request).await;
                    let mut builder = hyper::Response::builder().status(response.status);
                    for (name, value) in &response.headers {
                        builder = builder.header(name, value);
                    }
                    Ok::<_, Infallible>(
                        builder
                            .body(Full::new(Bytes::from(response.body)))
                            .expect("valid response"),
                    )
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
