//! Structured JSON logs, one object per line with the request id, and the
//! rate-limit-hit metric in CloudWatch embedded metric format (EMF), which
//! CloudWatch turns into a metric from the log alone.

use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub enum Logger {
    Stdout,
    /// For tests: lines kept in memory.
    Memory(Arc<Mutex<Vec<String>>>),
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl Logger {
    pub fn memory() -> (Logger, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Logger::Memory(lines.clone()), lines)
    }

    fn write(&self, line: String) {
        match self {
            Logger::Stdout => println!("{line}"),
            Logger::Memory(lines) => lines.lock().expect("log lock").push(line),
        }
    }

    pub fn log(&self, level: &str, request_id: &str, message: &str, fields: Value) {
        let mut object = Map::new();
        object.insert("timestamp".into(), json!(now_millis()));
        object.insert("level".into(), json!(level));
        object.insert("request_id".into(), json!(request_id));
        object.insert("message".into(), json!(message));
        if let Value::Object(extra) = fields {
            object.extend(extra);
        }
        self.write(Value::Object(object).to_string());
    }

    pub fn rate_limit_hit(&self, namespace: &str, environment: &str, request_id: &str) {
        let line = json!({
            "_aws": {
                "Timestamp": now_millis() as u64,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Environment"]],
                    "Metrics": [{"Name": "RateLimitHits", "Unit": "Count"}],
                }],
            },
            "Environment": environment,
            "RateLimitHits": 1,
            "request_id": request_id,
        });
        self.write(line.to_string());
    }
}
