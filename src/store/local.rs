use super::{JournalEntry, LockInfo, StateError, StateStore};
use crate::state::State;
use futures::future::BoxFuture;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `state/ENV.json`, with `ENV.json.backup` (the previous version) and
/// `ENV.lock` beside it.
///
/// The lock is the operating system's lock on `ENV.lock` (as Terraform's
/// local backend holds one on its state file): the kernel releases it when
/// the holder exits or is killed, so a crashed cairn never blocks the next
/// run. The file's text names the holder, for the message another run gets.
pub struct LocalStore {
    directory: PathBuf,
    environment: String,
    /// The stack's project: a state of another project in the same file is
    /// refused, never planned against (it would delete that project).
    project: Option<String>,
    /// The lock this process holds: its id and the open, locked file.
    held: Mutex<Option<(String, File)>>,
}

impl LocalStore {
    pub fn new(directory: impl Into<PathBuf>, environment: &str) -> LocalStore {
        LocalStore {
            directory: directory.into(),
            environment: environment.to_owned(),
            project: None,
            held: Mutex::new(None),
        }
    }
    /// Refuses, on load, a state another project wrote (two systems with
    /// a `dev` environment and one state directory).
    pub fn for_project(mut self, project: &str) -> LocalStore {
        self.project = Some(project.to_owned());
        self
    }
    pub fn path(&self) -> PathBuf {
        self.directory.join(format!("{}.json", self.environment))
    }
    /// Steps of an apply since the document was last written whole: one
    /// JSON object per line, each synced before the next step begins.
    pub fn journal_path(&self) -> PathBuf {
        self.directory
            .join(format!("{}.journal.jsonl", self.environment))
    }
    fn backup_path(&self) -> PathBuf {
        self.directory
            .join(format!("{}.json.backup", self.environment))
    }
    fn lock_path(&self) -> PathBuf {
        self.directory.join(format!("{}.lock", self.environment))
    }
    /// The lock file, opened without truncating what it says. It is never
    /// deleted: a process waiting on a deleted file would lock a file no
    /// one else sees.
    fn open_lock_file(&self) -> Result<File, StateError> {
        let path = self.lock_path();
        fs::create_dir_all(&self.directory).map_err(write_error(&path))?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_error(&path))
    }
    fn holder_text(&self) -> Option<LockInfo> {
        let text = fs::read_to_string(self.lock_path()).unwrap_or_default();
        Some(
            serde_json::from_str(&text)
                .unwrap_or(LockInfo::unknown("unknown (unreadable lock file)")),
        )
    }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Write {
        path: path.display().to_string(),
        source,
    }
}

impl LocalStore {
    /// Applies the journal's steps newer than the document. A last line
    /// without its newline is a step whose write was cut short (the step
    /// never went on, as each waits for its entry to be synced): ignored.
    fn replay(&self, state: &mut State) -> Result<(), StateError> {
        let path = self.journal_path();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let corrupt = |message: String| StateError::Corrupt {
            path: path.display().to_string(),
            message,
        };
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for (number, line) in complete.lines().enumerate() {
            let entry: JournalEntry = serde_json::from_str(line)
                .map_err(|e| corrupt(format!("line {}: {e}", number + 1)))?;
            if entry.serial <= state.serial {
                continue;
            }
            if entry.serial != state.serial + 1 {
                return Err(corrupt(format!(
                    "line {}: step {} follows serial {}: steps are missing",
                    number + 1,
                    entry.serial,
                    state.serial
                )));
            }
            entry.apply_to(state);
        }
        Ok(())
    }
}

/// The file operations: short local I/O, done in place.
impl LocalStore {
    fn read(&self) -> Result<Option<State>, StateError> {
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
        let mut state = super::parse(text.as_bytes(), &path.display().to_string())?;
        self.replay(&mut state)?;
        match &self.project {
            Some(project) if *project != state.project => Err(StateError::OtherProject {
                path: path.display().to_string(),
                found: state.project,
                expected: project.clone(),
            }),
            _ => Ok(Some(state)),
        }
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        let path = self.path();
        fs::create_dir_all(&self.directory).map_err(write_error(&path))?;
        let temporary = self.directory.join(format!(
            ".{}.json.{}.tmp",
            self.environment,
            std::process::id()
        ));
        {
            // Written as it is serialized: a state of thousands of
            // resources is never also held as one string.
            let file = File::create(&temporary).map_err(write_error(&temporary))?;
            let mut writer = std::io::BufWriter::new(file);
            serde_json::to_writer_pretty(&mut writer, state)
                .map_err(std::io::Error::from)
                .and_then(|()| writer.write_all(b"\n"))
                .map_err(write_error(&temporary))?;
            let file = writer
                .into_inner()
                .map_err(|e| write_error(&temporary)(e.into_error()))?;
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
        // The document now holds every step the journal recorded (their
        // serials are at most its own, so a journal left by a crash here
        // replays nothing).
        match fs::remove_file(self.journal_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(write_error(&self.journal_path())(e))
            }
            _ => {}
        }
        Ok(())
    }

    fn write_step(&self, state: &State, entry: &JournalEntry) -> Result<(), StateError> {
        if !self.path().exists() {
            return self.write(state);
        }
        let path = self.journal_path();
        let created = !path.exists();
        let mut line = serde_json::to_string(entry).expect("a journal entry serializes");
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(write_error(&path))?;
        file.write_all(line.as_bytes())
            .map_err(write_error(&path))?;
        file.sync_data().map_err(write_error(&path))?;
        if created {
            if let Ok(directory) = File::open(&self.directory) {
                let _ = directory.sync_all();
            }
        }
        Ok(())
    }

    fn fold(&self, state: &State) -> Result<(), StateError> {
        if self.journal_path().exists() {
            self.write(state)?;
        }
        Ok(())
    }

    async fn take_lock(&self, operation: &str, timeout: Duration) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        let info = LockInfo::new(operation);
        let started = Instant::now();
        let mut file = self.open_lock_file()?;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    let text = serde_json::to_string_pretty(&info).expect("lock serializes");
                    file.set_len(0).map_err(write_error(&path))?;
                    file.seek(SeekFrom::Start(0)).map_err(write_error(&path))?;
                    file.write_all(text.as_bytes())
                        .map_err(write_error(&path))?;
                    file.sync_all().map_err(write_error(&path))?;
                    *self.held.lock().expect("held lock") = Some((info.id.clone(), file));
                    return Ok(info);
                }
                Err(TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        let held = self.holder_text().unwrap_or(LockInfo::unknown("unknown"));
                        return Err(StateError::Locked(Box::new(held)));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StateError::Write {
                        path: path.display().to_string(),
                        source,
                    })
                }
            }
        }
    }

    fn release(&self, id: &str) -> Result<(), StateError> {
        {
            let mut held = self.held.lock().expect("held lock");
            if held.as_ref().is_some_and(|(mine, _)| mine == id) {
                if let Some((_, file)) = held.take() {
                    // What the file says goes first; closing releases the lock.
                    let _ = file.set_len(0);
                    let _ = file.unlock();
                }
                return Ok(());
            }
        }
        match self.lock_holder()? {
            // Only the process holding an OS lock can release it; it does
            // when it ends, however it ends.
            Some(info) => Err(StateError::HeldByRunningProcess(Box::new(info))),
            // Nobody holds it: whatever the file says is stale.
            None => Ok(()),
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        if self.held.lock().expect("held lock").is_some() {
            return Ok(self.holder_text());
        }
        if !self.lock_path().exists() {
            return Ok(None);
        }
        let file = self.open_lock_file()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(TryLockError::WouldBlock) => Ok(self.holder_text()),
            Err(TryLockError::Error(source)) => Err(StateError::Read {
                path: self.lock_path().display().to_string(),
                source,
            }),
        }
    }
}

/// Consumers: one file each in `ENV.consumers/`, written whole and
/// renamed into place, so a crash leaves the old record or the new one.
impl LocalStore {
    fn consumers_directory(&self) -> PathBuf {
        self.directory
            .join(format!("{}.consumers", self.environment))
    }
    fn consumer_path(&self, id: &str) -> PathBuf {
        let file: String = id
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '-' {
                    ch
                } else {
                    '_'
                }
            })
            .collect();
        self.consumers_directory().join(format!("{file}.json"))
    }
    fn read_consumers(&self) -> Result<Vec<super::Consumer>, StateError> {
        let directory = self.consumers_directory();
        let entries = match fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StateError::Read {
                    path: directory.display().to_string(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(|source| StateError::Read {
                path: path.display().to_string(),
                source,
            })?;
            out.push(
                serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?,
            );
        }
        out.sort_by(|a: &super::Consumer, b| a.id.cmp(&b.id));
        Ok(out)
    }
    fn write_consumer(&self, consumer: &super::Consumer) -> Result<(), StateError> {
        let path = self.consumer_path(&consumer.id);
        let directory = self.consumers_directory();
        fs::create_dir_all(&directory).map_err(write_error(&directory))?;
        let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(consumer).expect("a consumer serializes");
        let mut file = File::create(&temporary).map_err(write_error(&temporary))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(write_error(&temporary))?;
        fs::rename(&temporary, &path).map_err(write_error(&path))
    }
    fn delete_consumer(&self, id: &str) -> Result<(), StateError> {
        let path = self.consumer_path(id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(write_error(&path)(e)),
            _ => Ok(()),
        }
    }
}

impl StateStore for LocalStore {
    fn describe(&self) -> String {
        self.path().display().to_string()
    }
    fn identity(&self) -> String {
        let directory =
            std::fs::canonicalize(&self.directory).unwrap_or_else(|_| self.directory.clone());
        directory
            .join(format!("{}.json", self.environment))
            .display()
            .to_string()
    }
    fn consumers(&self) -> BoxFuture<'_, Result<Vec<super::Consumer>, StateError>> {
        Box::pin(async { self.read_consumers() })
    }
    fn add_consumer<'a>(
        &'a self,
        consumer: &'a super::Consumer,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.write_consumer(consumer) })
    }
    fn remove_consumer<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.delete_consumer(id) })
    }
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StateError>> {
        Box::pin(async { self.read() })
    }
    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.write(state) })
    }
    fn append<'a>(
        &'a self,
        state: &'a State,
        entry: &'a JournalEntry,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.write_step(state, entry) })
    }
    fn compact<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.fold(state) })
    }
    fn lock<'a>(
        &'a self,
        operation: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<LockInfo, StateError>> {
        Box::pin(self.take_lock(operation, timeout))
    }
    fn unlock<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async { self.release(id) })
    }
    fn current_lock(&self) -> BoxFuture<'_, Result<Option<LockInfo>, StateError>> {
        Box::pin(async { self.lock_holder() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ResourceState, Status};

    #[tokio::test]
    async fn save_is_atomic_and_keeps_the_previous_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        assert!(store.load().await.unwrap().is_none());
        let mut state = State::new("p", "dev");
        store.save(&state).await.unwrap();
        state.serial = 1;
        store.save(&state).await.unwrap();
        assert_eq!(store.load().await.unwrap().unwrap().serial, 1);
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

    fn resource(id: &str) -> ResourceState {
        ResourceState {
            type_name: "log_group".into(),
            name: id.into(),
            status: Status::Created,
            id: Some(id.into()),
            attributes: serde_json::Map::new().into(),
            outputs: serde_json::Map::new(),
            dependencies: Vec::new(),
            protect: false,
            sensitive: Vec::new(),
            region: None,
        }
    }

    /// Steps go to the journal, one synced line each; a load replays them;
    /// a line cut short by a crash is a step that never happened; a full
    /// save (compaction) folds them in and removes the journal.
    #[tokio::test]
    async fn steps_are_journaled_replayed_and_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        let mut state = State::new("p", "dev");
        // No document yet: the first step writes it whole.
        let first = JournalEntry {
            serial: 1,
            remove: Vec::new(),
            put: [("log_group.a".to_owned(), resource("a"))].into(),
        };
        first.apply_to(&mut state);
        store.append(&state, &first).await.unwrap();
        assert!(!store.journal_path().exists());
        let document_before = fs::read(store.path()).unwrap();
        for (serial, put, remove) in [(2, Some("b"), None), (3, Some("c"), Some("log_group.a"))] {
            let entry = JournalEntry {
                serial,
                remove: remove.map(|a: &str| vec![a.to_owned()]).unwrap_or_default(),
                put: put
                    .map(|id| [(format!("log_group.{id}"), resource(id))].into())
                    .unwrap_or_default(),
            };
            entry.apply_to(&mut state);
            store.append(&state, &entry).await.unwrap();
        }
        // The document is untouched; the journal has two lines.
        assert_eq!(fs::read(store.path()).unwrap(), document_before);
        let journal = fs::read_to_string(store.journal_path()).unwrap();
        assert_eq!(journal.lines().count(), 2);
        assert_eq!(store.load().await.unwrap().unwrap(), state);

        // A torn last line (a write cut short) is not replayed.
        let mut torn = journal.clone();
        torn.push_str(r#"{"serial":4,"remove":["log_group.b"]"#);
        fs::write(store.journal_path(), &torn).unwrap();
        assert_eq!(store.load().await.unwrap().unwrap(), state);

        // Missing steps are corruption, said with the line.
        let gap = journal.replacen("\"serial\":2", "\"serial\":7", 1);
        fs::write(store.journal_path(), gap).unwrap();
        let Err(StateError::Corrupt { message, .. }) = store.load().await else {
            panic!("a journal with a gap was replayed")
        };
        assert!(message.contains("line 1"), "{message}");

        // Compaction: the document holds everything, the journal is gone,
        // and a journal left behind by a crash after the document was
        // written replays nothing.
        fs::write(store.journal_path(), &journal).unwrap();
        store.compact(&state).await.unwrap();
        assert!(!store.journal_path().exists());
        fs::write(store.journal_path(), &journal).unwrap();
        assert_eq!(store.load().await.unwrap().unwrap(), state);
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.serial, 3);
        assert_eq!(
            loaded.resources.keys().collect::<Vec<_>>(),
            ["log_group.b", "log_group.c"]
        );
    }

    #[tokio::test]
    async fn a_second_lock_waits_then_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        let first = store.lock("apply", Duration::ZERO).await.unwrap();
        let second = LocalStore::new(dir.path(), "dev");
        let Err(StateError::Locked(held)) = second.lock("plan", Duration::from_millis(300)).await
        else {
            panic!("second lock was granted")
        };
        assert_eq!(held.id, first.id);
        assert_eq!(held.operation, "apply");
        // Another store (another process, for the OS) cannot release it.
        let other = LocalStore::new(dir.path(), "dev");
        assert!(matches!(
            other.unlock(&first.id).await,
            Err(StateError::HeldByRunningProcess(_))
        ));
        store.unlock(&first.id).await.unwrap();
        assert_eq!(other.current_lock().await.unwrap(), None);
        other.lock("plan", Duration::ZERO).await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_whose_holder_is_gone_is_free() {
        let dir = tempfile::tempdir().unwrap();
        // A holder that wrote its details and ended without unlocking.
        fs::write(
            dir.path().join("dev.lock"),
            serde_json::to_string(&LockInfo::new("apply")).unwrap(),
        )
        .unwrap();
        let store = LocalStore::new(dir.path(), "dev");
        assert_eq!(store.current_lock().await.unwrap(), None);
        store.lock("apply", Duration::ZERO).await.unwrap();
    }
}
