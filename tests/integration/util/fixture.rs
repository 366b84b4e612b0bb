//! Fixture: the config and zone files a test's server reads, written to a fresh temp dir.

use super::*;

/// A config and zone files, written to a fresh temp dir by [`Fixture::write`].
#[derive(Clone, Default)]
pub struct Fixture {
    zones: Vec<(String, String)>,
    files: Vec<(String, String)>,
    /// Unix modes for some of `files` (the others keep the umask's).
    modes: Vec<(String, u32)>,
    server_keys: Vec<String>,
    config: Option<String>,
    tables: Option<String>,
}

impl Fixture {
    pub fn new() -> Self {
        Self::default()
    }

    /// `example.com` and `deep.example.com` from `tests/data/zones/`.
    pub fn standard() -> Self {
        Self::new()
            .zone("example.com", EXAMPLE_COM)
            .zone("deep.example.com", DEEP_EXAMPLE_COM)
    }

    /// Adds `zones/<origin>.zone`.
    pub fn zone(mut self, origin: &str, text: &str) -> Self {
        self.zones.push((origin.to_string(), text.to_string()));
        self
    }

    /// Appends lines to a zone added before.
    pub fn append(mut self, origin: &str, lines: &str) -> Self {
        let zone = self
            .zones
            .iter_mut()
            .find(|(o, _)| o == origin)
            .unwrap_or_else(|| panic!("no zone {origin} to append to"));
        if !zone.1.ends_with('\n') {
            zone.1.push('\n');
        }
        zone.1.push_str(lines);
        self
    }

    /// Adds a line to `[server]`, e.g. `max_udp_payload = 1232`.
    pub fn server_key(mut self, line: &str) -> Self {
        self.server_keys.push(line.to_string());
        self
    }

    /// Turns response rate limiting on (it is off in fixtures, see [`Fixture::config`]) and
    /// appends `tables` (e.g. `"[rrl]\nslip = 1\n[cookies]\n..."`; it must hold `[rrl]`).
    pub fn tables(mut self, tables: &str) -> Self {
        assert!(tables.contains("[rrl]"), "tables must set [rrl]");
        self.tables = Some(tables.to_string());
        self
    }

    /// Replaces the whole `meridian.toml`.
    pub fn config_text(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    /// Adds any other file, by path relative to the config's directory.
    pub fn file(mut self, rel: &str, text: &str) -> Self {
        self.files.push((rel.to_string(), text.to_string()));
        self
    }

    /// Adds a file like [`Fixture::file`], with Unix `mode` (e.g. 0o600 for a secret).
    pub fn file_mode(mut self, rel: &str, text: &str, mode: u32) -> Self {
        self.modes.push((rel.to_string(), mode));
        self.file(rel, text)
    }

    /// The config text. Response rate limiting is turned off unless [`Fixture::tables`]
    /// was called: every test client is 127.0.0.1, and many tests legitimately ask one name
    /// faster than the default 20 per second (`tests/integration/rrl.rs` tests RRL itself).
    pub fn config(&self) -> String {
        let tables = self
            .tables
            .clone()
            .unwrap_or_else(|| "\n[rrl]\nenabled = false\n".to_string());
        if let Some(text) = &self.config {
            // A text that sets [rrl] itself (e.g. made from `config()`) is kept as it is.
            if text.contains("[rrl]") {
                return text.clone();
            }
            return format!("{text}\n{tables}");
        }
        let mut text = String::from(
            "[server]\ndns_listen = [\"127.0.0.1:0\"]\napi_listen = \"127.0.0.1:0\"\n\
             zones_dir = \"zones\"\nstate_dir = \"state\"\nudp_workers = 1\n",
        );
        for line in &self.server_keys {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&tables);
        text
    }

    /// Writes everything to a fresh temp dir; `{DIR}` in any file becomes its path.
    pub fn write(&self) -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("meridian-itest-")
            .tempdir()
            .expect("temp dir");
        let subst = |text: &str| text.replace("{DIR}", &dir.path().display().to_string());
        std::fs::create_dir_all(dir.path().join("zones")).unwrap();
        std::fs::write(dir.path().join("meridian.toml"), subst(&self.config())).unwrap();
        for (origin, text) in &self.zones {
            let path = dir.path().join("zones").join(format!("{origin}.zone"));
            std::fs::write(path, subst(text)).unwrap();
        }
        for (rel, text) in &self.files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, subst(text)).unwrap();
        }
        for (rel, mode) in &self.modes {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(*mode);
            std::fs::set_permissions(dir.path().join(rel), perms).unwrap();
        }
        dir
    }

    pub fn start(&self) -> Server {
        Server::start_in(self.write(), None)
    }

    /// Runs `meridian check --config <dir>/meridian.toml`.
    pub fn check(&self) -> Run {
        let dir = self.write();
        let config = dir.path().join("meridian.toml");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
        cmd.arg("check").arg("--config").arg(&config);
        let run = Run::bounded(cmd, dir.path(), STARTUP_TIMEOUT);
        Run {
            dir: Some(dir),
            ..run
        }
    }
}
