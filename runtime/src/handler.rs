//! The handler: `handle(Request) -> Response`, whatever carries the request
//! (API Gateway through Lambda, or the local HTTP server).

use crate::auth;
use crate::config::{Config, Layout, Origins};
use crate::log::Logger;
use crate::memory::{session_key, Conversations};
use crate::model::{ChatModel, ModelError, Role, Turn};
use crate::rate_limit::{Decision, RateLimiter};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// Without the stage prefix.
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The address API Gateway (or the local server) saw; never a header.
    pub source_ip: String,
    pub request_id: String,
    /// The connection ended before the body its Content-Length announced
    /// (the local server; API Gateway never passes such a request on).
    pub body_incomplete: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
    fn error(status: u16, error: &str, message: impl Into<String>) -> Response {
        Response::json(status, json!({"error": error, "message": message.into()}))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The 500 answer: no detail for the client, ever.
    pub fn internal_error() -> Response {
        Response::error(500, "Internal server error", "An unexpected error occurred")
    }
}

/// Milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    })
}

pub struct App<L, M> {
    pub config: Config,
    pub limiter: L,
    pub model: M,
    /// Conversation memory, when a conversations table is configured.
    pub memory: Option<Conversations>,
    pub logger: Logger,
    pub clock: Clock,
}

/// What the MTA widget sends (API_INTEGRATION.md, "With Conversation
/// Memory"): `session_id` and `conversation_history` beside the message.
const FIELDS: &[&str] = &[
    "message",
    "system_prompt",
    "session_id",
    "conversation_history",
];

/// At most this many earlier turns reach the model (the widget sends its
/// last 5; a longer history is refused, not silently cut).
const MAX_HISTORY: usize = 20;

/// Whether a text shows nothing: only white space and Unicode's default
/// ignorable code points (zero-width space, joiners, word joiner, the byte
/// order mark, soft hyphen, bidirectional controls, variation selectors,
/// tags, Hangul fillers). Such a message would reach the model as an empty
/// one while spending a model call.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace()
            || matches!(c,
                '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
                | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}')
    })
}

/// Whether a Content-Type names JSON: `application/json` or a
/// `application/...+json` type, parameters (`charset`) aside.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// Nesting depth of a JSON text, counted without parsing it, so a deeply
/// nested body is refused before the parser recurses into it.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

struct Chat {
    message: String,
    system_prompt: Option<String>,
    session_id: Option<String>,
    history: Vec<Turn>,
}

impl<L: RateLimiter, M: ChatModel> App<L, M> {
    pub async fn handle(&self, request: Request) -> Response {
        let started = Instant::now();
        let mut decision: Option<Decision> = None;
        let mut response = match (request.method.as_str(), request.path.as_str()) {
            ("OPTIONS", _) => Response {
                status: 204,
                headers: Vec::new(),
                body: String::new(),
            },
            ("GET", "/health") => Response::json(200, json!({"status": "ok"})),
            ("GET", "/ready") => self.ready(&request).await,
            ("POST", "/chat") => self.chat(&request, &mut decision).await,
            (_, "/chat" | "/health" | "/ready") => {
                let mut r = Response::error(
                    405,
                    "Method not allowed",
                    format!("{} is not allowed on {}", request.method, request.path),
                );
                r.headers.push((
                    "allow".into(),
                    if request.path == "/chat" {
                        "POST, OPTIONS"
                    } else {
                        "GET, OPTIONS"
                    }
                    .into(),
                ));
                r
            }
            _ => Response::error(
                404,
                "Not found",
                format!("No route for {} {}", request.method, request.path),
            ),
        };
        self.decorate(&request, &mut response, decision.as_ref());
        self.logger.log(
            if response.status >= 500 { "error" } else { "info" },
            &request.request_id,
            "request",
            json!({"method": request.method, "path": request.path, "status": response.status, "source_ip": request.source_ip, "duration_ms": started.elapsed().as_secs_f64() * 1000.0}),
        );
        response
    }

    fn decorate(&self, request: &Request, response: &mut Response, decision: Option<&Decision>) {
        let limit = self.config.max_requests;
        let remaining = decision.map_or(limit, |d| d.remaining);
        response
            .headers
            .push(("x-ratelimit-limit".into(), limit.to_string()));
        response
            .headers
            .push(("x-ratelimit-remaining".into(), remaining.to_string()));
        response.headers.push((
            "x-ratelimit-window".into(),
            self.config.window_seconds.to_string(),
        ));
        response
            .headers
            .push(("x-request-id".into(), request.request_id.clone()));
        let origin = request.header("origin");
        match (&self.config.cors_origins, origin) {
            (Origins::Any, _) => response
                .headers
                .push(("access-control-allow-origin".into(), "*".into())),
            (Origins::List(allowed), Some(origin))
                if allowed.iter().any(|a| a == origin.trim_end_matches('/')) =>
            {
                response
                    .headers
                    .push(("access-control-allow-origin".into(), origin.to_owned()));
                response.headers.push(("vary".into(), "Origin".into()));
            }
            (Origins::List(_), _) => response.headers.push(("vary".into(), "Origin".into())),
        }
        if request.method == "OPTIONS" {
            response.headers.push((
                "access-control-allow-methods".into(),
                "GET, POST, OPTIONS".into(),
            ));
            response.headers.push((
                "access-control-allow-headers".into(),
                // What the seed's API_INTEGRATION.md lists, and the key.
                "content-type, x-request-id, x-api-key".into(),
            ));
            response
                .headers
                .push(("access-control-max-age".into(), "600".into()));
        }
        response.headers.push(("access-control-expose-headers".into(), "x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-window, retry-after, x-request-id".into()));
    }

    async fn ready(&self, request: &Request) -> Response {
        match self.limiter.probe().await {
            Ok(()) => Response::json(
                200,
                json!({"status": "ready", "checks": {"configuration": "ok", "rate_limit_table": "ok"}}),
            ),
            Err(error) => {
                self.logger.log(
                    "error",
                    &request.request_id,
                    "readiness check failed",
                    json!({"detail": error.message}),
                );
                Response::json(
                    503,
                    json!({"status": "not ready", "checks": {"configuration": "ok", "rate_limit_table": "unreachable"}}),
                )
            }
        }
    }

    async fn chat(&self, request: &Request, decision: &mut Option<Decision>) -> Response {
        let config = &self.config;
        if request.body_incomplete {
            return Response::error(
                400,
                "Bad request",
                "The request body ended before its Content-Length",
            );
        }
        if request.body.len() > config.max_body_bytes {
            return Response::error(
                413,
                "Payload too large",
                format!(
                    "The request body must be at most {} bytes",
                    config.max_body_bytes
                ),
            );
        }
        if !config.api_keys.is_empty()
            && !auth::key_allowed(&config.api_keys, request.header("x-api-key"))
        {
            return Response::error(401, "Unauthorized", "A valid x-api-key header is required");
        }
        // Counted before the body is read: malformed requests cost quota too.
        match self
            .limiter
            .check(&request.source_ip, (self.clock)() / 1000)
            .await
        {
            Ok(d) if !d.allowed => {
                self.logger.rate_limit_hit(
                    &config.metrics_namespace,
                    &config.environment,
                    &request.request_id,
                );
                let mut r = Response::json(
                    429,
                    json!({
                        "error": "Rate limit exceeded",
                        "message": format!("Too many requests. Maximum {} requests per {} seconds.", d.limit, d.window_seconds),
                        "retry_after": d.retry_after,
                    }),
                );
                r.headers
                    .push(("retry-after".into(), d.retry_after.to_string()));
                *decision = Some(d);
                return r;
            }
            Ok(d) => *decision = Some(d),
            Err(error) => {
                let open = config.fail_open;
                self.logger.log(
                    "warn",
                    &request.request_id,
                    if open {
                        "rate limiter failed; serving (fail open)"
                    } else {
                        "rate limiter failed; refusing (fail closed)"
                    },
                    json!({"throttled": error.throttled, "detail": error.message}),
                );
                if !open {
                    let mut r = Response::error(
                        503,
                        "Service unavailable",
                        "The service is busy; please retry shortly",
                    );
                    r.headers.push(("retry-after".into(), "1".into()));
                    return r;
                }
            }
        }
        // No Content-Type is served, as the MTA function serves it; one
        // that is not JSON is refused, so that no page can have browsers
        // spend the model through a form or text/plain post (those skip
        // the CORS preflight).
        if let Some(content_type) = request.header("content-type") {
            if !is_json(content_type) {
                return Response::error(
                    415,
                    "Unsupported media type",
                    "Content-Type must be application/json",
                );
            }
        }
        let chat = match self.parse(&request.body) {
            Ok(chat) => chat,
            Err(response) => return response,
        };
        if config.layout == Layout::Mta {
            if let Some(id) = &chat.session_id {
                if names_another_address(id, &request.source_ip) {
                    return Response::error(
                        400,
                        "Invalid session_id",
                        "\"session_id\" must not be another client's address",
                    );
                }
            }
        }
        let system = match (&chat.system_prompt, config.allow_system_prompt_override) {
            (Some(prompt), true) => prompt.as_str(),
            (Some(_), false) => {
                self.logger.log(
                    "info",
                    &request.request_id,
                    "system_prompt override ignored (ALLOW_SYSTEM_PROMPT_OVERRIDE is off)",
                    json!({}),
                );
                config.system_prompt.as_str()
            }
            (None, _) => config.system_prompt.as_str(),
        };
        // Messages never reach the log: not here, not in the memory's errors.
        let session = session_key(
            config.layout,
            chat.session_id.as_deref(),
            &request.source_ip,
        );
        let mut history = chat.history;
        if let (true, Some(memory)) = (history.is_empty(), &self.memory) {
            match memory.recent(&session).await {
                Ok(turns) => history = turns,
                Err(error) => self.logger.log(
                    "warn",
                    &request.request_id,
                    "conversation memory unreadable; answering without it",
                    json!({"throttled": error.throttled, "detail": error.message}),
                ),
            }
        }
        match self.model.converse(system, &history, &chat.message).await {
            Ok(reply) => {
                if let Some(memory) = &self.memory {
                    let exchange = [
                        Turn {
                            role: Role::User,
                            content: chat.message,
                        },
                        Turn {
                            role: Role::Assistant,
                            content: reply.text.clone(),
                        },
                    ];
                    if let Err(error) = memory.append(&session, (self.clock)(), &exchange).await {
                        self.logger.log(
                            "warn",
                            &request.request_id,
                            "conversation not stored",
                            json!({"throttled": error.throttled, "detail": error.message}),
                        );
                    }
                }
                Response::json(200, json!({"response": reply.text, "model": reply.model}))
            }
            Err(ModelError::Busy { retry_after }) => {
                self.logger.log(
                    "warn",
                    &request.request_id,
                    "model busy",
                    json!({"retry_after": retry_after}),
                );
                let mut r =
                    Response::error(503, "Model busy", "The model is busy; please retry shortly");
                r.headers
                    .push(("retry-after".into(), retry_after.to_string()));
                r
            }
            Err(ModelError::Failed(detail)) => {
                self.logger.log(
                    "error",
                    &request.request_id,
                    "model failed",
                    json!({"detail": detail}),
                );
                Response::error(
                    502,
                    "Model error",
                    "The model could not answer; please try again",
                )
            }
        }
    }

    /// The body: a JSON object with `message` (required), `system_prompt`,
    /// `session_id` and `conversation_history` (optional); any other field
    /// is refused, after a missing message is reported.
    fn parse(&self, body: &[u8]) -> Result<Chat, Response> {
        let config = &self.config;
        // The seed's TESTING.md: malformed JSON is "Request body must be
        // valid JSON"; valid JSON that is not an object says so.
        let not_object =
            || Response::error(400, "Invalid JSON", "Request body must be a JSON object");
        // serde_json refuses more than 128 levels and bodies are small, so
        // parsing first is safe; a body without a message is "Missing
        // message" however deep it is.
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| Response::error(400, "Invalid JSON", "Request body must be valid JSON"))?;
        let Value::Object(object) = value else {
            return Err(not_object());
        };
        // The seed's TESTING.md: a body without `message`, whatever else it
        // carries (`{"foo":"bar"}`), is "Missing message".
        let message = match object.get("message") {
            None | Some(Value::Null) => return Err(missing()),
            Some(Value::String(s)) if is_blank(s) => return Err(missing()),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(Response::error(
                    400,
                    "Invalid message",
                    "\"message\" must be a string",
                ))
            }
        };
        if json_depth(body) > config.max_json_depth {
            return Err(Response::error(
                400,
                "Invalid JSON",
                format!(
                    "Request body is nested more than {} levels deep",
                    config.max_json_depth
                ),
            ));
        }
        if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(Response::error(400, "Unknown field", format!("Unknown field \"{unknown}\": only \"message\", \"system_prompt\", \"session_id\" and \"conversation_history\" are accepted")));
        }
        if message.chars().count() > config.max_message_chars {
            return Err(Response::error(
                400,
                "Message too long",
                format!(
                    "\"message\" must be at most {} characters",
                    config.max_message_chars
                ),
            ));
        }
        let system_prompt = match object.get("system_prompt") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() > config.max_message_chars => {
                return Err(Response::error(
                    400,
                    "System prompt too long",
                    format!(
                        "\"system_prompt\" must be at most {} characters",
                        config.max_message_chars
                    ),
                ));
            }
            Some(Value::String(s)) if is_blank(s) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(Response::error(
                    400,
                    "Invalid system_prompt",
                    "\"system_prompt\" must be a string",
                ))
            }
        };
        let session_id = match object.get("session_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s))
                if !s.is_empty()
                    && s.chars().count() <= 128
                    && !s.chars().any(char::is_control) =>
            {
                Some(s.clone())
            }
            Some(_) => {
                return Err(Response::error(
                    400,
                    "Invalid session_id",
                    "\"session_id\" must be a string of 1 to 128 characters",
                ))
            }
        };
        let invalid_history =
            |detail: String| Response::error(400, "Invalid conversation_history", detail);
        let history = match object.get("conversation_history") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() > MAX_HISTORY => {
                return Err(invalid_history(format!(
                    "\"conversation_history\" holds at most {MAX_HISTORY} messages"
                )))
            }
            Some(Value::Array(items)) => {
                let mut turns = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let role = match item.get("role").and_then(Value::as_str) {
                        Some("user") => Role::User,
                        Some("assistant") => Role::Assistant,
                        _ => {
                            return Err(invalid_history(format!(
                                "message {i}: \"role\" must be \"user\" or \"assistant\""
                            )))
                        }
                    };
                    let content = match item.get("content").and_then(Value::as_str) {
                        Some(c) if c.chars().count() <= config.max_message_chars => c.to_owned(),
                        Some(_) => {
                            return Err(invalid_history(format!(
                                "message {i}: \"content\" must be at most {} characters",
                                config.max_message_chars
                            )))
                        }
                        None => {
                            return Err(invalid_history(format!(
                                "message {i}: \"content\" must be a string"
                            )))
                        }
                    };
                    if !is_blank(&content) {
                        turns.push(Turn { role, content });
                    }
                }
                turns
            }
            Some(_) => {
                return Err(invalid_history(
                    "\"conversation_history\" must be a list of {\"role\", \"content\"}".into(),
                ))
            }
        };
        Ok(Chat {
            message,
            system_prompt,
            session_id,
            history,
        })
    }
}

/// In the MTA layout a conversation without a session id is stored under
/// the client's raw address, so a session id that is another address would
/// read that client's conversation.
fn names_another_address(session_id: &str, source_ip: &str) -> bool {
    match session_id.parse::<std::net::IpAddr>() {
        Ok(named) => source_ip.parse::<std::net::IpAddr>() != Ok(named),
        Err(_) => false,
    }
}

fn missing() -> Response {
    Response::error(
        400,
        "Missing message",
        "Request must include a \"message\" field",
    )
}

/// Runs the handler in its own task: a panic becomes the generic 500, with
/// the detail in the log, never in the answer.
pub async fn handle_safely<L, M>(app: Arc<App<L, M>>, request: Request) -> Response
where
    L: RateLimiter + 'static,
    M: ChatModel + 'static,
{
    let request_id = request.request_id.clone();
    let logger = app.logger.clone();
    match tokio::spawn(async move { app.handle(request).await }).await {
        Ok(response) => response,
        Err(error) => {
            logger.log(
                "error",
                &request_id,
                "handler failed",
                json!({"detail": error.to_string()}),
            );
            Response::internal_error()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_nothing_visible() {
        for blank in [
            "",
            " \t\n",
            "\u{200B}",
            "\u{FEFF}",
            "\u{2060}",
            "\u{200C}\u{200D}",
            "\u{00AD}\u{180E}\u{3164}\u{FE0F}\u{E0041}\u{202E}",
        ] {
            assert!(is_blank(blank), "{blank:?}");
        }
        for text in ["a", "\u{200B}a", "\u{0301}", "\u{1F600}", "\u{2800}"] {
            assert!(!is_blank(text), "{text:?}");
        }
    }

    #[test]
    fn json_media_types() {
        for json in [
            "application/json",
            "Application/JSON; charset=UTF-8",
            " application/json ;charset=utf-8",
            "application/vnd.api+json",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in [
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json(other), "{other}");
        }
    }

    #[test]
    fn only_another_address_is_refused_as_a_session() {
        assert!(names_another_address("192.0.2.11", "192.0.2.10"));
        assert!(names_another_address("2001:db8::1", "192.0.2.10"));
        assert!(!names_another_address("192.0.2.10", "192.0.2.10"));
        assert!(!names_another_address("2001:DB8:0::1", "2001:db8::1"));
        assert!(!names_another_address("unique-user-id", "192.0.2.10"));
        assert!(!names_another_address("session-192.0.2.11", "192.0.2.10"));
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"message": "[[[{{{"}"#), 1);
        assert_eq!(json_depth(br#"{"a": [[{"b": 1}]]}"#), 4);
        assert_eq!(json_depth(br#"{"a": "\"[" }"#), 1);
    }
}
