//! `[tsig.NAME]` of `meridian.toml`: the TSIG keys (RFC 8945), raw and checked.
//!
//! One table per key: its name is the table's (a domain name), with an algorithm and a
//! secret written inline (`secret`, base64) or in a file (`secret_file`). Secret files
//! are read here, at every load, so `check` and a reload report a missing, open or
//! malformed one with its line. The result is one key store, [`TsigKey`]s ready for HMAC:
//! `dns::tsig` verifies and signs queries with them, and settings that name a key (zone
//! transfers) refer to it by its table's name.

use super::diagnostics::Checker;
use crate::dns::tsig::Algorithm;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// `[tsig.NAME]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawTsigKey {
    pub algorithm: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub secret_file: Option<Spanned<String>>,
}

/// A checked TSIG key. Its `Debug` shows no secret (ring's key prints only its algorithm).
#[derive(Debug, Clone)]
pub struct TsigKey {
    /// The table's name as written (`[tsig.NAME]`): what other settings refer to.
    pub name: String,
    /// The key name in wire format, lowercase: the owner of its TSIG records, compared
    /// with a query's in canonical form (RFC 8945 §4.3.3).
    pub owner: Box<[u8]>,
    pub algorithm: Algorithm,
    /// The secret, keyed for the algorithm's HMAC; the raw bytes are not kept.
    pub hmac: ring::hmac::Key,
}

/// The default: the algorithm RFC 8945 §6 recommends.
const DEFAULT_ALGORITHM: Algorithm = Algorithm::HmacSha256;

/// The secret of a key, where it came from, before it is keyed.
struct Secret {
    bytes: Vec<u8>,
    /// The algorithm a BIND key file names, if it does.
    algorithm: Option<Algorithm>,
}

impl Checker<'_> {
    /// Checks every `[tsig.NAME]` table; a key with an error is left out (after it is
    /// reported), so nothing is signed with a half-checked key.
    pub(super) fn tsig_keys(&mut self, raw: IndexMap<Spanned<String>, RawTsigKey>) -> Vec<TsigKey> {
        let mut keys: Vec<TsigKey> = Vec::with_capacity(raw.len());
        for (name, table) in raw {
            let prefix = format!("tsig.{}", table_key(name.get_ref()));
            let errors_before = self.errors.len();
            let owner = self.key_owner(&name, &prefix);
            if let Some(owner) = &owner
                && let Some(other) = keys.iter().find(|k| k.owner == *owner)
            {
                let message = format!(
                    "the same key name as tsig.{} (key names are compared without case and final dot)",
                    table_key(&other.name)
                );
                self.error(Some(name.span()), prefix.clone(), message);
            }
            let written = table.algorithm.as_ref().map(|a| self.algorithm(a, &prefix));
            let secret = self.secret(&name, table.secret, table.secret_file, &prefix);
            let algorithm = match (written, &secret) {
                (Some(written), _) => written,
                (
                    None,
                    Some(Secret {
                        algorithm: Some(a), ..
                    }),
                ) => Some(*a),
                (None, _) => Some(DEFAULT_ALGORITHM),
            };
            if let (Some(secret), Some(a)) = (&secret, algorithm)
                && let Some(file) = secret.algorithm.filter(|f| *f != a)
            {
                let span = table.algorithm.as_ref().map(Spanned::span);
                let message = format!(
                    "{} does not match the key file's algorithm {}",
                    a.name(),
                    file.name()
                );
                self.error(span, format!("{prefix}.algorithm"), message);
            }
            if self.errors.len() > errors_before {
                continue;
            }
            if let (Some(owner), Some(algorithm), Some(secret)) = (owner, algorithm, secret) {
                keys.push(TsigKey {
                    name: name.into_inner(),
                    owner,
                    algorithm,
                    hmac: ring::hmac::Key::new(algorithm.hmac(), &secret.bytes),
                });
            }
        }
        keys
    }

    /// The table's name as a domain name, in lowercase wire format.
    fn key_owner(&mut self, name: &Spanned<String>, key: &str) -> Option<Box<[u8]>> {
        match owner_of(name.get_ref()) {
            Ok(owner) => Some(owner),
            Err(why) => {
                let message = format!("{:?} is not a key name: {why}", name.get_ref());
                self.error(Some(name.span()), key, message);
                None
            }
        }
    }

    fn algorithm(&mut self, text: &Spanned<String>, prefix: &str) -> Option<Algorithm> {
        let found = Algorithm::from_name(text.get_ref());
        if found.is_none() {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            let message = if text.get_ref().to_ascii_lowercase().starts_with("hmac-md5") {
                format!(
                    "{:?} is not supported (RFC 8945 §6 deprecates it); use one of {}",
                    text.get_ref(),
                    known.join(", ")
                )
            } else {
                format!(
                    "unknown algorithm {:?} (known: {})",
                    text.get_ref(),
                    known.join(", ")
                )
            };
            self.error(Some(text.span()), format!("{prefix}.algorithm"), message);
        }
        found
    }

    /// The secret of `secret` or `secret_file`: exactly one of them must be set.
    fn secret(
        &mut self,
        name: &Spanned<String>,
        inline: Option<Spanned<String>>,
        file: Option<Spanned<String>>,
        prefix: &str,
    ) -> Option<Secret> {
        match (inline, file) {
            (Some(_), Some(file)) => {
                let message = "set secret or secret_file, not both";
                self.error(Some(file.span()), format!("{prefix}.secret_file"), message);
                None
            }
            (None, None) => {
                if !self.refused(&format!("{prefix}.secret"))
                    && !self.refused(&format!("{prefix}.secret_file"))
                {
                    let message = "needs secret (base64) or secret_file";
                    self.error(Some(name.span()), prefix, message);
                }
                None
            }
            (Some(text), None) => {
                let key = format!("{prefix}.secret");
                match decode_secret(text.get_ref()) {
                    Ok(bytes) => Some(Secret {
                        bytes,
                        algorithm: None,
                    }),
                    Err(why) => {
                        self.error(Some(text.span()), key, why);
                        None
                    }
                }
            }
            (None, Some(file)) => {
                let key = format!("{prefix}.secret_file");
                let span = file.span();
                let path = self.path(Some(file), &key, "");
                match read_secret_file(&path, name.get_ref()) {
                    Ok(secret) => Some(secret),
                    Err(why) => {
                        self.error(Some(span), key, format!("{}: {why}", path.display()));
                        None
                    }
                }
            }
        }
    }
}

/// `NAME` as it goes after `tsig.` in an error's key: quoted unless a bare TOML key.
pub(super) fn table_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// A key name (a domain name, final dot optional) in lowercase wire format.
fn owner_of(name: &str) -> Result<Box<[u8]>, String> {
    if name.is_empty() || name == "." {
        return Err("the root is no key name".to_owned());
    }
    let parsed = hickory_proto::rr::Name::from_ascii(name).map_err(|e| e.to_string())?;
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in parsed.iter() {
        wire.push(label.len() as u8);
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    Ok(wire.into_boxed_slice())
}

/// Base64 (RFC 4648, padded) of at least one byte; errors never quote the secret.
fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the secret is empty".to_owned());
    }
    data_encoding::BASE64
        .decode(text.as_bytes())
        .map_err(|e| format!("the secret is not base64 ({e}), e.g. from `openssl rand -base64 32`"))
}

/// Reads a secret file: not open to every user, holding the base64 secret alone or the
/// `key "NAME" { algorithm ALG; secret "BASE64"; };` clause `tsig-keygen` writes.
fn read_secret_file(path: &Path, table_name: &str) -> Result<Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return Err(format!(
            "readable or writable by every user (mode {mode:04o}); `chmod o-rwx` it"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let Some(clause) = bind_key_clause(&text) else {
        return Ok(Secret {
            bytes: decode_secret(&text)?,
            algorithm: None,
        });
    };
    let clause = clause?;
    let same_name = |a: &str, b: &str| {
        a.trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.'))
    };
    if !same_name(clause.name, table_name) {
        return Err(format!("holds key {:?}, not {table_name:?}", clause.name));
    }
    let algorithm = match clause.algorithm {
        Some(text) => Some(Algorithm::from_name(text).ok_or_else(|| {
            format!("the key's algorithm {text:?} is not one Meridian implements")
        })?),
        None => None,
    };
    Ok(Secret {
        bytes: decode_secret(clause.secret)?,
        algorithm,
    })
}

/// A BIND `key` clause, as `tsig-keygen NAME` prints it.
#[derive(Debug, PartialEq)]
struct KeyClause<'a> {
    name: &'a str,
    algorithm: Option<&'a str>,
    secret: &'a str,
}

/// `None` when `text` is no `key` clause (then it is a bare secret).
fn bind_key_clause<'a>(text: &'a str) -> Option<Result<KeyClause<'a>, String>> {
    let rest = text.trim_start().strip_prefix("key")?;
    if !rest.starts_with(|c: char| c.is_whitespace() || c == '"') {
        return None;
    }
    Some((|| {
        let (name, body) = rest
            .split_once('{')
            .ok_or("a key clause, but no `{` after its name")?;
        let (body, _) = body
            .rsplit_once('}')
            .ok_or("a key clause, but no `}` closing it")?;
        let unquote = |s: &'a str| s.trim().trim_matches('"');
        let mut clause = KeyClause {
            name: unquote(name),
            algorithm: None,
            secret: "",
        };
        for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (word, value) = statement
                .split_once(char::is_whitespace)
                .unwrap_or((statement, ""));
            match word {
                "algorithm" => clause.algorithm = Some(unquote(value)),
                "secret" => clause.secret = unquote(value),
                _ => return Err(format!("unknown statement {word:?} in the key clause")),
            }
        }
        if clause.secret.is_empty() {
            return Err("the key clause has no secret".to_owned());
        }
        Ok(clause)
    })())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::os::unix::fs::PermissionsExt;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn errors(text: &str, dir: &Path) -> Vec<String> {
        match parse(text, &dir.join("meridian.toml")) {
            Ok(c) => panic!("expected errors, got keys {:?}", c.tsig),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    fn secret_file(dir: &Path, name: &str, text: &str, mode: u32) {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// The MAC a key makes, so two keys can be told apart by their secret.
    fn mac(key: &TsigKey) -> Vec<u8> {
        ring::hmac::sign(&key.hmac, b"probe").as_ref().to_vec()
    }

    #[test]
    fn keys_are_read_inline_and_from_files() {
        let dir = tempfile::tempdir().unwrap();
        secret_file(dir.path(), "plain.key", &format!("{SECRET}\n"), 0o600);
        // What `tsig-keygen -a hmac-sha512 transfer.example.` prints.
        let clause = format!(
            "key \"transfer.example.\" {{\n\talgorithm hmac-sha512;\n\tsecret \"{SECRET}\";\n}};\n"
        );
        secret_file(dir.path(), "bind.key", &clause, 0o640);
        let text = format!(
            "[tsig.inline]\nsecret = \"{SECRET}\"\n\
             [tsig.\"Plain.Example\"]\nalgorithm = \"HMAC-SHA1\"\nsecret_file = \"plain.key\"\n\
             [tsig.\"transfer.example.\"]\nsecret_file = \"bind.key\"\n"
        );
        let c = parse(&text, &dir.path().join("meridian.toml")).unwrap();
        let keys: Vec<_> = c
            .tsig
            .iter()
            .map(|k| (k.name.as_str(), &*k.owner, k.algorithm))
            .collect();
        assert_eq!(
            keys,
            [
                ("inline", &b"\x06inline\x00"[..], Algorithm::HmacSha256),
                (
                    "Plain.Example",
                    &b"\x05plain\x07example\x00"[..],
                    Algorithm::HmacSha1
                ),
                (
                    "transfer.example.",
                    &b"\x08transfer\x07example\x00"[..],
                    Algorithm::HmacSha512
                ),
            ]
        );
        // All three hold the same secret: the same HMAC as a key made from the bytes.
        let bytes: Vec<u8> = (0..32).collect();
        let want = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes);
        assert_eq!(mac(&c.tsig[0]), ring::hmac::sign(&want, b"probe").as_ref());
        assert!(
            parse("", Path::new("meridian.toml"))
                .unwrap()
                .tsig
                .is_empty()
        );
    }

    #[test]
    fn each_key_error_names_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        secret_file(dir.path(), "open.key", SECRET, 0o644);
        secret_file(dir.path(), "junk.key", "not a secret\n", 0o600);
        secret_file(
            dir.path(),
            "other.key",
            &format!("key other {{ secret \"{SECRET}\"; }};"),
            0o600,
        );
        secret_file(
            dir.path(),
            "sha512.key",
            &format!("key \"a\" {{ algorithm hmac-sha512; secret \"{SECRET}\"; }};"),
            0o600,
        );
        let rows: &[(&str, String)] = &[
            (
                "[tsig.a]\nalgorithm = \"hmac-sha224\"\nsecret = \"AAAA\"\n",
                "meridian.toml:2: tsig.a.algorithm: unknown algorithm \"hmac-sha224\" \
                 (known: hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha1)"
                    .into(),
            ),
            (
                "[tsig.a]\nalgorithm = \"hmac-md5\"\nsecret = \"AAAA\"\n",
                "meridian.toml:2: tsig.a.algorithm: \"hmac-md5\" is not supported (RFC 8945 §6 \
                 deprecates it); use one of hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha1"
                    .into(),
            ),
            (
                "[tsig.a]\n",
                "meridian.toml:1: tsig.a: needs secret (base64) or secret_file".into(),
            ),
            (
                "[tsig.a]\nsecret = \"AAAA\"\nsecret_file = \"x\"\n",
                "meridian.toml:3: tsig.a.secret_file: set secret or secret_file, not both".into(),
            ),
            (
                "[tsig.a]\nsecret = \"\"\n",
                "meridian.toml:2: tsig.a.secret: the secret is empty".into(),
            ),
            (
                "[tsig.a]\nsecret = \"hunter2!\"\n",
                "meridian.toml:2: tsig.a.secret: the secret is not base64 (invalid symbol at 7), \
                 e.g. from `openssl rand -base64 32`"
                    .into(),
            ),
            (
                "[tsig.\"a..b\"]\nsecret = \"AAAA\"\n",
                "meridian.toml:1: tsig.\"a..b\": \"a..b\" is not a key name: \
                 Malformed label: "
                    .into(),
            ),
            (
                "[tsig.a]\nsecret = \"AAAA\"\n[tsig.\"A.\"]\nsecret = \"AAAA\"\n",
                "meridian.toml:3: tsig.\"A.\": the same key name as tsig.a (key names are \
                 compared without case and final dot)"
                    .into(),
            ),
            (
                "[tsig.a]\nsecret_file = \"missing.key\"\n",
                format!(
                    "meridian.toml:2: tsig.a.secret_file: {d}/missing.key: cannot read: \
                     No such file or directory (os error 2)"
                ),
            ),
            (
                "[tsig.a]\nsecret_file = \"open.key\"\n",
                format!(
                    "meridian.toml:2: tsig.a.secret_file: {d}/open.key: readable or writable \
                     by every user (mode 0644); `chmod o-rwx` it"
                ),
            ),
            (
                "[tsig.a]\nsecret_file = \"junk.key\"\n",
                format!(
                    "meridian.toml:2: tsig.a.secret_file: {d}/junk.key: the secret is not \
                     base64 (invalid symbol at 3), e.g. from `openssl rand -base64 32`"
                ),
            ),
            (
                "[tsig.a]\nsecret_file = \"other.key\"\n",
                format!(
                    "meridian.toml:2: tsig.a.secret_file: {d}/other.key: holds key \"other\", \
                     not \"a\""
                ),
            ),
            (
                "[tsig.a]\nalgorithm = \"hmac-sha256\"\nsecret_file = \"sha512.key\"\n",
                "meridian.toml:2: tsig.a.algorithm: hmac-sha256 does not match the key file's \
                 algorithm hmac-sha512"
                    .into(),
            ),
            (
                "[tsig.a]\nsecret = \"AAAA\"\nfudge = 300\n",
                "meridian.toml:3: tsig.a.fudge: unknown key (known: algorithm, secret, \
                 secret_file)"
                    .into(),
            ),
            (
                "[tsig.a]\nsecret = 5\n",
                "meridian.toml:2: tsig.a.secret: invalid type: integer `5`, expected a string"
                    .into(),
            ),
        ];
        for (text, want) in rows {
            let got = errors(text, dir.path());
            let got: Vec<String> = got
                .iter()
                .map(|e| e.replace(&format!("{d}/meridian.toml"), "meridian.toml"))
                .collect();
            assert_eq!(got.len(), 1, "{text}: {got:?}");
            assert!(
                got[0].starts_with(want.as_str()),
                "{text}\n got: {}\nwant: {want}",
                got[0]
            );
        }
    }

    #[test]
    fn a_bind_key_clause_is_read_and_anything_else_is_a_bare_secret() {
        let c = bind_key_clause("key \"x.\" {\n\talgorithm hmac-sha256;\n\tsecret \"QUJD\";\n};\n");
        assert_eq!(
            c,
            Some(Ok(KeyClause {
                name: "x.",
                algorithm: Some("hmac-sha256"),
                secret: "QUJD"
            }))
        );
        assert_eq!(bind_key_clause("QUJD\n"), None);
        assert_eq!(bind_key_clause("keyQUJD"), None);
        assert!(matches!(
            bind_key_clause("key x { secret; };"),
            Some(Err(_))
        ));
        assert!(matches!(
            bind_key_clause("key x { secret \"QUJD\"; owner me; };"),
            Some(Err(_))
        ));
    }
}
