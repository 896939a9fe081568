//! What the end-to-end tests share: moto on a free loopback port, the
//! cairn binary run in its own state directory.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod by_hand;
mod crash;
mod inventory;
mod lives;
mod proxy;
mod stacks;
#[allow(unused_imports)]
pub use by_hand::*;
#[allow(unused_imports)]
pub use crash::*;
#[allow(unused_imports)]
pub use inventory::*;
#[allow(unused_imports)]
pub use lives::*;
#[allow(unused_imports)]
pub use proxy::*;
#[allow(unused_imports)]
pub use stacks::*;

/// The package's directory as cargo gives it when it runs the test: a test
/// binary built in another checkout of the same target directory (cargo
/// reuses it when the sources are older) must not look there.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

/// The target directory (target/debug/cairn → target).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_cairn"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_owned()
}

/// A virtualenv `name` in the target directory holding `packages` from
/// PyPI: made on first use, kept between runs (a file named after the
/// packages marks it complete).
pub fn python_tools(name: &str, packages: &[&str]) -> PathBuf {
    let venv = target_dir().join(name);
    let done = venv.join(packages.join(" "));
    if done.exists() {
        return venv;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |command: &mut Command| {
        let status = command.status().expect("python3 runs");
        assert!(status.success(), "{command:?} failed");
    };
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(packages));
    std::fs::write(&done, "").unwrap();
    venv
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (scripts/test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Test {
    pub moto: Option<Moto>,
    pub directory: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Test {
    pub fn new() -> Test {
        Test {
            moto: Some(Moto::start()),
            directory: tempfile::tempdir().unwrap(),
        }
    }
    pub fn offline() -> Test {
        Test {
            moto: None,
            directory: tempfile::tempdir().unwrap(),
        }
    }
    pub fn state_dir(&self) -> PathBuf {
        self.directory.path().join("state")
    }
    pub fn endpoint(&self) -> String {
        self.moto
            .as_ref()
            .map_or("http://127.0.0.1:9".into(), |m| m.endpoint.clone())
    }
    pub fn cairn(&self, args: &[&str]) -> Run {
        self.cairn_with(args, &[])
    }
    pub fn command(&self, args: &[&str]) -> Command {
        // CAIRN_TEST_BIN: another build of cairn (the benchmarks measure a
        // release build with the tests' harness).
        let binary = std::env::var("CAIRN_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cairn").to_owned());
        let mut command = Command::new(binary);
        command
            .current_dir(manifest_dir())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--no-color")
            .args(args)
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null());
        command
    }
    pub fn cairn_with(&self, args: &[&str], environment: &[(&str, &str)]) -> Run {
        let output: Output = self
            .command(args)
            .envs(environment.iter().copied())
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.cairn(args);
        assert_eq!(
            run.code, 0,
            "cairn {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }
    pub async fn aws(&self) -> cairn::aws::Aws {
        let settings = cairn::aws::Settings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.endpoint()),
        };
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        cairn::aws::Aws::connect(&settings).await.unwrap()
    }
}

/// A zip of one executable `bootstrap` holding `content`, in `directory`.
pub fn write_zip(directory: &std::path::Path, name: &str, content: &[u8]) -> String {
    let path = directory.join(name);
    std::fs::write(
        &path,
        cairn::package::reproducible_zip(&[("bootstrap", content, true)]),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}
