//! The one error type of zone loading: a problem at a file and (when known) a line.
//!
//! The master-file reader, the zone checks and the encoder all report [`ZoneError`]s, so
//! `check` and reload print them alike (`file:line: message`, or `file: message` for a
//! problem with the file or zone as a whole). [`ZoneErrors`] is every one found in a load.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a zone, at a file and (when known) a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneError {
    pub file: PathBuf,
    /// 0 when the problem is the file or the zone as a whole (unreadable, no SOA, …).
    pub line: usize,
    pub message: String,
}

impl ZoneError {
    /// A problem at `line` of `file`.
    pub fn at(file: &Path, line: usize, message: String) -> ZoneError {
        ZoneError {
            file: file.to_path_buf(),
            line,
            message,
        }
    }

    /// A problem with `file` as a whole.
    pub fn file(file: &Path, message: String) -> ZoneError {
        ZoneError::at(file, 0, message)
    }
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

impl std::error::Error for ZoneError {}

/// Every problem found while loading zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneErrors(pub Vec<ZoneError>);

impl fmt::Display for ZoneErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ZoneErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_file_and_line_or_file_alone() {
        let dir = Path::new("zones");
        let errors = ZoneErrors(vec![
            ZoneError::at(&dir.join("example.com.zone"), 12, "bad TTL \"1x\"".into()),
            ZoneError::file(dir, "no *.zone file in the zones directory".into()),
        ]);
        assert_eq!(
            errors.to_string(),
            "zones/example.com.zone:12: bad TTL \"1x\"\n\
             zones: no *.zone file in the zones directory"
        );
    }
}
