//! The model behind the chat: Amazon Bedrock's Converse API, or an
//! OpenAI-compatible chat-completions endpoint (for local model servers).

use crate::config::{Config, Provider};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SystemContentBlock,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub text: String,
    pub model: String,
}

#[derive(Debug, PartialEq)]
pub enum ModelError {
    /// The model service is throttling or briefly unavailable: 503.
    Busy { retry_after: u64 },
    /// Anything else: 502, with the detail only in the log.
    Failed(String),
}

/// Who said a turn of the conversation before the new message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

/// The turns a model receives: the history, then the new message, in the
/// shape Converse requires (starting with the user, roles alternating; a
/// role repeated is one turn of both texts).
pub fn conversation(history: &[Turn], message: &str) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    let new = Turn {
        role: Role::User,
        content: message.to_owned(),
    };
    for turn in history.iter().chain(std::iter::once(&new)) {
        if turns.is_empty() && turn.role == Role::Assistant {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == turn.role => {
                last.content.push_str("\n\n");
                last.content.push_str(&turn.content);
            }
            _ => turns.push(turn.clone()),
        }
    }
    turns
}

pub trait ChatModel: Send + Sync {
    /// `history` comes before `message`, oldest first.
    fn converse(
        &self,
        system: &str,
        history: &[Turn],
        message: &str,
    ) -> impl Future<Output = Result<Reply, ModelError>> + Send;
}

/// Seconds a client is asked to wait when the model service is busy and
/// says nothing better.
const BUSY_RETRY_AFTER: u64 = 10;

pub struct Bedrock {
    pub client: aws_sdk_bedrockruntime::Client,
    pub model_id: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub timeout: Duration,
}

impl ChatModel for Bedrock {
    async fn converse(
        &self,
        system: &str,
        history: &[Turn],
        message: &str,
    ) -> Result<Reply, ModelError> {
        let messages = conversation(history, message)
            .into_iter()
            .map(|turn| {
                Message::builder()
                    .role(match turn.role {
                        Role::User => ConversationRole::User,
                        Role::Assistant => ConversationRole::Assistant,
                    })
                    .content(ContentBlock::Text(turn.content))
                    .build()
                    .map_err(|e| ModelError::Failed(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let request = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(system.to_owned()))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(self.max_tokens as i32)
                    .temperature(self.temperature)
                    .build(),
            )
            .send();
        let output = match tokio::time::timeout(self.timeout, request).await {
            Err(_) => {
                return Err(ModelError::Failed(format!(
                    "no answer within {:?}",
                    self.timeout
                )))
            }
            Ok(Err(error)) => {
                let service = error.as_service_error();
                if service.is_some_and(|e| {
                    e.is_throttling_exception()
                        || e.is_service_unavailable_exception()
                        || e.is_model_not_ready_exception()
                }) {
                    return Err(ModelError::Busy {
                        retry_after: BUSY_RETRY_AFTER,
                    });
                }
                return Err(ModelError::Failed(
                    aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
                ));
            }
            Ok(Ok(output)) => output,
        };
        let text = match output.output() {
            Some(ConverseOutput::Message(message)) => message
                .content()
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        if text.is_empty() {
            return Err(ModelError::Failed("the model returned no text".into()));
        }
        Ok(Reply {
            text,
            model: self.model_id.clone(),
        })
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub struct OpenAi {
    client: HttpClient,
    base_url: String,
    api_key: Option<String>,
    model: String,
    max_tokens: u32,
    temperature: f32,
    timeout: Duration,
}

impl OpenAi {
    pub fn new(base_url: &str, api_key: Option<String>, config: &Config) -> Result<OpenAi, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot load the system's TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(OpenAi {
            client,
            base_url: base_url.to_owned(),
            api_key,
            model: config.model_id.clone(),
            max_tokens: config.max_tokens,
            temperature: config.temperature,
            timeout: config.model_timeout,
        })
    }

    async fn call(
        &self,
        system: &str,
        history: &[Turn],
        message: &str,
    ) -> Result<Reply, ModelError> {
        let mut messages = vec![serde_json::json!({"role": "system", "content": system})];
        messages.extend(
            conversation(history, message)
                .into_iter()
                .map(|t| serde_json::json!({"role": t.role.as_str(), "content": t.content})),
        );
        let body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        });
        let mut request = hyper::Request::post(format!("{}/chat/completions", self.base_url))
            .header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| ModelError::Failed(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| ModelError::Failed(format!("model endpoint unreachable: {e}")))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(BUSY_RETRY_AFTER);
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ModelError::Failed(e.to_string()))?
            .to_bytes();
        if status.as_u16() == 429 || status.as_u16() == 503 {
            return Err(ModelError::Busy { retry_after });
        }
        if !status.is_success() {
            return Err(ModelError::Failed(format!(
                "model endpoint answered {status}"
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ModelError::Failed(format!("model answer is not JSON: {e}")))?;
        let text = value["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if text.is_empty() {
            return Err(ModelError::Failed("the model returned no text".into()));
        }
        let model = value["model"].as_str().unwrap_or(&self.model).to_owned();
        Ok(Reply { text, model })
    }
}

impl ChatModel for OpenAi {
    async fn converse(
        &self,
        system: &str,
        history: &[Turn],
        message: &str,
    ) -> Result<Reply, ModelError> {
        match tokio::time::timeout(self.timeout, self.call(system, history, message)).await {
            Ok(result) => result,
            Err(_) => Err(ModelError::Failed(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

/// The configured model.
pub enum Model {
    Bedrock(Bedrock),
    OpenAi(Box<OpenAi>),
}

impl Model {
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Result<Model, String> {
        Ok(match &config.provider {
            Provider::Bedrock => Model::Bedrock(Bedrock {
                client: aws_sdk_bedrockruntime::Client::new(aws),
                model_id: config.model_id.clone(),
                max_tokens: config.max_tokens,
                temperature: config.temperature,
                timeout: config.model_timeout,
            }),
            Provider::OpenAi { base_url, api_key } => {
                Model::OpenAi(Box::new(OpenAi::new(base_url, api_key.clone(), config)?))
            }
        })
    }
}

impl ChatModel for Model {
    async fn converse(
        &self,
        system: &str,
        history: &[Turn],
        message: &str,
    ) -> Result<Reply, ModelError> {
        match self {
            Model::Bedrock(model) => model.converse(system, history, message).await,
            Model::OpenAi(model) => model.converse(system, history, message).await,
        }
    }
}
