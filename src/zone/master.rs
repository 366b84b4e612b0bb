//! RFC 1035 master-file reader (placeholder until the real reader lands).
use hickory_proto::rr::{Name, RData};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One resource record as read from a master file, with where it was written.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    pub name: Name,
    pub ttl: u32,
    pub rdata: RData,
    pub file: Arc<Path>,
    pub line: usize,
}

/// A problem in a master file, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterFileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

pub fn parse_file(path: &Path, origin: &Name) -> Result<Vec<SourceRecord>, Vec<MasterFileError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![MasterFileError {
            file: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        }]
    })?;
    parse_str(&text, path, origin)
}

pub fn parse_str(
    _text: &str,
    _path: &Path,
    _origin: &Name,
) -> Result<Vec<SourceRecord>, Vec<MasterFileError>> {
    Ok(Vec::new())
}
