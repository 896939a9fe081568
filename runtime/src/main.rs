use chat_runtime::{build_app, handler, lambda, local};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::process::ExitCode;

const USAGE: &str = "usage:
  chat-runtime                      run as the Lambda function (inside AWS Lambda)
  chat-runtime serve [--port N] [--host ADDRESS]
                                    serve the same handler over HTTP (default 127.0.0.1:8080)
configuration: environment variables, see runtime/README.md";

#[tokio::main]
async fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let serve = arguments.first().map(String::as_str) == Some("serve");
    if !serve && (!arguments.is_empty() || std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none()) {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let app = match build_app().await {
        Ok(app) => app,
        Err(message) => {
            eprintln!("chat-runtime: {message}");
            return ExitCode::from(2);
        }
    };
    if serve {
        let mut port = 8080u16;
        let mut host = "127.0.0.1".to_owned();
        let mut rest = arguments[1..].iter();
        while let Some(flag) = rest.next() {
            match (flag.as_str(), rest.next()) {
                ("--port", Some(value)) => match value.parse() {
                    Ok(p) => port = p,
                    Err(_) => {
                        eprintln!("chat-runtime: --port expects a number\n{USAGE}");
                        return ExitCode::from(2);
                    }
                },
                ("--host", Some(value)) => host = value.clone(),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        let listener = match tokio::net::TcpListener::bind((host.as_str(), port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("chat-runtime: cannot listen on {host}:{port}: {error}");
                return ExitCode::from(1);
            }
        };
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        app.logger.log(
            "info",
            "init",
            "listening",
            serde_json::json!({"address": format!("http://{address}")}),
        );
        if let Err(error) = local::serve(app, listener).await {
            eprintln!("chat-runtime: {error}");
            return ExitCode::from(1);
        }
        return ExitCode::SUCCESS;
    }
    let result = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move {
            let response =
                match lambda::request_from_event(&event.payload, &event.context.request_id) {
                    Ok(request) => handler::handle_safely(app, request).await,
                    Err(detail) => {
                        app.logger.log(
                            "error",
                            &event.context.request_id,
                            "unreadable event",
                            serde_json::json!({"detail": detail}),
                        );
                        handler::Response::internal_error()
                    }
                };
            Ok::<Value, lambda_runtime::Error>(lambda::response_to_event(&response))
        }
    }))
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat-runtime: {error}");
            ExitCode::from(1)
        }
    }
}
