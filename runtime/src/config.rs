//! Configuration from environment variables, the same locally and on
//! Lambda. Invalid configuration fails at start, naming the variable.

use std::fmt;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq)]
pub enum Origins {
    Any,
    List(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Provider {
    Bedrock,
    /// An OpenAI-compatible chat-completions endpoint.
    OpenAi {
        base_url: String,
        api_key: Option<String>,
    },
}

/// How items are keyed in the two tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// cairn's stacks: rate-limit range key `window_start` (N, the window's
    /// first second); sessions stored as `s#<id>` or `ip#<hash>`.
    Cairn,
    /// The MTA Terraform's tables and its Python function's items:
    /// rate-limit range key `minute_bucket` (S, the window's number since
    /// the epoch); sessions stored as the raw id, or the raw address.
    Mta,
}

#[derive(Clone, PartialEq)]
pub struct Config {
    pub table: String,
    pub layout: Layout,
    pub max_requests: u32,
    pub window_seconds: u64,
    /// Serve when DynamoDB fails (true) or answer 503 (false, the default:
    /// the limiter protects the model bill).
    pub fail_open: bool,
    pub provider: Provider,
    pub model_id: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub model_timeout: Duration,
    pub system_prompt: String,
    pub allow_system_prompt_override: bool,
    pub cors_origins: Origins,
    /// Empty: API-key mode is off.
    pub api_keys: Vec<String>,
    pub max_body_bytes: usize,
    pub max_message_chars: usize,
    pub max_json_depth: usize,
    pub metrics_namespace: String,
    pub environment: String,
    /// Conversation memory: off when no table is configured.
    pub conversations_table: Option<String>,
    /// Messages read back when a request carries no history.
    pub memory_messages: u32,
    pub memory_ttl_days: u64,
    /// MTA variable names set to another value than cairn's own name for
    /// the same setting, which wins (logged at start).
    pub shadowed: Vec<&'static str>,
}

impl fmt::Debug for Config {
    // Keys never reach a log, even through Debug.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("layout", &self.layout)
            .field("conversations_table", &self.conversations_table)
            .field("max_requests", &self.max_requests)
            .field("window_seconds", &self.window_seconds)
            .field("model_id", &self.model_id)
            .field("api_keys", &format!("{} configured", self.api_keys.len()))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "invalid configuration: {}: {}",
            self.variable, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_MODEL: &str = "openai.gpt-oss-120b-1:0";
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant for Medical Tech Aesthetic. Answer questions about its services briefly and politely. Do not give medical diagnoses.";

fn error(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// cairn's variable names and the MTA function's names for the same
/// settings (its Terraform module `lambda_chat`). cairn's name wins when
/// both are set.
const MTA_NAMES: &[(&str, &str)] = &[
    ("RATE_LIMIT_TABLE", "RATELIMIT_TABLE_NAME"),
    ("RATE_LIMIT_MAX_REQUESTS", "RATE_LIMIT_MAX"),
    ("RATE_LIMIT_WINDOW_SECONDS", "RATE_LIMIT_WINDOW"),
    ("MODEL_ID", "BEDROCK_MODEL_ID"),
    ("CONVERSATIONS_TABLE", "CONVERSATIONS_TABLE_NAME"),
];

struct Reader<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
    /// The variable that holds a setting, cairn's name first, then the
    /// MTA function's name for it.
    fn name(&self, name: &'static str) -> &'static str {
        match MTA_NAMES.iter().find(|(own, _)| *own == name) {
            Some((own, mta)) if self.raw(own).is_none() && self.raw(mta).is_some() => mta,
            _ => name,
        }
    }
    fn text(&self, name: &'static str) -> Option<String> {
        self.raw(self.name(name))
    }
    fn number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
        &self,
        name: &'static str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let name = self.name(name);
        match self.raw(name) {
            None => Ok(default),
            Some(v) => match v.parse::<T>() {
                Ok(n) if n >= min && n <= max => Ok(n),
                Ok(n) => Err(error(name, format!("{n} is outside {min}..={max}"))),
                Err(_) => Err(error(name, format!("`{v}` is not a number"))),
            },
        }
    }
    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
            Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
            Some(v) => Err(error(name, format!("`{v}` is not true or false"))),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let r = Reader(lookup);
        let table = r.text("RATE_LIMIT_TABLE").ok_or_else(|| {
            error(
                "RATE_LIMIT_TABLE",
                "is required: the DynamoDB table for per-IP counters (or RATELIMIT_TABLE_NAME, the MTA function's name for it)",
            )
        })?;
        // Explicit, never probed: DescribeTable would cost a call at every
        // cold start and the MTA function's role does not grant it. Without
        // TABLE_LAYOUT, the variable that named the table says whose tables
        // these are.
        let layout = match r.raw("TABLE_LAYOUT").map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "cairn" => Layout::Cairn,
            Some(v) if v == "mta" => Layout::Mta,
            Some(v) => return Err(error("TABLE_LAYOUT", format!("`{v}` is not cairn or mta"))),
            None if r.name("RATE_LIMIT_TABLE") == "RATELIMIT_TABLE_NAME" => Layout::Mta,
            None => Layout::Cairn,
        };
        let shadowed = MTA_NAMES
            .iter()
            .filter(|(own, mta)| {
                r.raw(own).is_some() && r.raw(mta).is_some_and(|v| r.raw(own) != Some(v))
            })
            .map(|(_, mta)| *mta)
            .collect();
        let provider = match r.text("MODEL_PROVIDER").as_deref().unwrap_or("bedrock") {
            "bedrock" => Provider::Bedrock,
            "openai" => {
                let base_url = r.text("OPENAI_BASE_URL").ok_or_else(|| {
                    error("OPENAI_BASE_URL", "is required with MODEL_PROVIDER=openai")
                })?;
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    return Err(error(
                        "OPENAI_BASE_URL",
                        format!("`{base_url}` is not an http(s) URL"),
                    ));
                }
                Provider::OpenAi {
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    api_key: r.text("OPENAI_API_KEY"),
                }
            }
            other => {
                return Err(error(
                    "MODEL_PROVIDER",
                    format!("`{other}` is not bedrock or openai"),
                ))
            }
        };
        let cors_origins = match r.text("CORS_ALLOW_ORIGINS").as_deref().unwrap_or("*") {
            "*" => Origins::Any,
            list => {
                let origins: Vec<String> = list
                    .split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect();
                if let Some(bad) = origins
                    .iter()
                    .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
                {
                    return Err(error(
                        "CORS_ALLOW_ORIGINS",
                        format!("`{bad}` is not an origin like https://example.com"),
                    ));
                }
                Origins::List(origins)
            }
        };
        let api_keys: Vec<String> = r
            .text("API_KEYS")
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(short) = api_keys.iter().find(|k| k.len() < 16) {
            return Err(error(
                "API_KEYS",
                format!(
                    "a key of {} characters is too short to be a secret (16 at least)",
                    short.len()
                ),
            ));
        }
        let temperature: f32 = r.number("MODEL_TEMPERATURE", 0.7, 0.0, 1.0)?;
        Ok(Config {
            table,
            layout,
            max_requests: r.number("RATE_LIMIT_MAX_REQUESTS", 10, 1, 1_000_000)?,
            window_seconds: r.number("RATE_LIMIT_WINDOW_SECONDS", 60, 1, 86_400)?,
            fail_open: r.flag("RATE_LIMIT_FAIL_OPEN", false)?,
            provider,
            model_id: r
                .text("MODEL_ID")
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            max_tokens: r.number("MODEL_MAX_TOKENS", 1024, 1, 100_000)?,
            temperature,
            model_timeout: Duration::from_secs_f64(r.number(
                "MODEL_TIMEOUT_SECONDS",
                25.0,
                0.1,
                900.0,
            )?),
            system_prompt: r
                .text("SYSTEM_PROMPT")
                .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_owned()),
            allow_system_prompt_override: r.flag("ALLOW_SYSTEM_PROMPT_OVERRIDE", false)?,
            cors_origins,
            api_keys,
            max_body_bytes: r.number("MAX_BODY_BYTES", 16 * 1024, 64, 6 * 1024 * 1024)?,
            max_message_chars: r.number("MAX_MESSAGE_CHARS", 4000, 1, 100_000)?,
            max_json_depth: r.number("MAX_JSON_DEPTH", 4, 1, 64)?,
            metrics_namespace: r
                .text("METRICS_NAMESPACE")
                .unwrap_or_else(|| "MtaChat".to_owned()),
            environment: r.text("ENVIRONMENT").unwrap_or_else(|| "dev".to_owned()),
            conversations_table: r.text("CONVERSATIONS_TABLE"),
            memory_messages: r.number("CONVERSATION_MEMORY_MESSAGES", 5, 1, 20)?,
            memory_ttl_days: r.number("CONVERSATION_TTL_DAYS", 30, 1, 3650)?,
            shadowed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = config(&[("RATE_LIMIT_TABLE", "t")]).unwrap();
        assert_eq!((c.max_requests, c.window_seconds), (10, 60));
        assert_eq!(c.model_id, DEFAULT_MODEL);
        assert!(!c.fail_open && !c.allow_system_prompt_override);
        assert_eq!(c.cors_origins, Origins::Any);
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[]).unwrap_err().variable, "RATE_LIMIT_TABLE");
        assert_eq!(
            config(&[
                ("RATE_LIMIT_TABLE", "t"),
                ("RATE_LIMIT_MAX_REQUESTS", "ten")
            ])
            .unwrap_err()
            .variable,
            "RATE_LIMIT_MAX_REQUESTS"
        );
        assert_eq!(
            config(&[
                ("RATE_LIMIT_TABLE", "t"),
                ("CORS_ALLOW_ORIGINS", "example.com")
            ])
            .unwrap_err()
            .variable,
            "CORS_ALLOW_ORIGINS"
        );
        assert_eq!(
            config(&[("RATE_LIMIT_TABLE", "t"), ("API_KEYS", "short")])
                .unwrap_err()
                .variable,
            "API_KEYS"
        );
        assert_eq!(
            config(&[("RATE_LIMIT_TABLE", "t"), ("MODEL_PROVIDER", "openai")])
                .unwrap_err()
                .variable,
            "OPENAI_BASE_URL"
        );
        assert_eq!(
            config(&[("RATELIMIT_TABLE_NAME", "t"), ("RATE_LIMIT_MAX", "ten")])
                .unwrap_err()
                .variable,
            "RATE_LIMIT_MAX"
        );
        assert_eq!(
            config(&[("RATE_LIMIT_TABLE", "t"), ("TABLE_LAYOUT", "python")])
                .unwrap_err()
                .variable,
            "TABLE_LAYOUT"
        );
        let shown = format!(
            "{:?}",
            config(&[
                ("RATE_LIMIT_TABLE", "t"),
                ("API_KEYS", "0123456789abcdef-secret")
            ])
            .unwrap()
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    /// The environment the MTA Terraform's `lambda_chat` module gives its
    /// function (envs/dev values).
    const MTA: &[(&str, &str)] = &[
        ("BEDROCK_MODEL_ID", "openai.gpt-oss-120b-1:0"),
        ("RATELIMIT_TABLE_NAME", "mta-chat-ratelimit-dev"),
        ("CONVERSATIONS_TABLE_NAME", "mta-chat-conversations-dev"),
        ("RATE_LIMIT_WINDOW", "30"),
        ("RATE_LIMIT_MAX", "15"),
    ];

    #[test]
    fn the_mta_functions_variables_configure_it_with_the_mta_layout() {
        let c = config(MTA).unwrap();
        assert_eq!(c.table, "mta-chat-ratelimit-dev");
        assert_eq!(
            c.conversations_table.as_deref(),
            Some("mta-chat-conversations-dev")
        );
        assert_eq!((c.max_requests, c.window_seconds), (15, 30));
        assert_eq!(c.model_id, "openai.gpt-oss-120b-1:0");
        assert_eq!(c.layout, Layout::Mta);
        assert!(c.shadowed.is_empty());
        // cairn's own names: cairn's layout.
        assert_eq!(
            config(&[("RATE_LIMIT_TABLE", "t")]).unwrap().layout,
            Layout::Cairn
        );
        // TABLE_LAYOUT decides whatever named the table.
        let explicit = config(&[("RATE_LIMIT_TABLE", "t"), ("TABLE_LAYOUT", "MTA")]).unwrap();
        assert_eq!(explicit.layout, Layout::Mta);
        let mut mixed = MTA.to_vec();
        mixed.push(("TABLE_LAYOUT", "cairn"));
        assert_eq!(config(&mixed).unwrap().layout, Layout::Cairn);
    }

    #[test]
    fn cairns_names_win_over_the_mta_functions() {
        let mut both = MTA.to_vec();
        both.extend([
            ("RATE_LIMIT_TABLE", "cairn-rate-limit"),
            ("RATE_LIMIT_MAX_REQUESTS", "10"),
            ("MODEL_ID", "openai.gpt-oss-120b-1:0"),
        ]);
        let c = config(&both).unwrap();
        assert_eq!(c.table, "cairn-rate-limit");
        assert_eq!((c.max_requests, c.window_seconds), (10, 30));
        // The table was named by cairn's variable: cairn's layout.
        assert_eq!(c.layout, Layout::Cairn);
        // Same value under both names: nothing was overridden.
        assert_eq!(c.shadowed, ["RATELIMIT_TABLE_NAME", "RATE_LIMIT_MAX"]);
    }
}
