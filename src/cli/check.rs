//! `meridian check`: load everything `serve` would load, report every error, open no socket.
use std::path::Path;
use std::process::ExitCode;

pub fn run(_config: &Path) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
