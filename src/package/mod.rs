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
            // A package built before from the same sources is used as it
            // is: no cargo, not even `cargo metadata`.
            let triple = architecture.triple();
            let workspace = cache::workspace_root(directory);
            let cache = cache::directory(&workspace);
            let recipe = cache::recipe(directory, &workspace, binary.as_deref(), triple);
            if let Some(recipe) = &recipe {
                if let Some((path, entry)) = cache::lookup(&cache, &workspace, recipe) {
                    return Ok(Artifact {
                        path,
                        sha256: entry.sha256,
                        size: entry.size,
                    });
                }
            }
            let metadata = cargo_metadata(directory)?;
            let manifest =
                std::fs::canonicalize(directory.join("Cargo.toml")).map_err(io(directory))?;
            let package = metadata["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
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
                (Some(name), _) if binaries.contains(&name.as_str()) => name.clone(),
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
            if !target_installed(triple) {
                return Err(PackageError::Build(format!(
                    "building for {} needs the Rust target {triple}: run `rustup target add {triple}` (and install a linker for it), or use architecture: x86_64",
                    architecture.name()
                )));
            }
            let name = package["name"].as_str().unwrap_or_default();
            // Size-tuned release settings, whatever the package's own release profile says.
            let mut command =
                Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            // When cairn itself runs under cargo (tests, `cargo run`), the
            // variables cargo set for that crate would change the nested
            // build's fingerprints and force a full rebuild: drop them.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                let keep = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&key.as_ref())
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
                if (key.starts_with("CARGO_") && !keep)
                    || key == "LD_LIBRARY_PATH"
                    || key == "RUSTC_WRAPPER_DISABLED"
                {
                    command.env_remove(key.as_ref());
                }
            }
            // Build paths become fixed names, so the same source gives the
            // same zip on any machine: a plan reviewed on one CI runner (or
            // a laptop) still matches when another one applies it.
            let mut flags: Vec<String> = std::env::var("RUSTFLAGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if let Some(root) = metadata["workspace_root"].as_str() {
                flags.push(format!("--remap-path-prefix={root}=/build"));
            }
            let cargo_home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
            if let Some(home) = cargo_home {
                flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
            }
            command.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
            let build_started = std::time::SystemTime::now();
            let status = command
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
                    &binary,
                    "--manifest-path",
                ])
                .arg(directory.join("Cargo.toml"))
                .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
                .env("CARGO_PROFILE_RELEASE_LTO", "true")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
                .env("CARGO_PROFILE_RELEASE_STRIP", "true")
                .env("CARGO_PROFILE_RELEASE_PANIC", "unwind")
                .status()
                .map_err(|e| PackageError::Build(format!("cannot run cargo: {e}")))?;
            if !status.success() {
                return Err(PackageError::Build(format!(
                    "cargo build of {name} for {triple} failed (its output is above)"
                )));
            }
            let target_directory =
                PathBuf::from(metadata["target_directory"].as_str().unwrap_or("target"));
            let built = target_directory.join(triple).join("release").join(&binary);
            // Another process may clean the target directory between the
            // build and this read: build once more, then read.
            let bytes = match std::fs::read(&built) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let again = command
                        .status()
                        .map_err(|e| PackageError::Build(format!("cannot run cargo: {e}")))?;
                    if !again.success() {
                        return Err(PackageError::Build(format!(
                            "cargo build of {name} for {triple} failed (its output is above)"
                        )));
                    }
                    std::fs::read(&built).map_err(io(&built))?
                }
                other => other.map_err(io(&built))?,
            };
            check_glibc(&built, &bytes)?;
            let zip = reproducible_zip(&[("bootstrap", &bytes, true)]);
            let prefix = format!("{name}-{binary}-{}", architecture.name());
            // Kept by content when what the build read is known and did
            // not change while it ran (and cairn found the workspace cargo
            // used); otherwise under the package's name only.
            let dep_info = built.with_file_name(format!("{binary}.d"));
            let same_workspace = metadata["workspace_root"]
                .as_str()
                .and_then(|root| std::fs::canonicalize(root).ok())
                .is_some_and(|root| root == workspace);
            let sources = std::fs::read_to_string(&dep_info)
                .ok()
                .map(|text| cache::dep_info_files(&text, &workspace))
                .filter(|files| {
                    !files.is_empty()
                        && files.iter().all(|f| {
                            let path = f
                                .strip_prefix("ws:")
                                .map_or_else(|| PathBuf::from(f), |r| workspace.join(r));
                            std::fs::metadata(path)
                                .and_then(|m| m.modified())
                                .is_ok_and(|modified| modified <= build_started)
                        })
                })
                .and_then(|files| {
                    let hash = cache::sources_hash(&workspace, &files)?;
                    Some((files, hash))
                });
            let path = match (&recipe, sources) {
                (Some(recipe), Some((files, hash))) if same_workspace => {
                    cache::store(&cache, recipe, files, hash, &prefix, &zip).map_err(io(&cache))?
                }
                _ => {
                    std::fs::create_dir_all(&cache).map_err(io(&cache))?;
                    let path = cache.join(format!("{prefix}.zip"));
                    // Whole or not at all: another process may be reading it.
                    let partial = cache.join(format!(".{}.{}.tmp", name, std::process::id()));
                    std::fs::write(&partial, &zip).map_err(io(&partial))?;
                    std::fs::rename(&partial, &path).map_err(io(&path))?;
                    path
                }
            };
            Ok(Artifact {
                path,
                sha256: code_sha256(&zip),
                size: zip.len() as u64,
            })
        }
    }
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
