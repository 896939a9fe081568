//! API Gateway HTTP API (payload format 2.0) events in and out.

use crate::handler::{Request, Response};
use base64::Engine;
use serde_json::{json, Map, Value};

pub fn request_from_event(event: &Value, invocation_id: &str) -> Result<Request, String> {
    let context = &event["requestContext"];
    let method = context["http"]["method"].as_str().ok_or(
        "event has no requestContext.http.method: is this an HTTP API (payload 2.0) event?",
    )?;
    let mut path = event["rawPath"]
        .as_str()
        .or_else(|| context["http"]["path"].as_str())
        .unwrap_or("/")
        .to_owned();
    if let Some(stage) = context["stage"].as_str().filter(|s| *s != "$default") {
        if let Some(rest) = path.strip_prefix(&format!("/{stage}")) {
            if rest.is_empty() || rest.starts_with('/') {
                path = if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                };
            }
        }
    }
    let headers = event["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = match event["body"].as_str() {
        None => Vec::new(),
        Some(text) if event["isBase64Encoded"].as_bool().unwrap_or(false) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("body is not valid base64: {e}"))?
        }
        Some(text) => text.as_bytes().to_vec(),
    };
    Ok(Request {
        method: method.to_ascii_uppercase(),
        path,
        headers,
        body,
        source_ip: context["http"]["sourceIp"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        request_id: context["requestId"]
            .as_str()
            .unwrap_or(invocation_id)
            .to_owned(),
        body_incomplete: false,
    })
}

pub fn response_to_event(response: &Response) -> Value {
    let mut headers = Map::new();
    for (name, value) in &response.headers {
        match headers.get_mut(name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                headers.insert(name.clone(), Value::String(value.clone()));
            }
        }
    }
    json!({
        "statusCode": response.status,
        "headers": headers,
        "body": response.body,
        "isBase64Encoded": false,
    })
}
