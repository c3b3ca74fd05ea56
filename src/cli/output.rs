//! Report folders: where a command may write, and how a finished folder replaces the old one.
//!
//! A command writes a folder only when the path does not exist, is an empty folder, or holds a
//! report of ours: a folder whose [`MANIFEST`] lists every file in it. Anything else is refused
//! before any work starts, and nothing is deleted. We never delete a file that a manifest of ours
//! does not list, and never follow a symbolic link.
//!
//! Writing ([`Target::write`]): every file goes into a fresh sibling folder
//! `.NAME.bakong-sim-PID-N.tmp`, the manifest first (so a leftover is always recognisable), each
//! file synced to disk; then the new folder and the old one are swapped in one step
//! (`renameat2` with `RENAME_EXCHANGE` on Linux), so the path holds the whole old report or the
//! whole new one at every instant; then the old one, now in the sibling folder, is removed file
//! by file as its manifest lists them. Where the exchange is not available, the old folder is
//! first renamed aside to `.NAME.bakong-sim-PID-N.old`: a run killed between the two renames
//! leaves the path empty and the old report whole beside it, and the next run puts it back.
//!
//! A long run may stream some files before the rest exist ([`Target::stream`], the clearing
//! files as each business date closes): the sibling folder is made at the first, and before each
//! streamed file is written the manifest is replaced (written beside it, then renamed over it)
//! by one that lists it, so the folder is always recognisable and removable as ours. The other
//! files join them at the end as above. A run that fails after streaming removes the folder.
//!
//! Two commands writing one folder take turns: each holds an exclusive lock on the sibling file
//! `.NAME.bakong-sim.lock` from the check of the target ([`Target::prepare`]) to the end of the
//! swap. The second waits, and says so on stderr.
//!
//! Fault injection for the crash tests: with `BAKONG_SIM_FAULT_STEP=N` in the environment, the
//! writer aborts the process (no clean-up, as `kill -9`) at its `N`th step (1 = the temporary
//! folder is made; then each streamed file's manifest and the file, during the run; then the
//! manifest, each file, the syncs, the swap, each removal).

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::report::ReportFile;

/// The manifest's file name, at the top of every folder we write.
pub(super) const MANIFEST: &str = "bakong-sim-manifest.json";
/// Where a replacement manifest is written before it is renamed over the manifest.
const MANIFEST_NEXT: &str = "bakong-sim-manifest.json.next";
/// The manifest format's version.
const MANIFEST_VERSION: u32 = 1;
/// A manifest larger than this is not ours.
const MANIFEST_BYTES_MAX: u64 = 1 << 20;
/// Most files and folders a report folder may hold (the walk that checks a folder stops here).
const FOLDER_ENTRIES_MAX: usize = 10_000;
/// Deepest nesting of a report folder.
const FOLDER_DEPTH_MAX: usize = 4;
/// What marks our sibling folders, between the target's name and the writer's id.
const SIBLING_MARK: &str = ".bakong-sim-";
/// The environment variable of the crash tests' fault points.
const FAULT_STEP_VARIABLE: &str = "BAKONG_SIM_FAULT_STEP";

/// What a manifest says: who wrote the folder, and every file in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// Always `bakong-sim`.
    tool: String,
    /// [`MANIFEST_VERSION`].
    manifest_version: u32,
    /// The command that wrote it (`run`, `recon`, ...).
    command: String,
    /// The commit of the binary that wrote it.
    commit: String,
    /// The scenario's name, for runs.
    #[serde(default)]
    scenario: Option<String>,
    /// The seed, for runs.
    #[serde(default)]
    seed: Option<u64>,
    /// Every file, sorted by path.
    files: Vec<Entry>,
}

/// One file of a manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    /// Relative, `/`-separated.
    path: String,
    /// Its length.
    bytes: u64,
    /// Lower-case hex SHA-256 of its bytes.
    sha256: String,
}

/// Who is writing a folder: goes into its manifest.
#[derive(Clone, Debug)]
pub(super) struct Writer {
    /// The command (`run`, `recon`, ...).
    pub(super) command: &'static str,
    /// The scenario's name, for runs.
    pub(super) scenario: Option<String>,
    /// The seed, for runs.
    pub(super) seed: Option<u64>,
}

/// What writing a folder did besides the writing.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// Whether a previous report was replaced.
    pub(super) replaced: bool,
    /// Things to tell the user (a leftover cleaned, something left alone).
    pub(super) notes: Vec<String>,
}

/// A report folder that may be written: checked, locked, tidied.
#[derive(Debug)]
pub(super) struct Target {
    /// As the user named it, for messages.
    shown: PathBuf,
    /// The absolute folder it is in.
    parent: PathBuf,
    /// Its name in the parent.
    name: OsString,
    /// Held until the folder is written.
    _lock: File,
    /// What the preparation did.
    notes: Vec<String>,
    /// The sibling folder files were streamed into, and their manifest entries.
    streamed: Option<(PathBuf, Vec<Entry>)>,
    /// The crash tests' fault points, counted over the streamed files and the write.
    faults: Faults,
}

/// What a folder holds.
#[derive(Debug)]
enum Contents {
    /// Nothing at the path.
    Absent,
    /// An empty folder.
    Empty,
    /// A report of ours and nothing else.
    Report,
    /// Something else: why, for the message.
    Foreign(String),
}

impl Target {
    /// Checks `path` as a folder to write a report into, takes its lock (waiting while another
    /// command writes it), and deals with what an interrupted writer left beside it.
    ///
    /// # Errors
    /// The path cannot hold a report of ours (a file, a link, a folder with other files, the
    /// current folder), or the file system refuses.
    pub(super) fn prepare(path: &Path) -> anyhow::Result<Target> {
        let shown = path.to_path_buf();
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name,
            Some(Component::CurDir) => bail!(
                "{}: is the current folder; give a folder of its own, such as reports/x \
                 (nothing was changed)",
                show(path)
            ),
            _ => bail!(
                "{}: names no folder of its own; give one, such as reports/x (nothing was changed)",
                show(path)
            ),
        };
        let name = name.to_os_string();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).with_context(|| format!("creating {}", show(&parent)))?;
        let parent =
            fs::canonicalize(&parent).with_context(|| format!("finding {}", show(&parent)))?;
        let absolute = parent.join(&name);
        if let Ok(cwd) = std::env::current_dir()
            && fs::canonicalize(&cwd).unwrap_or(cwd).starts_with(&absolute)
        {
            bail!(
                "{}: is the current folder or holds it; give a folder of its own, such as reports/x \
                 (nothing was changed)",
                show(path)
            );
        }
        let lock = lock(&parent, &name, path)?;
        let mut target = Target {
            shown,
            parent,
            name,
            _lock: lock,
            notes: Vec::new(),
            streamed: None,
            faults: Faults::from_environment(),
        };
        target.recover_leftovers()?;
        match inspect(&target.path())? {
            Contents::Absent | Contents::Empty | Contents::Report => Ok(target),
            Contents::Foreign(why) => bail!("{}: {why} (nothing was changed)", show(path)),
        }
    }

    fn path(&self) -> PathBuf {
        self.parent.join(&self.name)
    }

    fn sibling(&self, id: &str, suffix: &str) -> PathBuf {
        let mut name = OsString::from(".");
        name.push(&self.name);
        name.push(SIBLING_MARK);
        name.push(id);
        name.push(suffix);
        self.parent.join(name)
    }

    /// Our sibling folders left by interrupted writers: (path, is `.old`).
    fn leftovers(&self) -> anyhow::Result<Vec<(PathBuf, bool)>> {
        let mut prefix = OsString::from(".");
        prefix.push(&self.name);
        prefix.push(SIBLING_MARK);
        let prefix = prefix.to_string_lossy().into_owned();
        let mut found = Vec::new();
        let entries = fs::read_dir(&self.parent)
            .with_context(|| format!("reading {}", show(&self.parent)))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", show(&self.parent)))?;
            let file_name = entry.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            let (id, old) = match (rest.strip_suffix(".tmp"), rest.strip_suffix(".old")) {
                (Some(id), _) => (id, false),
                (_, Some(id)) => (id, true),
                _ => continue,
            };
            let is_writer_id = id.split_once('-').is_some_and(|(pid, n)| {
                !pid.is_empty()
                    && !n.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && n.bytes().all(|b| b.is_ascii_digit())
            });
            if is_writer_id && entry.file_type().is_ok_and(|t| t.is_dir()) {
                found.push((entry.path(), old));
            }
        }
        found.sort();
        Ok(found)
    }

    /// Puts back an old report that an interrupted swap left aside, and removes unfinished
    /// folders, saying what it did.
    fn recover_leftovers(&mut self) -> anyhow::Result<()> {
        let leftovers = self.leftovers()?;
        for (path, old) in &leftovers {
            let absent = matches!(fs::symlink_metadata(self.path()), Err(e) if e.kind() == io::ErrorKind::NotFound);
            if *old && absent && is_whole(path) {
                fs::rename(path, self.path()).with_context(|| {
                    format!("restoring {} to {}", show(path), show(&self.path()))
                })?;
                self.notes.push(format!(
                    "restored the previous report to {} from {}, left by an interrupted replacement",
                    show(&self.shown),
                    show(path)
                ));
            }
        }
        for (path, _) in leftovers {
            if fs::symlink_metadata(&path).is_err() {
                continue;
            }
            let note = match remove_ours(&path, true) {
                Ok(()) => format!("removed {}, left by an interrupted run", show(&path)),
                Err(why) => format!("left {} alone: {why}", show(&path)),
            };
            self.notes.push(note);
        }
        Ok(())
    }

    /// Writes `files` as the folder's contents: into a sibling folder, manifest first, then one
    /// swap with the old report, which is then removed.
    ///
    /// # Errors
    /// The file system refuses, or the folder was changed by someone else during the run (the
    /// new report is then left in its sibling folder, and the message says where).
    pub(super) fn write(
        mut self,
        writer: &Writer,
        files: Vec<ReportFile>,
    ) -> anyhow::Result<Written> {
        let mut faults = std::mem::replace(&mut self.faults, Faults::none());
        let mut manifest = manifest(writer, &files)?;
        if let Some((_, streamed)) = &self.streamed {
            manifest.files.extend(streamed.iter().cloned());
            manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
            if let Some(pair) = manifest.files.windows(2).find(|w| w[0].path == w[1].path) {
                bail!("two report files named {}", pair[0].path);
            }
        }
        let temporary = match self.streamed.take() {
            Some((temporary, _)) => {
                faults.step();
                replace_manifest(&temporary, &manifest)?;
                temporary
            }
            None => {
                let temporary = self.make_temporary()?;
                faults.step();
                write_file(&temporary.join(MANIFEST), &manifest_bytes(&manifest))?;
                temporary
            }
        };
        faults.step();
        for file in &files {
            let path = temporary.join(&file.path);
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", show(dir)))?;
            }
            write_file(&path, &file.bytes)?;
            faults.step();
        }
        sync_folders(&temporary, &files)?;
        faults.step();
        let target = self.path();
        let replaced = match inspect(&target)? {
            Contents::Absent => {
                fs::rename(&temporary, &target).with_context(|| {
                    format!("renaming {} to {}", show(&temporary), show(&target))
                })?;
                false
            }
            contents @ (Contents::Empty | Contents::Report) => {
                self.swap(&temporary, &target, &mut faults)?;
                matches!(contents, Contents::Report)
            }
            Contents::Foreign(why) => bail!(
                "{}: {why} (it changed during the run); the new report is in {}",
                show(&self.shown),
                show(&temporary)
            ),
        };
        faults.step();
        sync_folder(&self.parent)?;
        if fs::symlink_metadata(&temporary).is_ok() {
            // The old report (or the empty folder) is now where the new one was built.
            if let Err(why) = remove_ours_with(&temporary, false, &mut faults) {
                self.notes.push(format!("left {} alone: {why}", show(&temporary)));
            }
        }
        Ok(Written { replaced, notes: std::mem::take(&mut self.notes) })
    }

    /// Swaps the new folder in: one exchange where the system has it, else two renames with the
    /// old folder set aside (recovered by [`Target::prepare`] if the second never happens).
    fn swap(&self, temporary: &Path, target: &Path, faults: &mut Faults) -> anyhow::Result<()> {
        match exchange(temporary, target) {
            Ok(()) => return Ok(()),
            Err(e) if exchange_unsupported(&e) => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("swapping {} with {}", show(temporary), show(target))
                });
            }
        }
        let aside = temporary.with_extension("old");
        fs::rename(target, &aside)
            .with_context(|| format!("renaming {} to {}", show(target), show(&aside)))?;
        faults.step();
        fs::rename(temporary, target)
            .with_context(|| format!("renaming {} to {}", show(temporary), show(target)))?;
        fs::rename(&aside, temporary)
            .with_context(|| format!("renaming {} to {}", show(&aside), show(temporary)))
    }

    fn make_temporary(&self) -> anyhow::Result<PathBuf> {
        for n in 0..1000 {
            let path = self.sibling(&format!("{}-{n}", std::process::id()), ".tmp");
            match fs::create_dir(&path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("creating {}", show(&path))),
            }
        }
        bail!("no free name for a temporary folder beside {}", show(&self.shown))
    }

    /// What preparing the folder did (leftovers removed or restored), taken: said once, so
    /// that [`Target::write`]'s own notes do not repeat them.
    pub(super) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Writes one file of the report now, before the others: into the sibling folder that
    /// [`Target::write`] finishes, after a manifest that lists it has replaced the last one.
    ///
    /// # Errors
    /// A second file of the same name, or the file system refuses.
    pub(super) fn stream(&mut self, writer: &Writer, file: &ReportFile) -> anyhow::Result<()> {
        assert!(valid_relative(&file.path), "report file names are plain: {}", file.path);
        if self.streamed.is_none() {
            self.streamed = Some((self.make_temporary()?, Vec::new()));
            self.faults.step();
        }
        let (folder, entries) = self.streamed.as_mut().expect("made above");
        if entries.iter().any(|e| e.path == file.path) {
            bail!("two report files named {}", file.path);
        }
        entries.push(Entry {
            path: file.path.clone(),
            bytes: file.bytes.len() as u64,
            sha256: sha256_hex(&file.bytes),
        });
        let mut listing = manifest(writer, &[])?;
        listing.files.clone_from(entries);
        listing.files.sort_by(|a, b| a.path.cmp(&b.path));
        replace_manifest(folder, &listing)?;
        self.faults.step();
        let path = folder.join(&file.path);
        let dir = path.parent().expect("inside the folder");
        fs::create_dir_all(dir).with_context(|| format!("creating {}", show(dir)))?;
        write_file(&path, &file.bytes)?;
        sync_folder(dir)?;
        self.faults.step();
        Ok(())
    }
}

impl Drop for Target {
    /// A target dropped with streamed files, unfinished, removes them: the run failed.
    fn drop(&mut self) {
        if let Some((folder, _)) = self.streamed.take() {
            let _ = remove_ours(&folder, true);
        }
    }
}

/// Replaces a folder's manifest: written beside it, synced, then renamed over it.
fn replace_manifest(folder: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let next = folder.join(MANIFEST_NEXT);
    let _ = fs::remove_file(&next);
    write_file(&next, &manifest_bytes(manifest))?;
    let path = folder.join(MANIFEST);
    fs::rename(&next, &path)
        .with_context(|| format!("renaming {} to {}", show(&next), show(&path)))?;
    sync_folder(folder)
}

/// A path as we print it.
fn show(path: &Path) -> String {
    path.display().to_string()
}

/// Takes the folder's lock, waiting (and saying so) while another command holds it.
fn lock(parent: &Path, name: &OsStr, shown: &Path) -> anyhow::Result<File> {
    let mut lock_name = OsString::from(".");
    lock_name.push(name);
    lock_name.push(".bakong-sim.lock");
    let path = parent.join(lock_name);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock {}", show(&path)))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            eprintln!("waiting: another sim{who} is writing {}", show(shown));
            file.lock().with_context(|| format!("locking {}", show(&path)))?;
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", show(&path)));
        }
    }
    file.set_len(0).with_context(|| format!("writing {}", show(&path)))?;
    file.write_all(std::process::id().to_string().as_bytes())
        .with_context(|| format!("writing {}", show(&path)))?;
    Ok(file)
}

/// Checks one relative path of a manifest: plain parts only, so that nothing a manifest says
/// can reach outside its folder.
fn valid_relative(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').count() <= FOLDER_DEPTH_MAX
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// Lower-case hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn manifest(writer: &Writer, files: &[ReportFile]) -> anyhow::Result<Manifest> {
    let mut entries = Vec::with_capacity(files.len());
    for file in files {
        assert!(valid_relative(&file.path), "report file names are plain: {}", file.path);
        assert!(file.path != MANIFEST, "the manifest is written by the writer");
        entries.push(Entry {
            path: file.path.clone(),
            bytes: file.bytes.len() as u64,
            sha256: sha256_hex(&file.bytes),
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(pair) = entries.windows(2).find(|w| w[0].path == w[1].path) {
        bail!("two report files named {}", pair[0].path);
    }
    Ok(Manifest {
        tool: "bakong-sim".into(),
        manifest_version: MANIFEST_VERSION,
        command: writer.command.into(),
        commit: option_env!("BAKONG_SIM_COMMIT").unwrap_or("unknown").into(),
        scenario: writer.scenario.clone(),
        seed: writer.seed,
        files: entries,
    })
}

fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    let mut text = serde_json::to_string_pretty(manifest).expect("a manifest serialises");
    text.push('\n');
    text.into_bytes()
}

/// The files a report folder of ours lists, with their lengths; `None` when it is not ours.
pub(super) fn listed_files(dir: &Path) -> Option<Vec<(String, u64)>> {
    read_manifest(dir).map(|m| m.files.into_iter().map(|f| (f.path, f.bytes)).collect())
}

/// Reads a folder's manifest: `None` when there is none, or it is not one of ours.
fn read_manifest(dir: &Path) -> Option<Manifest> {
    let path = dir.join(MANIFEST);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MANIFEST_BYTES_MAX {
        return None;
    }
    let text = fs::read_to_string(&path).ok()?;
    let manifest: Manifest = serde_json::from_str(&text).ok()?;
    let ours = manifest.tool == "bakong-sim"
        && manifest.manifest_version == MANIFEST_VERSION
        && manifest.files.iter().all(|f| valid_relative(&f.path) && f.path != MANIFEST);
    ours.then_some(manifest)
}

/// Every file and folder under `dir`, relative, `/`-separated; symbolic links and anything
/// that is neither a file nor a folder are reported as such.
fn walk(dir: &Path) -> anyhow::Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let (mut files, mut folders, mut strange) = (Vec::new(), Vec::new(), Vec::new());
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((path, relative, depth)) = stack.pop() {
        for entry in fs::read_dir(&path).with_context(|| format!("reading {}", show(&path)))? {
            let entry = entry.with_context(|| format!("reading {}", show(&path)))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if relative.is_empty() { name } else { format!("{relative}/{name}") };
            let kind = entry.file_type().with_context(|| format!("reading {}", show(&path)))?;
            if files.len() + folders.len() + strange.len() >= FOLDER_ENTRIES_MAX {
                strange.push(format!("more than {FOLDER_ENTRIES_MAX} entries"));
                return Ok((files, folders, strange));
            }
            if kind.is_dir() && depth < FOLDER_DEPTH_MAX {
                folders.push(child.clone());
                stack.push((entry.path(), child, depth + 1));
            } else if kind.is_file() {
                files.push(child);
            } else {
                strange.push(child);
            }
        }
    }
    files.sort();
    folders.sort();
    Ok((files, folders, strange))
}

/// What is at `path`.
fn inspect(path: &Path) -> anyhow::Result<Contents> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::Absent),
        Err(e) => return Err(e).with_context(|| format!("reading {}", show(path))),
    };
    if meta.file_type().is_symlink() {
        return Ok(Contents::Foreign("is a symbolic link; name the folder itself".into()));
    }
    if !meta.is_dir() {
        return Ok(Contents::Foreign(
            "is a file, not a folder; choose a new or empty folder".into(),
        ));
    }
    let (files, folders, strange) = walk(path)?;
    if files.is_empty() && folders.is_empty() && strange.is_empty() {
        return Ok(Contents::Empty);
    }
    let Some(manifest) = read_manifest(path) else {
        return Ok(Contents::Foreign(format!(
            "is not empty and holds no bakong-sim report (it has {}); choose a new or empty folder",
            examples(files.iter().chain(&folders).chain(&strange))
        )));
    };
    let listed = |f: &String| f == MANIFEST || manifest.files.iter().any(|e| e.path == *f);
    let holds = |d: &String| manifest.files.iter().any(|e| e.path.starts_with(&format!("{d}/")));
    let extra: Vec<&String> = files
        .iter()
        .filter(|f| !listed(f))
        .chain(folders.iter().filter(|d| !holds(d)))
        .chain(&strange)
        .collect();
    if extra.is_empty() {
        Ok(Contents::Report)
    } else {
        Ok(Contents::Foreign(format!(
            "holds a bakong-sim report and files it did not write ({}); move them out first",
            examples(extra.into_iter())
        )))
    }
}

fn examples<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&String> = names.collect();
    let mut text: Vec<String> = names.iter().take(5).map(|n| n.to_string()).collect();
    if names.len() > 5 {
        text.push(format!("and {} more", names.len() - 5));
    }
    text.join(", ")
}

/// Whether a folder holds a whole report: its manifest, and every file it lists with the
/// listed length and hash.
pub(super) fn is_whole(dir: &Path) -> bool {
    let Some(manifest) = read_manifest(dir) else { return false };
    manifest.files.iter().all(|e| {
        let path = dir.join(&e.path);
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == e.bytes)
            && fs::read(&path).is_ok_and(|bytes| sha256_hex(&bytes) == e.sha256)
    })
}

/// Removes a folder of ours: the files its manifest lists, the manifest, then the folders left
/// empty. In a sibling folder of ours (`scratch`), a lone manifest that cannot be read (cut short
/// by a kill) goes too. Anything else stays, and the folder with it.
fn remove_ours(dir: &Path, scratch: bool) -> Result<(), String> {
    remove_ours_with(dir, scratch, &mut Faults::none())
}

fn remove_ours_with(dir: &Path, scratch: bool, faults: &mut Faults) -> Result<(), String> {
    let manifest = read_manifest(dir);
    if let Some(m) = &manifest {
        for e in &m.files {
            let path = dir.join(&e.path);
            if fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file()) {
                fs::remove_file(&path).map_err(|err| format!("removing {}: {err}", show(&path)))?;
                faults.step();
            }
        }
    }
    // A replacement manifest that a kill left unrenamed.
    let next = dir.join(MANIFEST_NEXT);
    if scratch && fs::symlink_metadata(&next).is_ok_and(|m| m.is_file()) {
        fs::remove_file(&next).map_err(|err| format!("removing {}: {err}", show(&next)))?;
    }
    let manifest_path = dir.join(MANIFEST);
    let lone = fs::read_dir(dir).map(|entries| entries.count() == 1).unwrap_or(false);
    let is_file = fs::symlink_metadata(&manifest_path).is_ok_and(|m| m.is_file());
    if is_file && (manifest.is_some() || (scratch && lone)) {
        fs::remove_file(&manifest_path)
            .map_err(|err| format!("removing {}: {err}", show(&manifest_path)))?;
    }
    let (_, mut folders, _) = walk(dir).map_err(|e| format!("{e:#}"))?;
    folders.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
    for folder in folders {
        let _ = fs::remove_dir(dir.join(folder));
    }
    fs::remove_dir(dir).map_err(|_| "it holds files bakong-sim did not write".to_string())
}

/// Creates `path` (which must not exist), writes `bytes`, and syncs it to disk.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", show(path)))?;
    file.write_all(bytes).with_context(|| format!("writing {}", show(path)))?;
    file.sync_all().with_context(|| format!("syncing {}", show(path)))
}

/// Syncs a folder's entries to disk (a no-op where folders cannot be opened as files).
fn sync_folder(dir: &Path) -> anyhow::Result<()> {
    match File::open(dir) {
        Ok(file) => match file.sync_all() {
            Ok(()) => Ok(()),
            // Some systems refuse to sync a folder; the data itself is synced.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            Err(e) => Err(e).with_context(|| format!("syncing {}", show(dir))),
        },
        Err(_) => Ok(()),
    }
}

fn sync_folders(root: &Path, files: &[ReportFile]) -> anyhow::Result<()> {
    let mut folders: Vec<PathBuf> =
        files.iter().filter_map(|f| root.join(&f.path).parent().map(Path::to_path_buf)).collect();
    folders.sort();
    folders.dedup();
    for folder in folders {
        sync_folder(&folder)?;
    }
    sync_folder(root)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Linux's EINVAL, ENOSYS and EOPNOTSUPP: what `renameat2` answers where a kernel or a file
/// system has no `RENAME_EXCHANGE`.
const EXCHANGE_UNSUPPORTED_ERRNOS: [i32; 3] = [22, 38, 95];

/// Whether an exchange failed because the system or the file system lacks it.
fn exchange_unsupported(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Unsupported
        || e.raw_os_error().is_some_and(|code| EXCHANGE_UNSUPPORTED_ERRNOS.contains(&code))
}

/// The crash tests' fault points: abort at the `N`th step.
#[derive(Debug)]
struct Faults {
    at: Option<u64>,
    done: u64,
}

impl Faults {
    fn from_environment() -> Faults {
        let at = std::env::var(FAULT_STEP_VARIABLE).ok().and_then(|v| v.parse().ok());
        Faults { at, done: 0 }
    }

    fn none() -> Faults {
        Faults { at: None, done: 0 }
    }

    fn step(&mut self) {
        self.done += 1;
        if self.at == Some(self.done) {
            let _ = io::stderr().flush();
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh parent folder for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bakong-sim-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch folder");
        dir
    }

    fn writer() -> Writer {
        Writer { command: "run", scenario: Some("s".into()), seed: Some(1) }
    }

    /// The names in `parent`, sorted, the lock files left out.
    fn names(parent: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(parent)
            .expect("readable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn streamed_files_join_the_report_or_go_with_a_failed_run() {
        let parent = scratch("stream");
        let out = parent.join("report");
        // Streamed, then the run fails (the target is dropped): nothing is left.
        let mut target = Target::prepare(&out).expect("prepares");
        target.stream(&writer(), &ReportFile::new("clearing/a.csv", "a\n")).expect("streams");
        assert_eq!(names(&parent).len(), 1, "the sibling folder: {:?}", names(&parent));
        let sibling = parent.join(&names(&parent)[0]);
        assert_eq!(listed_files(&sibling).expect("a manifest of ours").len(), 1);
        drop(target);
        assert!(names(&parent).is_empty(), "{:?}", names(&parent));
        // Streamed, then written: the report holds both, its manifest lists both.
        let mut target = Target::prepare(&out).expect("prepares");
        target.stream(&writer(), &ReportFile::new("clearing/a.csv", "a\n")).expect("streams");
        target.stream(&writer(), &ReportFile::new("clearing/b.csv", "b\n")).expect("streams");
        let twice = target.stream(&writer(), &ReportFile::new("clearing/b.csv", "b\n"));
        assert!(twice.is_err(), "a second file of one name is refused");
        target.write(&writer(), vec![ReportFile::new("summary.md", "# s\n")]).expect("writes");
        assert_eq!(names(&parent), ["report"]);
        let listed: Vec<String> =
            listed_files(&out).expect("ours").into_iter().map(|(path, _)| path).collect();
        assert_eq!(listed, ["clearing/a.csv", "clearing/b.csv", "summary.md"]);
        assert!(is_whole(&out));
        // A file written at the end under a streamed name is refused, and nothing is left.
        let mut target = Target::prepare(&out).expect("prepares");
        target.stream(&writer(), &ReportFile::new("clearing/a.csv", "a\n")).expect("streams");
        let clash = target.write(&writer(), vec![ReportFile::new("clearing/a.csv", "x\n")]);
        assert!(clash.is_err());
        assert_eq!(names(&parent), ["report"]);
        assert!(is_whole(&out), "the old report stands");
        fs::remove_dir_all(&parent).expect("clean up");
    }
}
