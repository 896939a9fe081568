//! Builds a function's code and packages it: a release build for Lambda's
//! architecture, the binary checked against Amazon Linux 2023's glibc, and
//! a reproducible zip (fixed timestamps, fixed modes, sorted entries) whose
//! hash is Lambda's `CodeSha256`.

mod cache;

use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `provided.al2023` ships glibc 2.34; a binary needing newer symbols fails
/// only once it runs on AWS.
pub const MAX_GLIBC: (u32, u32) = (2, 34);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn parse(text: &str) -> Option<Architecture> {
        match text {
            "x86_64" => Some(Architecture::X86_64),
            "arm64" => Some(Architecture::Arm64),
            _ => None,
        }
    }
    pub fn triple(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    pub path: PathBuf,
    /// Base64 SHA-256 of the zip: what Lambda reports as `CodeSha256`.
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Build(String),
    #[error("{path}: {message}")]
    Binary { path: String, message: String },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// A zip with the given entries (name, bytes, executable), sorted by name,
/// every timestamp 1980-01-01 00:00, modes 0755 or 0644: the same input
/// gives the same bytes.
pub fn reproducible_zip(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
    const DOS_DATE: u16 = 1 << 5 | 1; // 1980-01-01
    const DOS_TIME: u16 = 0;
    let mut sorted: Vec<&(&str, &[u8], bool)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, executable) in sorted {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(data).expect("writing to memory");
        let compressed = encoder.finish().expect("writing to memory");
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let mode: u32 = if *executable { 0o100755 } else { 0o100644 };
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&DOS_TIME.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&compressed);
        // Its central directory record: made by Unix, so the mode counts.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&8u16.to_le_bytes());
        central.extend_from_slice(&DOS_TIME.to_le_bytes());
        central.extend_from_slice(&DOS_DATE.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&(mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len() as u32;
    let count = entries.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The newest `GLIBC_x.y` version a 64-bit little-endian ELF binary needs,
/// from its version-needs section; `None` for a binary that needs no glibc
/// (static, musl).
pub fn newest_glibc(elf: &[u8]) -> Result<Option<(u32, u32)>, String> {
    if elf.get(0..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(
            "not a 64-bit little-endian ELF executable (Lambda runs Linux binaries)".into(),
        );
    }
    let bad = || "malformed ELF section table".to_owned();
    let section_offset = u64_at(elf, 0x28).ok_or_else(bad)? as usize;
    let entry_size = u16_at(elf, 0x3A).ok_or_else(bad)? as usize;
    let count = u16_at(elf, 0x3C).ok_or_else(bad)? as usize;
    let section = |i: usize| section_offset + i * entry_size;
    const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
    let mut newest: Option<(u32, u32)> = None;
    for i in 0..count {
        let at = section(i);
        if u32_at(elf, at + 4).ok_or_else(bad)? != SHT_GNU_VERNEED {
            continue;
        }
        let offset = u64_at(elf, at + 0x18).ok_or_else(bad)? as usize;
        let strings_index = u32_at(elf, at + 0x28).ok_or_else(bad)? as usize;
        let needs = u32_at(elf, at + 0x2C).ok_or_else(bad)? as usize;
        let strings = u64_at(elf, section(strings_index) + 0x18).ok_or_else(bad)? as usize;
        let name_at = |offset: usize| -> String {
            let start = strings + offset;
            let end = elf[start..]
                .iter()
                .position(|b| *b == 0)
                .map_or(elf.len(), |n| start + n);
            String::from_utf8_lossy(&elf[start..end]).into_owned()
        };
        let mut need = offset;
        for _ in 0..needs {
            let aux_count = u16_at(elf, need + 2).ok_or_else(bad)? as usize;
            let mut aux = need + u32_at(elf, need + 8).ok_or_else(bad)? as usize;
            for _ in 0..aux_count {
                let name = name_at(u32_at(elf, aux + 8).ok_or_else(bad)? as usize);
                if let Some(version) = name.strip_prefix("GLIBC_") {
                    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
                    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
                    newest = newest.max(Some(found));
                }
                aux += u32_at(elf, aux + 12).ok_or_else(bad)? as usize;
            }
            let next = u32_at(elf, need + 12).ok_or_else(bad)? as usize;
            if next == 0 {
                break;
            }
            need += next;
        }
    }
    Ok(newest)
}

pub fn check_glibc(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let binary = |message: String| PackageError::Binary {
        path: path.display().to_string(),
        message,
    };
    match newest_glibc(bytes).map_err(binary)? {
        Some(found) if found > MAX_GLIBC => Err(binary(format!(
            "needs GLIBC_{}.{}, but Lambda's provided.al2023 has glibc {}.{}: build on an older system (or in an Amazon Linux 2023 container), or for musl",
            found.0, found.1, MAX_GLIBC.0, MAX_GLIBC.1
        ))),
        _ => Ok(()),
    }
}

/// Where the code of a function comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A Cargo package directory (relative paths are taken from the stack
    /// file's directory) and, when it has several, the binary to ship.
    Cargo {
        directory: PathBuf,
        binary: Option<String>,
    },
    /// A zip built elsewhere.
    Zip(PathBuf),
}

fn cargo_metadata(directory: &Path) -> Result<serde_json::Value, PackageError> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(directory.join("Cargo.toml"))
        .output()
        .map_err(|e| PackageError::Build(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        return Err(PackageError::Build(format!(
            "cargo metadata failed for {}: {}",
            directory.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| PackageError::Build(format!("cargo metadata: {e}")))
}

fn target_installed(triple: &str) -> bool {
    let Ok(output) = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", triple])
        .output()
    else {
        return false;
    };
    output.status.success() && Path::new(String::from_utf8_lossy(&output.stdout).trim()).exists()
}

/// Builds (or reads) the code and writes the zip beside the build output.
pub fn package(source: &Source, architecture: Architecture) -> Result<Artifact, PackageError> {
    match source {
        Source::Zip(path) => {
            let bytes = std::fs::read(path).map_err(io(path))?;
            Ok(Artifact {
                path: path.clone(),
                sha256: code_sha256(&bytes),
                size: bytes.len() as u64,
            })
        }
        Source::Cargo { directory, binary } => {
            package_cargo(directory, binary.as_deref(), architecture)
        }
    }
}

/// A Cargo package's binary, built (or found built before from the same
/// sources), checked, zipped and kept.
fn package_cargo(
    directory: &Path,
    binary: Option<&str>,
    architecture: Architecture,
) -> Result<Artifact, PackageError> {
    let triple = architecture.triple();
    let workspace = cache::workspace_root(directory);
    let cache = cache::directory(&workspace);
    let recipe = cache::recipe(directory, &workspace, binary, triple);
    // A package built before from the same sources is used as it is: no
    // cargo, not even `cargo metadata`.
    if let Some(found) = recipe
        .as_deref()
        .and_then(|recipe| cached(&cache, &workspace, recipe))
    {
        return Ok(found);
    }
    let metadata = cargo_metadata(directory)?;
    let manifest = std::fs::canonicalize(directory.join("Cargo.toml")).map_err(io(directory))?;
    let (name, binary) = chosen_binary(&metadata, &manifest, directory, binary)?;
    if !target_installed(triple) {
        return Err(PackageError::Build(format!(
            "building for {} needs the Rust target {triple}: run `rustup target add {triple}` (and install a linker for it), or use architecture: x86_64",
            architecture.name()
        )));
    }
    let Build {
        built,
        bytes,
        started,
    } = build(directory, &metadata, &name, &binary, triple)?;
    check_glibc(&built, &bytes)?;
    let zip = bootstrap_zip(&bytes);
    let prefix = format!("{name}-{binary}-{}", architecture.name());
    // Kept by content when what the build read is known and did not change
    // while it ran (and cairn found the workspace cargo used); otherwise
    // under the package's name only.
    let same_workspace = metadata["workspace_root"]
        .as_str()
        .and_then(|root| std::fs::canonicalize(root).ok())
        .is_some_and(|root| root == workspace);
    let sources = built_from(&built, &binary, &workspace, started);
    let path = match (&recipe, sources) {
        (Some(recipe), Some((files, hash))) if same_workspace => {
            cache::store(&cache, recipe, files, hash, &prefix, &zip).map_err(io(&cache))?
        }
        _ => store_by_name(&cache, &prefix, &name, &zip)?,
    };
    Ok(Artifact {
        path,
        sha256: code_sha256(&zip),
        size: zip.len() as u64,
    })
}

/// The package kept for this recipe, while its sources are unchanged.
fn cached(cache: &Path, workspace: &Path, recipe: &str) -> Option<Artifact> {
    let (path, entry) = cache::lookup(cache, workspace, recipe)?;
    Some(Artifact {
        path,
        sha256: entry.sha256,
        size: entry.size,
    })
}

/// The package whose manifest is `manifest` in `cargo metadata`'s answer,
/// and the binary to ship: the one named, or its only one.
fn chosen_binary(
    metadata: &serde_json::Value,
    manifest: &Path,
    directory: &Path,
    binary: Option<&str>,
) -> Result<(String, String), PackageError> {
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest))
        .ok_or_else(|| {
            PackageError::Build(format!("{} is not a Cargo package", directory.display()))
        })?;
    let binaries: Vec<&str> = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str())
        .collect();
    let binary = match (binary, binaries.as_slice()) {
        (Some(name), _) if binaries.contains(&name) => name.to_owned(),
        (Some(name), _) => {
            return Err(PackageError::Build(format!(
                "package {} has no binary `{name}` (it has: {})",
                package["name"],
                binaries.join(", ")
            )))
        }
        (None, [only]) => (*only).to_owned(),
        (None, _) => {
            return Err(PackageError::Build(format!(
                "package {} has {} binaries; say which with `binary:`",
                package["name"],
                binaries.len()
            )))
        }
    };
    let name = package["name"].as_str().unwrap_or_default().to_owned();
    Ok((name, binary))
}

/// A binary just built: where, its bytes, and when its build started.
struct Build {
    built: PathBuf,
    bytes: Vec<u8>,
    started: std::time::SystemTime,
}

/// A release build of the binary for `triple`, with size-tuned settings
/// whatever the package's own release profile says.
fn build(
    directory: &Path,
    metadata: &serde_json::Value,
    name: &str,
    binary: &str,
    triple: &str,
) -> Result<Build, PackageError> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if dropped_from_build(&key) {
            command.env_remove(key.as_ref());
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let flags = build_flags(
        &std::env::var("RUSTFLAGS").unwrap_or_default(),
        metadata["workspace_root"].as_str(),
        cargo_home.as_deref(),
    );
    command.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    let started = std::time::SystemTime::now();
    command
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "--target",
            triple,
            "-p",
            name,
            "--bin",
            binary,
            "--manifest-path",
        ])
        .arg(directory.join("Cargo.toml"))
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_PANIC", "unwind");
    let run = |command: &mut Command| -> Result<(), PackageError> {
        let status = command
            .status()
            .map_err(|e| PackageError::Build(format!("cannot run cargo: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(PackageError::Build(format!(
                "cargo build of {name} for {triple} failed (its output is above)"
            )))
        }
    };
    run(&mut command)?;
    let target_directory = PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target"));
    let built = target_directory.join(triple).join("release").join(binary);
    // Another process may clean the target directory between the build and
    // this read: build once more, then read.
    let bytes = match std::fs::read(&built) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            run(&mut command)?;
            std::fs::read(&built).map_err(io(&built))?
        }
        other => other.map_err(io(&built))?,
    };
    Ok(Build {
        built,
        bytes,
        started,
    })
}

/// When cairn itself runs under cargo (tests, `cargo run`), the variables
/// cargo set for that crate would change the nested build's fingerprints
/// and force a full rebuild: they are dropped, and cargo's own settings
/// kept.
fn dropped_from_build(key: &str) -> bool {
    let keep = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&key)
        || [
            "CARGO_BUILD_",
            "CARGO_NET_",
            "CARGO_HTTP_",
            "CARGO_REGISTRIES_",
            "CARGO_REGISTRY_",
            "CARGO_TERM_",
        ]
        .iter()
        .any(|p| key.starts_with(p));
    (key.starts_with("CARGO_") && !keep)
        || key == "LD_LIBRARY_PATH"
        || key == "RUSTC_WRAPPER_DISABLED"
}

/// The build's compiler flags: the user's, with build paths made fixed
/// names, so the same source gives the same zip on any machine (a plan
/// reviewed on one CI runner, or a laptop, still matches when another one
/// applies it).
fn build_flags(
    rustflags: &str,
    workspace_root: Option<&str>,
    cargo_home: Option<&Path>,
) -> Vec<String> {
    let mut flags: Vec<String> = rustflags.split_whitespace().map(str::to_owned).collect();
    if let Some(root) = workspace_root {
        flags.push(format!("--remap-path-prefix={root}=/build"));
    }
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags
}

/// What Lambda's `provided` runtimes run: one executable named `bootstrap`.
fn bootstrap_zip(binary: &[u8]) -> Vec<u8> {
    reproducible_zip(&[("bootstrap", binary, true)])
}

/// The files the build read (from cargo's dep-info beside the binary) and
/// their hash, when all are known and none changed while it ran.
fn built_from(
    built: &Path,
    binary: &str,
    workspace: &Path,
    started: std::time::SystemTime,
) -> Option<(Vec<String>, String)> {
    let dep_info = built.with_file_name(format!("{binary}.d"));
    let text = std::fs::read_to_string(dep_info).ok()?;
    let files = cache::dep_info_files(&text, workspace);
    let unchanged = files.iter().all(|f| {
        let path = f
            .strip_prefix("ws:")
            .map_or_else(|| PathBuf::from(f), |r| workspace.join(r));
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified <= started)
    });
    if files.is_empty() || !unchanged {
        return None;
    }
    let hash = cache::sources_hash(workspace, &files)?;
    Some((files, hash))
}

/// Kept under the package's name only, written whole or not at all:
/// another process may be reading it.
fn store_by_name(
    cache: &Path,
    prefix: &str,
    name: &str,
    zip: &[u8],
) -> Result<PathBuf, PackageError> {
    std::fs::create_dir_all(cache).map_err(io(cache))?;
    let path = cache.join(format!("{prefix}.zip"));
    let partial = cache.join(format!(".{}.{}.tmp", name, std::process::id()));
    std::fs::write(&partial, zip).map_err(io(&partial))?;
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    Ok(path)
}

/// Builds every function's package in a stack, by address. Paths in
/// `code` are relative to the file that defines the resource.
pub fn prepare(
    stack: &crate::stack::Stack,
    mut progress: impl FnMut(&str),
) -> Result<std::collections::BTreeMap<String, Artifact>, PackageError> {
    let mut out = std::collections::BTreeMap::new();
    for resource in &stack.resources {
        let Some(built) = resource.schema.fields.iter().find(|f| f.built) else {
            continue;
        };
        let code = resource
            .properties
            .get(built.name)
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default();
        let base = resource.file.parent().unwrap_or(Path::new("."));
        let field = |k: &str| {
            code.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let source = match (field("cargo"), field("zip")) {
            (Some(directory), _) => Source::Cargo {
                directory: base.join(directory),
                binary: field("binary"),
            },
            (None, Some(zip)) => Source::Zip(base.join(zip)),
            (None, None) => continue,
        };
        let architecture = resource
            .properties
            .get("architecture")
            .and_then(serde_json::Value::as_str)
            .and_then(Architecture::parse)
            .unwrap_or(Architecture::X86_64);
        progress(&format!(
            "{}: packaging {}",
            resource.address(),
            match &source {
                Source::Cargo { directory, .. } => format!(
                    "the Cargo package in {} for {}",
                    directory.display(),
                    architecture.name()
                ),
                Source::Zip(path) => path.display().to_string(),
            }
        ));
        let artifact = package(&source, architecture).map_err(|e| match e {
            PackageError::Build(message) => {
                PackageError::Build(format!("{}: {message}", resource.address()))
            }
            other => other,
        })?;
        out.insert(resource.address(), artifact);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_are_byte_for_byte_reproducible() {
        let a = reproducible_zip(&[("bootstrap", b"binary", true), ("a.txt", b"text", false)]);
        let b = reproducible_zip(&[("a.txt", b"text", false), ("bootstrap", b"binary", true)]);
        assert_eq!(a, b);
        assert_eq!(code_sha256(&a), code_sha256(&b));
        assert_ne!(
            a,
            reproducible_zip(&[("bootstrap", b"binary2", true), ("a.txt", b"text", false)])
        );
    }

    #[test]
    fn zip_entries_have_fixed_modes_and_timestamps() {
        let zip = reproducible_zip(&[
            ("bootstrap", b"#!/bin/sh\necho hi\n", true),
            ("config.json", b"{}", false),
        ]);
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("f.zip");
        std::fs::write(&path, &zip).unwrap();
        // Read it back with Python's zipfile, an independent reader.
        let script = "import sys, zipfile\nfor i in zipfile.ZipFile(sys.argv[1]).infolist():\n    print(i.filename, oct(i.external_attr >> 16), i.date_time, i.create_system, i.file_size)\nprint(zipfile.ZipFile(sys.argv[1]).read('bootstrap').decode().strip())";
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "bootstrap 0o100755 (1980, 1, 1, 0, 0, 0) 3 18\nconfig.json 0o100644 (1980, 1, 1, 0, 0, 0) 3 2\n#!/bin/sh\necho hi\n"
        );
    }

    fn metadata(binaries: &[&str]) -> serde_json::Value {
        let targets: Vec<serde_json::Value> = binaries
            .iter()
            .map(|name| serde_json::json!({"name": name, "kind": ["bin"]}))
            .chain([serde_json::json!({"name": "app", "kind": ["lib"]})])
            .collect();
        serde_json::json!({"packages": [
            {"name": "other", "manifest_path": "/w/other/Cargo.toml", "targets": [{"name": "x", "kind": ["bin"]}]},
            {"name": "app", "manifest_path": "/w/app/Cargo.toml", "targets": targets},
        ]})
    }

    #[test]
    fn the_binary_shipped_is_the_one_named_or_the_only_one() {
        let manifest = Path::new("/w/app/Cargo.toml");
        let choose = |binaries: &[&str], named: Option<&str>| {
            chosen_binary(&metadata(binaries), manifest, Path::new("app"), named)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            choose(&["server"], None),
            Ok(("app".into(), "server".into()))
        );
        assert_eq!(
            choose(&["server", "worker"], Some("worker")),
            Ok(("app".into(), "worker".into()))
        );
        assert_eq!(
            choose(&["server", "worker"], None),
            Err("package \"app\" has 2 binaries; say which with `binary:`".into())
        );
        assert_eq!(
            choose(&["server"], Some("worker")),
            Err("package \"app\" has no binary `worker` (it has: server)".into())
        );
        assert_eq!(
            chosen_binary(
                &metadata(&["server"]),
                Path::new("/w/elsewhere/Cargo.toml"),
                Path::new("elsewhere"),
                None
            )
            .unwrap_err()
            .to_string(),
            "elsewhere is not a Cargo package"
        );
    }

    #[test]
    fn build_paths_become_fixed_names() {
        assert_eq!(
            build_flags(
                "-C target-cpu=native  -g",
                Some("/home/me/repo"),
                Some(Path::new("/home/me/.cargo"))
            ),
            [
                "-C",
                "target-cpu=native",
                "-g",
                "--remap-path-prefix=/home/me/repo=/build",
                "--remap-path-prefix=/home/me/.cargo=/cargo",
            ]
        );
        assert!(build_flags("", None, None).is_empty());
    }

    #[test]
    fn the_nested_build_drops_what_cargo_set_for_cairn_and_keeps_cargos_settings() {
        for dropped in [
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "CARGO_PRIMARY_PACKAGE",
            "LD_LIBRARY_PATH",
            "RUSTC_WRAPPER_DISABLED",
        ] {
            assert!(dropped_from_build(dropped), "{dropped}");
        }
        for kept in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_TIMEOUT",
            "CARGO_REGISTRIES_X_INDEX",
            "CARGO_TERM_COLOR",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!dropped_from_build(kept), "{kept}");
        }
    }

    #[test]
    fn the_same_binary_gives_the_same_zip_and_hash() {
        let zip = bootstrap_zip(b"\x7fELF binary");
        assert_eq!(zip, bootstrap_zip(b"\x7fELF binary"));
        assert_eq!(
            zip,
            reproducible_zip(&[("bootstrap", b"\x7fELF binary", true)])
        );
        assert_ne!(
            code_sha256(&zip),
            code_sha256(&bootstrap_zip(b"\x7fELF other"))
        );
        // One entry, `bootstrap`, named in its local header and central record.
        assert_eq!(&zip[30..39], b"bootstrap");
        assert_eq!(zip.windows(9).filter(|w| w == b"bootstrap").count(), 2);
        assert_eq!(u16_at(&zip, zip.len() - 12), Some(1));
    }

    #[test]
    fn a_package_kept_from_the_same_sources_is_found_and_one_kept_by_name_is_not() {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("w");
        std::fs::create_dir_all(workspace.join("src")).unwrap();
        std::fs::write(workspace.join("src/main.rs"), "fn main() {}").unwrap();
        let cache = root.path().join("cache");
        let zip = bootstrap_zip(b"binary");
        let files = vec!["ws:src/main.rs".to_owned()];
        let sources = cache::sources_hash(&workspace, &files).unwrap();
        let path = cache::store(&cache, "recipe", files, sources, "app-app-x86_64", &zip).unwrap();
        assert_eq!(
            cached(&cache, &workspace, "recipe"),
            Some(Artifact {
                path,
                sha256: code_sha256(&zip),
                size: zip.len() as u64,
            })
        );
        let by_name = store_by_name(&cache, "app-tool-arm64", "app", &zip).unwrap();
        assert_eq!(by_name, cache.join("app-tool-arm64.zip"));
        assert_eq!(std::fs::read(&by_name).unwrap(), zip);
        assert_eq!(cached(&cache, &workspace, "another recipe"), None);
    }

    #[test]
    fn what_a_build_read_is_known_only_while_unchanged_since_it_started() {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("w");
        std::fs::create_dir_all(workspace.join("src")).unwrap();
        std::fs::create_dir_all(workspace.join("target/release")).unwrap();
        std::fs::write(workspace.join("src/main.rs"), "fn main() {}").unwrap();
        let built = workspace.join("target/release/app");
        let dep_info = format!(
            "{}: {}\n",
            built.display(),
            workspace.join("src/main.rs").display()
        );
        std::fs::write(workspace.join("target/release/app.d"), dep_info).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let (files, hash) = built_from(&built, "app", &workspace, later).unwrap();
        assert_eq!(files, ["ws:src/main.rs"]);
        assert_eq!(Some(hash), cache::sources_hash(&workspace, &files));
        // A source written after the build started: not known.
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        assert_eq!(built_from(&built, "app", &workspace, earlier), None);
        assert_eq!(built_from(&built, "missing", &workspace, later), None);
    }

    /// A minimal ELF64 with a `.dynstr` and a `.gnu.version_r` needing the
    /// given glibc versions.
    fn fake_elf(versions: &[&str]) -> Vec<u8> {
        let mut strings = b"\0libc.so.6\0".to_vec();
        let mut names = Vec::new();
        for version in versions {
            names.push(strings.len() as u32);
            strings.extend_from_slice(version.as_bytes());
            strings.push(0);
        }
        let mut needs = Vec::new();
        needs.extend_from_slice(&1u16.to_le_bytes());
        needs.extend_from_slice(&(versions.len() as u16).to_le_bytes());
        needs.extend_from_slice(&1u32.to_le_bytes());
        needs.extend_from_slice(&16u32.to_le_bytes());
        needs.extend_from_slice(&0u32.to_le_bytes());
        for (i, name) in names.iter().enumerate() {
            needs.extend_from_slice(&[0; 8]);
            needs.extend_from_slice(&name.to_le_bytes());
            let next: u32 = if i + 1 < names.len() { 16 } else { 0 };
            needs.extend_from_slice(&next.to_le_bytes());
        }
        let strings_at = 64usize;
        let needs_at = strings_at + strings.len();
        let sections_at = needs_at + needs.len();
        let mut elf = vec![0u8; 64];
        elf[0..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x28..0x30].copy_from_slice(&(sections_at as u64).to_le_bytes());
        elf[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3C..0x3E].copy_from_slice(&3u16.to_le_bytes());
        elf.extend_from_slice(&strings);
        elf.extend_from_slice(&needs);
        let section = |kind: u32, offset: usize, size: usize, link: u32, info: u32| {
            let mut header = vec![0u8; 64];
            header[4..8].copy_from_slice(&kind.to_le_bytes());
            header[0x18..0x20].copy_from_slice(&(offset as u64).to_le_bytes());
            header[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            header[0x28..0x2C].copy_from_slice(&link.to_le_bytes());
            header[0x2C..0x30].copy_from_slice(&info.to_le_bytes());
            header
        };
        elf.extend(section(0, 0, 0, 0, 0));
        elf.extend(section(3, strings_at, strings.len(), 0, 0));
        elf.extend(section(0x6fff_fffe, needs_at, needs.len(), 1, 1));
        elf
    }

    #[test]
    fn binaries_needing_a_newer_glibc_are_refused() {
        let old = fake_elf(&["GLIBC_2.2.5", "GLIBC_2.34"]);
        assert_eq!(newest_glibc(&old).unwrap(), Some((2, 34)));
        assert!(check_glibc(Path::new("old"), &old).is_ok());
        let new = fake_elf(&["GLIBC_2.2.5", "GLIBC_2.38", "GLIBC_2.17"]);
        assert_eq!(newest_glibc(&new).unwrap(), Some((2, 38)));
        let error = check_glibc(Path::new("target/bootstrap"), &new)
            .unwrap_err()
            .to_string();
        assert_eq!(error, "target/bootstrap: needs GLIBC_2.38, but Lambda's provided.al2023 has glibc 2.34: build on an older system (or in an Amazon Linux 2023 container), or for musl");
    }

    #[test]
    fn glibc_needs_are_read_from_the_elf() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let found = newest_glibc(&me)
            .unwrap()
            .expect("a gnu test binary needs glibc");
        assert_eq!(found.0, 2);
        assert!(found.1 >= 2);
        assert!(newest_glibc(b"#!/bin/sh").is_err());
    }
}
