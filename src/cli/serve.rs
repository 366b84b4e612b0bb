//! `meridian serve`: load config and zones, bind sockets, run the DNS workers.
use std::path::Path;
use std::process::ExitCode;

pub fn run(_config: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
