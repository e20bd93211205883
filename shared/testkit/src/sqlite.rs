//! A temporary SQLite database: a uniquely named file under the system temp dir, removed with its
//! companions (`-wal`, `-shm`, `-journal`) when the guard is dropped. Nothing is created here: the
//! store that opens [`TempSqlite::url`] makes the file.

use std::path::{Path, PathBuf};

/// A fresh SQLite file's path, removed with its companions when dropped (also after a panic).
/// Drop whatever has the database open first.
#[derive(Debug)]
pub struct TempSqlite {
    path: PathBuf,
}

impl TempSqlite {
    /// `<temp dir>/<prefix>_<unique>.db`; any leftover of that name is removed first.
    pub fn new(prefix: &str) -> Self {
        let file = Self { path: std::env::temp_dir().join(format!("{}.db", crate::unique_name(prefix))) };
        file.remove();
        file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `sqlite://<path>`, as `DATABASE_URL` names it.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_and_its_companions_go_when_dropped() {
        let file = TempSqlite::new("proeventa_testkit");
        assert_eq!(file.url(), format!("sqlite://{}", file.path().display()));
        let companions: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", file.path().display())))
            .collect();
        for path in &companions {
            std::fs::write(path, b"x").expect("write a companion");
        }
        drop(file);
        for path in &companions {
            assert!(!path.exists(), "{} is still there", path.display());
        }
    }
}
