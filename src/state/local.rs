use super::{LockInfo, State, StateError, StateStore};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `state/ENV.json`, with `ENV.json.backup` (the previous version) and
/// `ENV.lock` beside it.
pub struct LocalStore {
    directory: PathBuf,
    environment: String,
}

impl LocalStore {
    pub fn new(directory: impl Into<PathBuf>, environment: &str) -> LocalStore {
        LocalStore {
            directory: directory.into(),
            environment: environment.to_owned(),
        }
    }
    pub fn path(&self) -> PathBuf {
        self.directory.join(format!("{}.json", self.environment))
    }
    fn backup_path(&self) -> PathBuf {
        self.directory
            .join(format!("{}.json.backup", self.environment))
    }
    fn lock_path(&self) -> PathBuf {
        self.directory.join(format!("{}.lock", self.environment))
    }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Write {
        path: path.display().to_string(),
        source,
    }
}

impl StateStore for LocalStore {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn load(&self) -> Result<Option<State>, StateError> {
        let path = self.path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        super::parse(text.as_bytes(), &path.display().to_string()).map(Some)
    }

    fn save(&self, state: &State) -> Result<(), StateError> {
        let path = self.path();
        fs::create_dir_all(&self.directory).map_err(write_error(&path))?;
        let mut text = serde_json::to_string_pretty(state).expect("state serializes");
        text.push('\n');
        let temporary = self.directory.join(format!(
            ".{}.json.{}.tmp",
            self.environment,
            std::process::id()
        ));
        {
            let mut file = File::create(&temporary).map_err(write_error(&temporary))?;
            file.write_all(text.as_bytes())
                .map_err(write_error(&temporary))?;
            file.sync_all().map_err(write_error(&temporary))?;
        }
        if path.exists() {
            // The backup becomes a second name for the current file, which
            // the rename below then replaces: no copy of the document.
            let backup = self.backup_path();
            let _ = fs::remove_file(&backup);
            if fs::hard_link(&path, &backup).is_err() {
                fs::copy(&path, &backup).map_err(write_error(&path))?;
            }
        }
        fs::rename(&temporary, &path).map_err(write_error(&path))?;
        if let Ok(directory) = File::open(&self.directory) {
            let _ = directory.sync_all();
        }
        Ok(())
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        fs::create_dir_all(&self.directory).map_err(write_error(&path))?;
        let info = LockInfo::new(operation);
        let started = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    let text = serde_json::to_string_pretty(&info).expect("lock serializes");
                    file.write_all(text.as_bytes())
                        .map_err(write_error(&path))?;
                    file.sync_all().map_err(write_error(&path))?;
                    return Ok(info);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if started.elapsed() >= timeout {
                        let held = self.current_lock()?.unwrap_or(LockInfo::unknown("unknown"));
                        return Err(StateError::Locked(Box::new(held)));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(source) => {
                    return Err(StateError::Write {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        }
    }

    fn unlock(&self, id: &str) -> Result<(), StateError> {
        match self.current_lock()? {
            Some(info) if info.id == id => {
                fs::remove_file(self.lock_path()).map_err(write_error(&self.lock_path()))
            }
            _ => Err(StateError::NotLocked(id.to_owned())),
        }
    }

    fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        let path = self.lock_path();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(serde_json::from_str(&text)
                .ok()
                .or(Some(LockInfo::unknown("unknown (unreadable lock file)")))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StateError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_is_atomic_and_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        assert!(store.load().unwrap().is_none());
        let mut state = State::new("p", "dev");
        store.save(&state).unwrap();
        state.serial = 1;
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap().unwrap().serial, 1);
        let backup: State =
            serde_json::from_str(&fs::read_to_string(store.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 0);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        let first = store.lock("apply", Duration::ZERO).unwrap();
        let Err(StateError::Locked(held)) = store.lock("plan", Duration::from_millis(300)) else {
            panic!("second lock was granted")
        };
        assert_eq!(held.id, first.id);
        assert_eq!(held.operation, "apply");
        assert!(matches!(
            store.unlock("wrong"),
            Err(StateError::NotLocked(_))
        ));
        store.unlock(&first.id).unwrap();
        store.lock("plan", Duration::ZERO).unwrap();
    }
}
