//! TTL clean-up: the rule for when a stored file has expired, and the
//! periodic sweep that deletes expired files and the directories they leave
//! empty.
//!
//! Age is measured from the file's modification time, which is when its upload
//! finished (the temporary file is renamed into place, keeping its mtime), so a
//! re-upload to the same path restarts the clock.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::path::TEMP_PREFIX;

/// An upload in progress keeps touching its temporary file; one untouched for
/// this long (or the TTL, if longer) belongs to a server that died mid-upload.
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(3600);

/// Whether a file last modified at `modified` has outlived `ttl` at `now`.
/// A modification time in the future (clock steps) never counts as expired.
pub(crate) fn is_expired(modified: SystemTime, ttl: Duration, now: SystemTime) -> bool {
    now.duration_since(modified).is_ok_and(|age| age >= ttl)
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SweepStats {
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    pub(crate) dirs: u64,
    pub(crate) errors: u64,
}

/// Runs a sweep every `interval` until the task is aborted.
pub(crate) async fn run(root: PathBuf, ttl: Duration, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let dir = root.clone();
        // The walk is plain blocking filesystem work; keep it off the workers
        // that serve requests.
        match tokio::task::spawn_blocking(move || sweep(&dir, ttl, SystemTime::now())).await {
            Ok(stats) if stats.files > 0 || stats.dirs > 0 || stats.errors > 0 => {
                tracing::info!(
                    files = stats.files,
                    bytes = stats.bytes,
                    dirs = stats.dirs,
                    errors = stats.errors,
                    ttl_s = ttl.as_secs_f64(),
                    "ttl clean-up removed expired files"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "ttl clean-up task failed"),
        }
    }
}

/// Deletes every regular file under `root` older than `ttl`, then every
/// directory below `root` left empty. `root` itself stays.
pub(crate) fn sweep(root: &Path, ttl: Duration, now: SystemTime) -> SweepStats {
    let mut stats = SweepStats::default();
    sweep_dir(root, ttl, now, &mut stats);
    stats
}

/// Returns whether `dir` is empty after the sweep.
fn sweep_dir(dir: &Path, ttl: Duration, now: SystemTime, stats: &mut SweepStats) -> bool {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            // Gone already (a DELETE or a concurrent sweep): nothing to do.
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %err, "ttl clean-up cannot read directory");
                stats.errors += 1;
            }
            return false;
        }
    };
    let mut empty = true;
    for entry in entries {
        let Ok(entry) = entry else {
            stats.errors += 1;
            empty = false;
            continue;
        };
        let path = entry.path();
        // `DirEntry::metadata` does not follow symlinks: a link is never
        // followed out of the served directory, nor deleted.
        let Ok(meta) = entry.metadata() else {
            empty = false;
            continue;
        };
        if meta.is_dir() {
            if sweep_dir(&path, ttl, now, stats) {
                // Fails harmlessly when an upload created a file meanwhile;
                // an upload that lost its fresh directory here retries.
                if std::fs::remove_dir(&path).is_ok() {
                    stats.dirs += 1;
                } else {
                    empty = false;
                }
            } else {
                empty = false;
            }
            continue;
        }
        if !meta.is_file() {
            empty = false;
            continue;
        }
        let max_age = if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            ttl.max(STALE_UPLOAD_AGE)
        } else {
            ttl
        };
        let expired = meta
            .modified()
            .is_ok_and(|modified| is_expired(modified, max_age, now));
        if !expired {
            empty = false;
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                stats.files += 1;
                stats.bytes += meta.len();
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(file = %path.display(), error = %err, "ttl clean-up cannot delete file");
                stats.errors += 1;
                empty = false;
            }
        }
    }
    empty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_measured_from_the_modification_time() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ttl = Duration::from_secs(10);
        assert!(!is_expired(t0, ttl, t0));
        assert!(!is_expired(t0, ttl, t0 + Duration::from_secs(9)));
        assert!(is_expired(t0, ttl, t0 + Duration::from_secs(10)));
        assert!(!is_expired(t0 + Duration::from_secs(60), ttl, t0));
    }

    #[test]
    fn sweep_removes_old_files_and_empty_dirs_only() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join("a/b/old.bin");
        let young = root.path().join("c/young.bin");
        let empty_dir = root.path().join("empty");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::create_dir_all(young.parent().unwrap()).unwrap();
        std::fs::create_dir_all(&empty_dir).unwrap();
        std::fs::write(&old, b"12345").unwrap();
        std::fs::write(&young, b"x").unwrap();
        let temp = root.path().join(format!("c/{TEMP_PREFIX}1-1.tmp"));
        std::fs::write(&temp, b"partial").unwrap();

        // Judge ages from a "now" 100 s ahead, then set the young file's mtime
        // into that future so only it stays fresh.
        let now = SystemTime::now() + Duration::from_secs(100);
        std::fs::File::options()
            .write(true)
            .open(&young)
            .unwrap()
            .set_modified(now)
            .unwrap();
        let stats = sweep(root.path(), Duration::from_secs(50), now);

        assert!(!old.exists(), "old file removed");
        assert!(
            !root.path().join("a").exists(),
            "its empty directories removed"
        );
        assert!(young.exists(), "young file kept");
        assert!(temp.exists(), "a recent upload in progress is kept");
        assert!(!empty_dir.exists(), "an empty directory is removed");
        assert!(root.path().exists(), "the root stays");
        assert_eq!(stats.files, 1);
        assert_eq!(stats.bytes, 5);
        assert_eq!(stats.dirs, 3);
    }
}
