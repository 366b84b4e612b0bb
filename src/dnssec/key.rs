//! Zone signing keys: generating them, the key files on disk, and the key a signer holds.
//!
//! Files are BIND's format, so keys move both ways between Meridian and BIND's tools
//! (`dnssec-keygen`, `dnssec-settime`, `dnssec-dsfromkey`): `K<zone>.+<alg>+<tag>.key`
//! holds the DNSKEY record, `K<zone>.+<alg>+<tag>.private` the private key (the raw P-256
//! scalar or Ed25519 seed, base64) and the key's timing (Publish, Activate, Inactive,
//! Delete, SyncPublish, SyncDelete). Algorithms: 13 (ECDSAP256SHA256), 15 (ED25519).
//! Private files are written atomically with mode 0600 and never overwritten.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair,
};

use super::canon;

/// The signing algorithms Meridian implements (IANA "DNS Security Algorithm Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// 13, the default: short signatures (64 octets), recommended by RFC 8624.
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080), also 64-octet signatures; fewer old validators know it.
    Ed25519,
}

impl Algorithm {
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The mnemonic BIND writes and `keygen --algorithm` takes (any case).
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }

    /// `ecdsap256sha256`, `ed25519` (any case) or the numbers `13`, `15`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519]
            .into_iter()
            .find(|a| a.mnemonic().eq_ignore_ascii_case(name) || a.number().to_string() == name)
    }

    /// The length of the public key in the DNSKEY (RFC 6605 §4: x then y; RFC 8080 §3).
    fn public_len(self) -> usize {
        match self {
            Algorithm::EcdsaP256Sha256 => 64,
            Algorithm::Ed25519 => 32,
        }
    }

    /// Checks `signature` over `data` with the DNSKEY public key field `public`.
    pub fn verify(
        self,
        public: &[u8],
        data: &[u8],
        sig: &[u8],
    ) -> Result<(), ring::error::Unspecified> {
        match self {
            Algorithm::EcdsaP256Sha256 => {
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(public);
                signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(data, sig)
            }
            Algorithm::Ed25519 => {
                signature::UnparsedPublicKey::new(&ED25519, public).verify(data, sig)
            }
        }
    }
}

/// The key tag of a DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 is not supported
/// anywhere in Meridian, so its special case is left out).
pub fn key_tag(dnskey: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for (i, &b) in dnskey.iter().enumerate() {
        acc += if i & 1 == 1 {
            u32::from(b)
        } else {
            u32::from(b) << 8
        };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

/// DNSKEY flags: Zone Key (bit 7) and Secure Entry Point (bit 15). A combined signing key
/// (CSK) has both, 257; it signs every RRset and is the one the parent's DS names.
pub const FLAGS_ZONE: u16 = 0x0100;
pub const FLAGS_SEP: u16 = 0x0001;
pub const FLAGS_REVOKE: u16 = 0x0080;
pub const FLAGS_CSK: u16 = FLAGS_ZONE | FLAGS_SEP;

/// When a key is published, used and removed, in seconds since 1970 (BIND's timing
/// metadata, set with `dnssec-settime`). `None`: not set; an unset Publish or Activate
/// means "not yet", an unset Inactive or Delete "never".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyTiming {
    pub created: Option<u64>,
    /// From then on the DNSKEY is in the zone's DNSKEY RRset.
    pub publish: Option<u64>,
    /// From then on the key signs.
    pub activate: Option<u64>,
    /// From then on it no longer signs (still published).
    pub inactive: Option<u64>,
    /// From then on it is no longer published.
    pub delete: Option<u64>,
    /// From then on CDS and CDNSKEY name it (RFC 7344), for a parent that scans them.
    pub sync_publish: Option<u64>,
    /// From then on CDS and CDNSKEY no longer name it.
    pub sync_delete: Option<u64>,
}

impl KeyTiming {
    /// All at `now`: a key made by `keygen` is published and signs at once.
    pub fn all_at(now: u64) -> KeyTiming {
        KeyTiming {
            created: Some(now),
            publish: Some(now),
            activate: Some(now),
            sync_publish: Some(now),
            ..KeyTiming::default()
        }
    }

    fn between(start: Option<u64>, end: Option<u64>, now: u64) -> bool {
        start.is_some_and(|s| s <= now) && end.is_none_or(|e| now < e)
    }

    /// Whether the DNSKEY belongs in the zone's DNSKEY RRset at `now`.
    pub fn is_published(&self, now: u64) -> bool {
        Self::between(self.publish, self.delete, now)
    }

    /// Whether the key signs at `now`.
    pub fn is_active(&self, now: u64) -> bool {
        Self::between(self.activate, self.inactive, now) && self.is_published(now)
    }

    /// Whether CDS and CDNSKEY name the key at `now` (RFC 7344 §4: only published keys).
    pub fn is_synced(&self, now: u64) -> bool {
        Self::between(self.sync_publish, self.sync_delete, now) && self.is_published(now)
    }
}

/// What signs: ring's key pair for the algorithm.
enum Signer {
    /// ring's ECDSA signer draws a nonce from the system RNG on every signature.
    Ecdsa(EcdsaKeyPair, SystemRandom),
    Ed25519(Ed25519KeyPair),
}

/// One zone key, loaded or just made: the DNSKEY it publishes and the means to sign.
pub struct ZoneKey {
    /// The zone, lower-case wire form: the DNSKEY's owner and every RRSIG's signer.
    zone: Vec<u8>,
    algorithm: Algorithm,
    flags: u16,
    /// The DNSKEY's public key field.
    public: Vec<u8>,
    tag: u16,
    /// The raw private key (P-256 scalar, Ed25519 seed), kept only to write it out.
    private: Vec<u8>,
    signer: Signer,
    pub timing: KeyTiming,
    /// The `.private` file it was read from (`None` for a key not yet written).
    pub path: Option<PathBuf>,
}

impl fmt::Debug for ZoneKey {
    /// Never prints the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoneKey")
            .field("zone", &canon::name_to_text(&self.zone))
            .field("algorithm", &self.algorithm)
            .field("flags", &self.flags)
            .field("tag", &self.tag)
            .field("timing", &self.timing)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ZoneKey {
    /// A key from its parts, checked: the private key must match the public key.
    fn from_parts(
        zone: Vec<u8>,
        algorithm: Algorithm,
        flags: u16,
        public: Vec<u8>,
        private: Vec<u8>,
    ) -> Result<ZoneKey, &'static str> {
        if public.len() != algorithm.public_len() {
            return Err("the public key has the wrong length for its algorithm");
        }
        // ECDSA's private key is an integer, which BIND writes without its leading zero
        // octets (one key in 256 is 31 octets long): it is padded back to the field's 32.
        let private = match algorithm {
            Algorithm::EcdsaP256Sha256 if (1..32).contains(&private.len()) => {
                let mut padded = vec![0u8; 32 - private.len()];
                padded.extend_from_slice(&private);
                padded
            }
            _ => private,
        };
        if private.len() != 32 {
            return Err("the private key is not 32 octets");
        }
        let signer = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let rng = SystemRandom::new();
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&public);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &private,
                    &point,
                    &rng,
                )
                .map_err(|_| "the private key does not match the public key")?;
                Signer::Ecdsa(pair, rng)
            }
            Algorithm::Ed25519 => Signer::Ed25519(
                Ed25519KeyPair::from_seed_and_public_key(&private, &public)
                    .map_err(|_| "the private key does not match the public key")?,
            ),
        };
        let mut key = ZoneKey {
            zone,
            algorithm,
            flags,
            public,
            tag: 0,
            private,
            signer,
            timing: KeyTiming::default(),
            path: None,
        };
        key.tag = key_tag(&key.dnskey_rdata());
        Ok(key)
    }

    /// The zone (lower-case wire form).
    pub fn zone(&self) -> &[u8] {
        &self.zone
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn flags(&self) -> u16 {
        self.flags
    }

    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// Whether the parent's DS should name this key (a KSK or CSK).
    pub fn is_sep(&self) -> bool {
        self.flags & FLAGS_SEP != 0
    }

    /// The DNSKEY RDATA (RFC 4034 §2.1): flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.public.len());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.push(3);
        out.push(self.algorithm.number());
        out.extend_from_slice(&self.public);
        out
    }

    /// The signature over `data`: 64 octets for both algorithms (r then s for P-256,
    /// RFC 6605 §4).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.signer {
            Signer::Ecdsa(pair, rng) => pair
                .sign(rng, data)
                .expect("the system RNG gives a nonce")
                .as_ref()
                .to_vec(),
            Signer::Ed25519(pair) => pair.sign(data).as_ref().to_vec(),
        }
    }

    /// The file names' common part, as BIND forms it: `K<zone>.+<alg>+<tag>`.
    pub fn file_stem(&self) -> String {
        file_stem(&self.zone, self.algorithm.number(), self.tag)
    }

    /// The DNSKEY in master-file text: `example.com. IN DNSKEY 257 3 13 BASE64`.
    pub fn dnskey_text(&self) -> String {
        format!(
            "{} IN DNSKEY {} 3 {} {}",
            canon::name_to_text(&self.zone),
            self.flags,
            self.algorithm.number(),
            BASE64.encode(&self.public)
        )
    }
}

fn file_stem(zone: &[u8], alg: u8, tag: u16) -> String {
    format!("K{}+{alg:03}+{tag:05}", canon::name_to_text(zone))
}

/// A new combined signing key (flags 257) for `zone` (lower-case wire form), made with
/// the system's secure random source, with every timing at `now` (seconds since 1970).
pub fn generate(zone: &[u8], algorithm: Algorithm, now: u64) -> Result<ZoneKey, KeyError> {
    let fail = |what: &str| KeyError::new(None, None, format!("cannot generate a key: {what}"));
    let rng = SystemRandom::new();
    let (private, public) = match algorithm {
        Algorithm::EcdsaP256Sha256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| fail("the system random source failed"))?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| fail("ring refused its own key"))?;
            let private = p256_scalar(pkcs8.as_ref())
                .ok_or_else(|| fail("unexpected PKCS#8 layout from ring"))?;
            // ring's public key is the uncompressed point: 0x04, x, y.
            (private.to_vec(), pair.public_key().as_ref()[1..].to_vec())
        }
        Algorithm::Ed25519 => {
            let mut seed = [0u8; 32];
            rng.fill(&mut seed)
                .map_err(|_| fail("the system random source failed"))?;
            let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
                .map_err(|_| fail("ring refused the seed"))?;
            (seed.to_vec(), pair.public_key().as_ref().to_vec())
        }
    };
    let mut key =
        ZoneKey::from_parts(zone.to_vec(), algorithm, FLAGS_CSK, public, private).map_err(fail)?;
    key.timing = KeyTiming::all_at(now);
    Ok(key)
}

/// The private scalar inside ring's P-256 PKCS#8 v1 document: the OCTET STRING of 32
/// that follows `ECPrivateKey`'s version 1 (RFC 5915 §3: `02 01 01 04 20`).
fn p256_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    const MARK: [u8; 5] = [0x02, 0x01, 0x01, 0x04, 0x20];
    let at = pkcs8.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    pkcs8.get(at..at + 32)
}

/// A key file problem: the file (when there is one), the line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
}

impl KeyError {
    fn new(file: Option<&Path>, line: Option<usize>, message: String) -> KeyError {
        KeyError {
            file: file.map(Path::to_path_buf),
            line,
            message,
        }
    }

    fn at(file: &Path, message: impl Into<String>) -> KeyError {
        KeyError::new(Some(file), None, message.into())
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: {}", file.display(), self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for KeyError {}

/// Refuses a key directory that others could plant keys in or swap: group- or
/// world-writable (mode & 022), or not a directory.
pub fn check_key_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(dir)
        .map_err(|e| KeyError::at(dir, format!("cannot read key directory: {e}")))?;
    if !meta.is_dir() {
        return Err(KeyError::at(dir, "the key directory is not a directory"));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(KeyError::at(
            dir,
            format!(
                "the key directory is writable by group or others (mode {mode:04o}); \
                 `chmod go-w` it (700 or 750)"
            ),
        ));
    }
    Ok(())
}

/// Writes `key` as `DIR/K<zone>.+<alg>+<tag>.private` (mode 0600) and `.key` (0644),
/// each written in full to a temporary file, synced, then linked into place, so a file
/// of that name is never half-written and never replaced. Creates `dir` (mode 0700) when
/// missing. Returns the two paths (private, public).
pub fn write_key(dir: &Path, key: &ZoneKey) -> Result<(PathBuf, PathBuf), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| KeyError::at(dir, format!("cannot create key directory: {e}")))?;
    }
    check_key_dir(dir)?;
    let stem = key.file_stem();
    let private_path = dir.join(format!("{stem}.private"));
    let public_path = dir.join(format!("{stem}.key"));
    for path in [&private_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyError::at(path, "already exists; not overwritten"));
        }
    }
    write_new(&private_path, private_text(key).as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, public_text(key).as_bytes(), 0o644) {
        let _ = fs::remove_file(&private_path);
        return Err(e);
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((private_path, public_path))
}

/// Creates `path` with `bytes` and `mode`, atomically, refusing to replace a file.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(KeyError::at(&tmp, format!("cannot write: {e}")));
    }
    // link(2) fails when the name exists, where rename(2) would replace it.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::at(path, "already exists; not overwritten")
        } else {
            KeyError::at(path, format!("cannot write: {e}"))
        }
    })
}

/// The `.private` file's text, in BIND's v1.3 format.
fn private_text(key: &ZoneKey) -> String {
    let mut text = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {}\n",
        key.algorithm.number(),
        key.algorithm.mnemonic(),
        BASE64.encode(&key.private)
    );
    for (field, value) in timing_fields(&key.timing) {
        if let Some(t) = value {
            text.push_str(&format!("{field}: {}\n", format_time(t)));
        }
    }
    text
}

/// The `.key` file's text: comment lines, then the DNSKEY record.
fn public_text(key: &ZoneKey) -> String {
    let kind = if key.is_sep() {
        "key-signing"
    } else {
        "zone-signing"
    };
    let mut text = format!(
        "; This is a {kind} key, keyid {}, for {}\n; Made by Meridian (combined signing key).\n",
        key.tag,
        canon::name_to_text(&key.zone)
    );
    for (field, value) in timing_fields(&key.timing) {
        if let Some(t) = value {
            text.push_str(&format!("; {field}: {}\n", format_time(t)));
        }
    }
    text.push_str(&key.dnskey_text());
    text.push('\n');
    text
}

/// The timing fields as BIND names them in `.private` files.
fn timing_fields(t: &KeyTiming) -> [(&'static str, Option<u64>); 7] {
    [
        ("Created", t.created),
        ("Publish", t.publish),
        ("Activate", t.activate),
        ("Inactive", t.inactive),
        ("Delete", t.delete),
        ("SyncPublish", t.sync_publish),
        ("SyncDelete", t.sync_delete),
    ]
}

/// Reads every key of `zone` (lower-case wire form) in `dir`: each
/// `K<zone>.+<alg>+<tag>.private` (zone matched without case) with its `.key` beside it.
/// Every file with a problem is reported, in file name order; no key is returned then.
/// Keys come back in file name order. A directory with no key of the zone is an error.
pub fn load_zone_keys(dir: &Path, zone: &[u8]) -> Result<Vec<ZoneKey>, Vec<KeyError>> {
    check_key_dir(dir).map_err(|e| vec![e])?;
    let shown = format!("K{}+", canon::name_to_text(zone));
    let prefix = shown.to_ascii_lowercase();
    let entries = fs::read_dir(dir)
        .map_err(|e| vec![KeyError::at(dir, format!("cannot read key directory: {e}"))])?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.to_ascii_lowercase().starts_with(&prefix) && n.ends_with(".private"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(vec![KeyError::at(
            dir,
            format!(
                "no key for {} (looked for {}*.private; make one with `meridian dnssec keygen`)",
                canon::name_to_text(zone),
                shown
            ),
        )]);
    }
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for name in names {
        match read_key(&dir.join(&name), zone) {
            Ok(key) => keys.push(key),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
}

/// Reads one key from its `.private` file and the `.key` beside it.
pub fn read_key(private_path: &Path, zone: &[u8]) -> Result<ZoneKey, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let name = private_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let (name_alg, name_tag) = parse_file_name(name).ok_or_else(|| {
        KeyError::at(
            private_path,
            "the file name is not K<zone>.+<alg>+<tag>.private",
        )
    })?;
    let meta = fs::metadata(private_path)
        .map_err(|e| KeyError::at(private_path, format!("cannot read: {e}")))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(KeyError::at(
            private_path,
            format!("the private key is open to others (mode {mode:04o}); `chmod 600` it"),
        ));
    }
    let text = fs::read_to_string(private_path)
        .map_err(|e| KeyError::at(private_path, format!("cannot read: {e}")))?;
    let private = parse_private(private_path, &text)?;
    if private.algorithm != name_alg {
        return Err(KeyError::at(
            private_path,
            format!(
                "Algorithm is {} but the file name says {}",
                private.algorithm, name_alg
            ),
        ));
    }
    let public_path = private_path.with_extension("key");
    let text = fs::read_to_string(&public_path)
        .map_err(|e| KeyError::at(&public_path, format!("cannot read: {e}")))?;
    let public = parse_public(&public_path, &text, zone)?;
    if public.algorithm != private.algorithm {
        return Err(KeyError::at(
            &public_path,
            format!(
                "the DNSKEY's algorithm is {} but the .private file's is {}",
                public.algorithm, private.algorithm
            ),
        ));
    }
    let algorithm = Algorithm::from_number(public.algorithm).expect("checked when parsed");
    let mut key = ZoneKey::from_parts(
        zone.to_vec(),
        algorithm,
        public.flags,
        public.key,
        private.key,
    )
    .map_err(|e| KeyError::at(private_path, e))?;
    if key.tag != name_tag {
        return Err(KeyError::at(
            &public_path,
            format!(
                "the DNSKEY's key tag is {} but the file name says {name_tag}",
                key.tag
            ),
        ));
    }
    key.timing = private.timing;
    key.path = Some(private_path.to_path_buf());
    Ok(key)
}

/// `K<zone>.+<alg>+<tag>.private` → (alg, tag).
fn parse_file_name(name: &str) -> Option<(u8, u16)> {
    let stem = name.strip_suffix(".private")?;
    let mut parts = stem.rsplitn(3, '+');
    let tag = parts.next()?.parse().ok()?;
    let alg = parts.next()?.parse().ok()?;
    parts.next()?.strip_prefix('K')?;
    Some((alg, tag))
}

struct PrivatePart {
    algorithm: u8,
    key: Vec<u8>,
    timing: KeyTiming,
}

/// A `.private` file: `Field: value` lines; Private-key-format v1.x, Algorithm,
/// PrivateKey and the timing fields are read, others (BIND's `Revoke`, ...) ignored.
fn parse_private(path: &Path, text: &str) -> Result<PrivatePart, KeyError> {
    let err = |line: usize, msg: String| KeyError::new(Some(path), Some(line), msg);
    let mut format = None;
    let mut algorithm = None;
    let mut key = None;
    let mut timing = KeyTiming::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let Some((field, value)) = line.split_once(':') else {
            return Err(err(n, format!("expected `Field: value`, found {line:?}")));
        };
        let value = value.trim();
        let time = |v: &str| {
            parse_time(v)
                .ok_or_else(|| err(n, format!("{field}: {v:?} is not a YYYYMMDDHHMMSS time")))
        };
        match field {
            "Private-key-format" => {
                if !value.starts_with("v1.") {
                    return Err(err(n, format!("Private-key-format {value:?} is not v1.x")));
                }
                format = Some(());
            }
            "Algorithm" => {
                let number = value.split_whitespace().next().unwrap_or_default();
                let Ok(number) = number.parse::<u8>() else {
                    return Err(err(n, format!("Algorithm {value:?} is not a number")));
                };
                if Algorithm::from_number(number).is_none() {
                    return Err(err(
                        n,
                        format!(
                            "algorithm {value} is not supported; Meridian signs with 13 \
                             (ECDSAP256SHA256) or 15 (ED25519)"
                        ),
                    ));
                }
                algorithm = Some(number);
            }
            "PrivateKey" => {
                let compact: String = value.split_whitespace().collect();
                let bytes = BASE64
                    .decode(compact.as_bytes())
                    .map_err(|_| err(n, "PrivateKey is not base64".to_string()))?;
                key = Some(bytes);
            }
            "Created" => timing.created = Some(time(value)?),
            "Publish" => timing.publish = Some(time(value)?),
            "Activate" => timing.activate = Some(time(value)?),
            "Inactive" => timing.inactive = Some(time(value)?),
            "Delete" => timing.delete = Some(time(value)?),
            "SyncPublish" => timing.sync_publish = Some(time(value)?),
            "SyncDelete" => timing.sync_delete = Some(time(value)?),
            _ => {}
        }
    }
    let missing = |field: &str| KeyError::at(path, format!("no {field} line"));
    format.ok_or_else(|| missing("Private-key-format"))?;
    Ok(PrivatePart {
        algorithm: algorithm.ok_or_else(|| missing("Algorithm"))?,
        key: key.ok_or_else(|| missing("PrivateKey"))?,
        timing,
    })
}

struct PublicPart {
    flags: u16,
    algorithm: u8,
    key: Vec<u8>,
}

/// A `.key` file: `;` comment lines and one DNSKEY record,
/// `OWNER [TTL] [IN] DNSKEY FLAGS 3 ALG BASE64...` on one line.
fn parse_public(path: &Path, text: &str, zone: &[u8]) -> Result<PublicPart, KeyError> {
    let err = |line: usize, msg: String| KeyError::new(Some(path), Some(line), msg);
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let tokens: Vec<&str> = line
            .split_whitespace()
            .filter(|t| *t != "(" && *t != ")")
            .collect();
        let Some(at) = tokens.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
            return Err(err(n, format!("expected a DNSKEY record, found {line:?}")));
        };
        let owner = canon::name_from_text(tokens[0])
            .map_err(|_| err(n, format!("{:?} is not a domain name", tokens[0])))?;
        if owner != zone {
            return Err(err(
                n,
                format!(
                    "the DNSKEY is for {}, not {}",
                    canon::name_to_text(&owner),
                    canon::name_to_text(zone)
                ),
            ));
        }
        let fields = &tokens[at + 1..];
        if fields.len() < 4 {
            return Err(err(
                n,
                "the DNSKEY needs flags, protocol, algorithm and key".to_string(),
            ));
        }
        let flags: u16 = fields[0]
            .parse()
            .map_err(|_| err(n, format!("flags {:?} is not a number", fields[0])))?;
        if fields[1] != "3" {
            return Err(err(n, format!("protocol {:?} is not 3", fields[1])));
        }
        let algorithm: u8 = fields[2]
            .parse()
            .ok()
            .or_else(|| Algorithm::from_name(fields[2]).map(Algorithm::number))
            .ok_or_else(|| err(n, format!("algorithm {:?} is not a number", fields[2])))?;
        if Algorithm::from_number(algorithm).is_none() {
            return Err(err(
                n,
                format!(
                    "algorithm {algorithm} is not supported; Meridian signs with 13 \
                     (ECDSAP256SHA256) or 15 (ED25519)"
                ),
            ));
        }
        if flags & FLAGS_ZONE == 0 {
            return Err(err(n, format!("flags {flags} lack the Zone Key bit (256)")));
        }
        if flags & FLAGS_REVOKE != 0 {
            return Err(err(
                n,
                format!("flags {flags} mark the key revoked (128); revoked keys are not supported"),
            ));
        }
        let compact: String = fields[3..].concat();
        let key = BASE64
            .decode(compact.as_bytes())
            .map_err(|_| err(n, "the public key is not base64".to_string()))?;
        return Ok(PublicPart {
            flags,
            algorithm,
            key,
        });
    }
    Err(KeyError::at(path, "no DNSKEY record"))
}

/// `YYYYMMDDHHMMSS` (UTC, BIND's timing format, also RRSIG's presentation) → seconds
/// since 1970.
pub fn parse_time(text: &str) -> Option<u64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1..=12).contains(&mo) || d == 0 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1970 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    Some(days as u64 * 86400 + h * 3600 + mi * 60 + s)
}

/// Seconds since 1970 → `YYYYMMDDHHMMSS` (UTC).
pub fn format_time(t: u64) -> String {
    let (days, secs) = ((t / 86400) as i64, t % 86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
pub(crate) mod tests;
