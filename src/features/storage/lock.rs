//! One process per state directory: a run holds an OS lock (`flock`) on
//! `STATE/lock` for its whole life. The lock dies with its holder, so
//! after a crash (kill -9 included) the next run takes the directory over
//! with no manual step. The file holds the holder's process id, for the
//! message a second run gives.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// The held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct StateLock {
  _file: File,
}

/// Why the state directory could not be locked.
#[derive(Debug)]
pub enum LockError {
  /// Another live process holds it (its id, when it wrote one).
  InUse(Option<u32>),
  Io(std::io::Error),
}

impl StateLock {
  /// Takes the lock of `dir` without waiting; writes nothing when another
  /// process holds it.
  pub fn acquire(dir: &Path) -> Result<StateLock, LockError> {
    let mut file = std::fs::OpenOptions::new()
      .read(true)
      .write(true)
      .create(true)
      .truncate(false)
      .open(dir.join("lock"))
      .map_err(LockError::Io)?;
    use rustix::fs::{flock, FlockOperation};
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
      if e == rustix::io::Errno::WOULDBLOCK {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(LockError::InUse(text.trim().parse().ok()));
      }
      return Err(LockError::Io(e.into()));
    }
    // Ours now: record who holds it.
    file.set_len(0).map_err(LockError::Io)?;
    file.rewind().map_err(LockError::Io)?;
    write!(file, "{}", std::process::id()).map_err(LockError::Io)?;
    file.flush().map_err(LockError::Io)?;
    Ok(StateLock { _file: file })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_second_lock_on_the_directory_is_refused_until_the_first_goes() {
    let dir = tempfile::tempdir().unwrap();
    let first = StateLock::acquire(dir.path()).unwrap();
    match StateLock::acquire(dir.path()) {
      Err(LockError::InUse(pid)) => assert_eq!(pid, Some(std::process::id())),
      other => panic!("{other:?}"),
    }
    drop(first);
    assert!(StateLock::acquire(dir.path()).is_ok());
  }
}
