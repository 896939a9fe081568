//! Function packages kept by content, so that an unchanged plan never runs
//! cargo. A package is found by its recipe (what cairn asks cargo for:
//! the package, binary, target, toolchain, flags, `Cargo.lock`, the
//! manifests) and then by the content of the source files its last build
//! read (cargo's dep-info for the binary). Paths inside the workspace are
//! kept relative to it, so another checkout of the same sources finds the
//! same package. Registry and git dependencies are pinned by `Cargo.lock`
//! and are immutable, so they are not read.
//!
//! A hit returns exactly the zip that build produced; a miss builds, and
//! the build records its package here.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Change when the way cairn builds or zips a package changes: old entries
/// then stop matching.
pub const RECIPE_VERSION: &str = "cairn-package-1: release opt-level=z lto=true codegen-units=1 strip=true panic=unwind, paths remapped, reproducible zip deflate 9";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory of the Cargo workspace that `directory`'s package builds
/// in: the nearest ancestor (or itself) whose manifest has `[workspace]`.
pub fn workspace_root(directory: &Path) -> PathBuf {
    let start = std::fs::canonicalize(directory).unwrap_or_else(|_| directory.to_owned());
    for candidate in start.ancestors() {
        let manifest = std::fs::read_to_string(candidate.join("Cargo.toml")).unwrap_or_default();
        if manifest.lines().any(|l| l.trim() == "[workspace]") {
            return candidate.to_owned();
        }
    }
    start
}

/// Where packages are kept: `CAIRN_PACKAGE_CACHE`, else `cairn-packages`
/// in `CARGO_TARGET_DIR`, else in the workspace's `target`.
pub fn directory(workspace: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CAIRN_PACKAGE_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("cairn-packages")
}

/// What decides a build besides the sources, hashed. `None` when it
/// cannot be known without cargo (no `Cargo.lock`, a build script, no
/// compiler answering): then the package is always built.
pub fn recipe(
    package: &Path,
    workspace: &Path,
    binary: Option<&str>,
    triple: &str,
) -> Option<String> {
    let package = std::fs::canonicalize(package).ok()?;
    // A build script can read anything; its package is always built.
    if package.join("build.rs").exists() {
        return None;
    }
    let mut hash = Sha256::new();
    let mut part = |label: &str, bytes: &[u8]| {
        hash.update(label.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part("recipe", RECIPE_VERSION.as_bytes());
    let relative = package.strip_prefix(workspace).ok()?;
    part("package", relative.to_string_lossy().as_bytes());
    part("binary", binary.unwrap_or("").as_bytes());
    part("target", triple.as_bytes());
    part(
        "rustflags",
        std::env::var("RUSTFLAGS").unwrap_or_default().as_bytes(),
    );
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc).arg("-vV").output().ok()?;
    if !version.status.success() {
        return None;
    }
    part("rustc", &version.stdout);
    part("lock", &std::fs::read(workspace.join("Cargo.lock")).ok()?);
    part(
        "workspace manifest",
        &std::fs::read(workspace.join("Cargo.toml")).ok()?,
    );
    part(
        "package manifest",
        &std::fs::read(package.join("Cargo.toml")).ok()?,
    );
    for config in [".cargo/config.toml", ".cargo/config"] {
        if let Ok(bytes) = std::fs::read(workspace.join(config)) {
            part(config, &bytes);
        }
    }
    Some(hex(&hash.finalize()))
}

/// One kept package: the sources its build read and the zip it made.
#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Entry {
    /// `ws:PATH` relative to the workspace, or an absolute path.
    pub files: Vec<String>,
    /// SHA-256 of the files' names and contents, in that order.
    pub sources: String,
    /// The zip's file name in the cache directory.
    pub zip: String,
    /// Base64 SHA-256 of the zip (Lambda's `CodeSha256`).
    pub sha256: String,
    pub size: u64,
}

fn resolve(workspace: &Path, file: &str) -> PathBuf {
    match file.strip_prefix("ws:") {
        Some(relative) => workspace.join(relative),
        None => PathBuf::from(file),
    }
}

/// The hash of the files as they are now; `None` if one is gone.
pub fn sources_hash(workspace: &Path, files: &[String]) -> Option<String> {
    let mut hash = Sha256::new();
    for file in files {
        let bytes = std::fs::read(resolve(workspace, file)).ok()?;
        hash.update(file.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    Some(hex(&hash.finalize()))
}

/// The local source files in cargo's dep-info for a binary (`PATH.d`
/// beside it), named as `Entry::files` names them, sorted.
pub fn dep_info_files(dep_info: &str, workspace: &Path) -> Vec<String> {
    let Some((_, deps)) = dep_info.lines().next().and_then(|l| l.split_once(": ")) else {
        return Vec::new();
    };
    // Spaces inside paths are escaped with a backslash.
    let mut files = Vec::new();
    let mut current = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    files.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        files.push(current);
    }
    let mut named: Vec<String> = files
        .into_iter()
        .map(|f| match Path::new(&f).strip_prefix(workspace) {
            Ok(relative) => format!("ws:{}", relative.display()),
            Err(_) => f,
        })
        .collect();
    named.sort();
    named.dedup();
    named
}

fn index_path(cache: &Path, recipe: &str) -> PathBuf {
    cache.join("index").join(format!("{recipe}.json"))
}

/// Entries kept per recipe (newest first): switching between a few
/// versions of the sources (branches, a revert) finds each again.
const ENTRIES_PER_RECIPE: usize = 8;

fn entries(cache: &Path, recipe: &str) -> Vec<Entry> {
    std::fs::read_to_string(index_path(cache, recipe))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The kept package for this recipe whose sources are as they are now,
/// with its zip checked against the hash recorded when it was made.
pub fn lookup(cache: &Path, workspace: &Path, recipe: &str) -> Option<(PathBuf, Entry)> {
    entries(cache, recipe).into_iter().find_map(|entry| {
        if entry.files.is_empty() || sources_hash(workspace, &entry.files)? != entry.sources {
            return None;
        }
        let zip = cache.join(&entry.zip);
        let bytes = std::fs::read(&zip).ok()?;
        (super::code_sha256(&bytes) == entry.sha256).then_some((zip, entry))
    })
}

/// Keeps a package just built: the zip under a name of its content, the
/// index entry for the recipe. Both are written whole and renamed into
/// place, so a reader never sees half of either. Failing to keep it only
/// costs the next plan a build.
pub fn store(
    cache: &Path,
    recipe: &str,
    files: Vec<String>,
    sources: String,
    zip_name_prefix: &str,
    zip: &[u8],
) -> Result<PathBuf, std::io::Error> {
    let sha256 = super::code_sha256(zip);
    let name = format!(
        "{zip_name_prefix}-{}.zip",
        hex(&Sha256::digest(zip))[..16].to_owned()
    );
    std::fs::create_dir_all(cache.join("index"))?;
    let path = cache.join(&name);
    write_whole(&path, zip)?;
    let entry = Entry {
        files,
        sources,
        zip: name,
        sha256,
        size: zip.len() as u64,
    };
    // Two processes storing at once may each drop the other's new entry:
    // that costs a build later, never a wrong package.
    let mut kept = entries(cache, recipe);
    kept.retain(|e| e.sources != entry.sources);
    kept.insert(0, entry);
    kept.truncate(ENTRIES_PER_RECIPE);
    let text = serde_json::to_string_pretty(&kept).expect("entries serialize");
    write_whole(&index_path(cache, recipe), text.as_bytes())?;
    Ok(path)
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), std::io::Error> {
    let partial = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_names_workspace_files_relative_and_keeps_others_absolute() {
        let workspace = Path::new("/w/repo");
        let text = "/t/release/app: /w/repo/app/src/main.rs /w/repo/app/src/with\\ space.rs /opt/shared/lib.rs /w/repo/app/src/main.rs\n\n/w/repo/app/src/main.rs:\n";
        assert_eq!(
            dep_info_files(text, workspace),
            [
                "/opt/shared/lib.rs",
                "ws:app/src/main.rs",
                "ws:app/src/with space.rs"
            ]
        );
    }

    #[test]
    fn a_kept_package_is_found_only_while_its_sources_are_unchanged() {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("checkout");
        std::fs::create_dir_all(workspace.join("app/src")).unwrap();
        std::fs::write(workspace.join("app/src/main.rs"), "fn main() {}").unwrap();
        let cache = root.path().join("cache");
        let files = vec!["ws:app/src/main.rs".to_owned()];
        let sources = sources_hash(&workspace, &files).unwrap();
        let zip = b"PK zip bytes";
        let path = store(&cache, "r1", files, sources, "app-app-x86_64", zip).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), zip);

        let (found, entry) = lookup(&cache, &workspace, "r1").unwrap();
        assert_eq!(found, path);
        assert_eq!(entry.size, zip.len() as u64);
        assert!(lookup(&cache, &workspace, "r2").is_none(), "another recipe");

        // Another checkout of the same sources finds it.
        let other = root.path().join("elsewhere");
        std::fs::create_dir_all(other.join("app/src")).unwrap();
        std::fs::write(other.join("app/src/main.rs"), "fn main() {}").unwrap();
        assert!(lookup(&cache, &other, "r1").is_some());

        // A changed source, a missing one, or a zip that is not the one
        // recorded: not found.
        std::fs::write(other.join("app/src/main.rs"), "fn main() { }").unwrap();
        assert!(lookup(&cache, &other, "r1").is_none());
        std::fs::remove_file(workspace.join("app/src/main.rs")).unwrap();
        assert!(lookup(&cache, &workspace, "r1").is_none());
        std::fs::write(workspace.join("app/src/main.rs"), "fn main() {}").unwrap();
        assert!(lookup(&cache, &workspace, "r1").is_some());
        std::fs::write(&path, b"PK other bytes").unwrap();
        assert!(lookup(&cache, &workspace, "r1").is_none());
    }
}
