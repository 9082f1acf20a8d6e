//! Writing received payloads into a receiver's `save_dir`. Names and bytes
//! come from the sender, so nothing here trusts them: every payload is saved
//! as its dataname made safe ([`safe_file_name`], at most 200 bytes), made
//! unique (`name`, `name.1`, ... `name.16`, then `name.<random>`); bytes go
//! to a temporary file created exclusively under a random name, which is
//! hard-linked to its final name only once verified. Neither step follows a
//! symlink or replaces an existing file, so a planted link or an earlier
//! message's file is never written through or overwritten.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::payload::safe_file_name;

/// Numbered names tried before random ones: keeps the common case readable
/// and a flood of equal names from costing more than a few tries each.
const NUMBERED_TRIES: u32 = 16;
/// Random names tried after the numbered ones before giving up.
const RANDOM_TRIES: u32 = 16;

/// Creates `dir` (and its parents) if needed.
fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|err| {
        Error::new(ErrorKind::Io, format!("cannot create {}", dir.display())).with_source(err)
    })
}

/// A fresh temporary file in `dir`, created exclusively (`O_EXCL`: an
/// existing file or symlink of that name makes the call fail, never opens it).
pub(crate) fn create_temp(dir: &Path) -> Result<(std::fs::File, PathBuf)> {
    ensure_dir(dir)?;
    let mut last = None;
    for _ in 0..RANDOM_TRIES {
        let temp = dir.join(format!(".natsbridge-{:016x}.partial", fastrand::u64(..)));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("cannot create a temporary file in {}", dir.display()),
                )
                .with_source(err));
            }
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!("cannot create a temporary file in {}", dir.display()),
    )
    .with_source(last.unwrap_or_else(|| std::io::Error::other("no name was free"))))
}

/// Gives the finished temporary file `temp` its final name in `dir`: the
/// first free one of [`save_names`], taken by a hard link (which fails on
/// any existing entry, a symlink included), then removes `temp`.
pub(crate) fn publish(temp: &Path, dir: &Path, dataname: &str) -> Result<PathBuf> {
    let result = (|| {
        let mut last = None;
        for candidate in save_names(dir, dataname) {
            match std::fs::hard_link(temp, &candidate) {
                Ok(()) => return Ok(candidate),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => last = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no name was free")))
    })();
    let _ = std::fs::remove_file(temp);
    result.map_err(|err| {
        Error::new(
            ErrorKind::Io,
            format!("cannot save payload '{dataname}' in {}", dir.display()),
        )
        .with_dataname(dataname)
        .with_source(err)
    })
}

/// The names tried for `dataname` in `dir`, in order.
fn save_names<'a>(dir: &'a Path, dataname: &str) -> impl Iterator<Item = PathBuf> + 'a {
    let base = safe_file_name(dataname);
    let numbered = (0..=NUMBERED_TRIES).map({
        let base = base.clone();
        move |n| match n {
            0 => base.clone(),
            n => format!("{base}.{n}"),
        }
    });
    let random = (0..RANDOM_TRIES).map(move |_| format!("{base}.{:08x}", fastrand::u32(..)));
    numbered.chain(random).map(move |name| dir.join(name))
}

/// Saves `bytes` in `dir` under `dataname` made safe and unique, the way
/// link payloads are saved: for callers that write direct payloads next to
/// them (the CLI's `--save-dir`). Returns the path written.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("nb-save-doc-{}", std::process::id()));
/// let first = natsbridge::store::save_bytes(&dir, "../report.txt", b"one").unwrap();
/// let second = natsbridge::store::save_bytes(&dir, "../report.txt", b"two").unwrap();
/// assert_eq!(first.file_name().unwrap(), "___report.txt");
/// assert_eq!(second.file_name().unwrap(), "___report.txt.1");
/// assert_eq!(std::fs::read(&first).unwrap(), b"one");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save_bytes(dir: &Path, dataname: &str, bytes: &[u8]) -> Result<PathBuf> {
    let (mut file, temp) = create_temp(dir)?;
    let written = file.write_all(bytes).and_then(|()| file.flush());
    drop(file);
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(write_error(dataname, &temp, err));
    }
    publish(&temp, dir, dataname)
}

/// A payload's bytes could not be written to its temporary file `temp`
/// (here, and by a download into a save_dir).
pub(crate) fn write_error(dataname: &str, temp: &Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot write payload '{dataname}' to {}", temp.display()),
    )
    .with_dataname(dataname)
    .with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_get_numbered_then_random_names_and_nothing_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..40u32 {
            paths.push(save_bytes(dir.path(), "same", &i.to_le_bytes()).unwrap());
        }
        assert_eq!(paths[0], dir.path().join("same"));
        assert_eq!(paths[1], dir.path().join("same.1"));
        assert_eq!(paths[16], dir.path().join("same.16"));
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(std::fs::read(path).unwrap(), (i as u32).to_le_bytes());
        }
        let names: std::collections::HashSet<_> = paths.iter().collect();
        assert_eq!(names.len(), 40);
        // No temporary file is left behind.
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".partial")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_neither_followed_nor_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let save = dir.path().join("save");
        std::fs::create_dir(&save).unwrap();
        std::os::unix::fs::symlink(&victim, save.join("report")).unwrap();
        let path = save_bytes(&save, "report", b"attacker").unwrap();
        assert_eq!(path, save.join("report.1"));
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(
            std::fs::symlink_metadata(save.join("report"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
