//! Signed policies: minisign signatures beside module files, checked against
//! the configured trusted keys before a module is compiled.
//!
//! A module `<op>.wasm` is signed by `<op>.wasm.minisig` (an add-on
//! `metrics.d/<x>.wasm` by `metrics.d/<x>.wasm.minisig`), in the format of the
//! `minisign` tool. The signature's trusted comment binds the module to the
//! name it is installed under: it must be `sme-module: <name>`, optionally
//! followed by a space or tab and anything else, so a validly signed `stop`
//! copied in as `restart.wasm` (and so given restart's grant) is refused.
//!
//! Verification itself is the `minisign-verify` crate's; this module only
//! picks the key by its ID, applies revocation and the naming rule, and
//! signs (`smectl sign`) through the `minisign` crate, with unencrypted or
//! password-protected minisign secret keys.

use std::fmt;

pub use crate::config::keys::{KeyId, MAX_KEY_FILE_BYTES, Signing, TrustedKey};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::Digest as _;

/// What follows a module file's name to name its signature file.
pub const SIGNATURE_SUFFIX: &str = ".minisig";
/// How every trusted comment of a module signature starts; the module's
/// name follows.
pub const COMMENT_PREFIX: &str = "sme-module: ";
/// Largest signature file read: a minisig is about 300 bytes, plus its
/// trusted comment; anything near this size is not one.
pub const MAX_SIGNATURE_BYTES: u64 = 4 << 10;

/// A module signature, parsed but not yet verified.
#[derive(Clone)]
pub struct ModuleSignature {
    /// The key it claims to be made with.
    pub key_id: KeyId,
    signature: minisign_verify::Signature,
}

impl fmt::Debug for ModuleSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleSignature")
            .field("key_id", &self.key_id)
            .field("trusted_comment", &self.trusted_comment())
            .finish()
    }
}

impl ModuleSignature {
    /// Parses the text of a `.minisig` file.
    pub fn parse(bytes: &[u8]) -> Result<ModuleSignature, Refusal> {
        let malformed = || Refusal::Malformed;
        let text = std::str::from_utf8(bytes).map_err(|_| malformed())?;
        let second = text.lines().nth(1).ok_or_else(malformed)?;
        let decoded = BASE64.decode(second.trim()).map_err(|_| malformed())?;
        if decoded.len() != 74 {
            return Err(malformed());
        }
        let signature = minisign_verify::Signature::decode(text).map_err(|_| malformed())?;
        Ok(ModuleSignature {
            key_id: KeyId(decoded[2..10].try_into().expect("8 bytes")),
            signature,
        })
    }

    /// The trusted comment (what follows `trusted comment: `).
    pub fn trusted_comment(&self) -> &str {
        self.signature.trusted_comment()
    }

    /// The module name the trusted comment binds the signature to, if it
    /// follows the convention.
    pub fn module_name(&self) -> Option<&str> {
        let rest = self.trusted_comment().strip_prefix(COMMENT_PREFIX)?;
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        Some(&rest[..end]).filter(|name| !name.is_empty())
    }
}

/// Why a module's signature does not vouch for it. Each message names the
/// key when one is known, and says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A signature is required and there is none.
    #[error(
        "require_signature is set and there is no {file}{SIGNATURE_SUFFIX}; sign it with \
         `smectl sign` or `minisign -S -t \"{COMMENT_PREFIX}{name}\"`"
    )]
    Missing {
        /// The module name.
        name: String,
        /// The module's file name.
        file: String,
    },
    /// The signature file is not a minisign signature.
    #[error("its {SIGNATURE_SUFFIX} file is not a minisign signature")]
    Malformed,
    /// Signed by a key that is not configured.
    #[error("signed by key {0}, which is not a trusted key (add it under [signing] keys)")]
    UnknownKey(KeyId),
    /// Signed by a revoked key.
    #[error("signed by key {0}, which is revoked ([signing] revoked_keys)")]
    RevokedKey(KeyId),
    /// The module file itself is revoked.
    #[error("its sha256 {0} is revoked ([signing] revoked_sha256)")]
    RevokedModule(String),
    /// The signature does not match the module (or was altered).
    #[error("bad signature by key {0}: the module or its signature was changed after signing")]
    BadSignature(KeyId),
    /// Validly signed, but for another name.
    #[error(
        "signed by key {key} for {signed:?}, not for {name}: the trusted comment must be \
         \"{COMMENT_PREFIX}{name}\""
    )]
    WrongName {
        /// The signing key.
        key: KeyId,
        /// The module's name here.
        name: String,
        /// The trusted comment it was signed with.
        signed: String,
    },
}

impl Refusal {
    /// The key involved, if known.
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Refusal::UnknownKey(key)
            | Refusal::RevokedKey(key)
            | Refusal::BadSignature(key)
            | Refusal::WrongName { key, .. } => Some(*key),
            _ => None,
        }
    }
}

/// A signature check that passed: the key that vouched, and the proof that
/// lets a later run skip the same check (see [`crate::policy::digests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed the module for its name.
    pub key: KeyId,
    /// sha256 over the public key, the module's sha256 and the signature
    /// file's bytes: the same only for the same key, module and signature.
    pub proof: [u8; 32],
}

impl Signing {
    /// Checks module `name` (file `file`, bytes `wasm`) and its signature
    /// file's bytes, if it has one: `Ok(Some(key))` when a trusted key
    /// signed it for this name, `Ok(None)` when it is unsigned and no
    /// signature is `required`. A signature that is present is always
    /// checked, required or not.
    pub fn verify(
        &self,
        name: &str,
        file: &str,
        wasm: &[u8],
        sha256: &[u8; 32],
        signature: Option<&[u8]>,
        required: bool,
    ) -> Result<Option<KeyId>, Refusal> {
        let verified = self.verify_with(name, file, wasm, sha256, signature, required, &|_| false);
        verified.map(|verified| verified.map(|v| v.key))
    }

    /// Like [`Signing::verify`], but the Ed25519 check over the module's
    /// bytes is skipped when `proven` knows its proof from an earlier run.
    /// Revocations, the key list and the name binding are checked every time.
    #[allow(clippy::too_many_arguments)]
    pub fn verify_with(
        &self,
        name: &str,
        file: &str,
        wasm: &[u8],
        sha256: &[u8; 32],
        signature: Option<&[u8]>,
        required: bool,
        proven: &dyn Fn(&[u8; 32]) -> bool,
    ) -> Result<Option<Verified>, Refusal> {
        if self.revoked_sha256.contains(sha256) {
            return Err(Refusal::RevokedModule(hex::encode(sha256)));
        }
        let Some(bytes) = signature else {
            return if required {
                Err(Refusal::Missing {
                    name: name.to_owned(),
                    file: file.to_owned(),
                })
            } else {
                Ok(None)
            };
        };
        let parsed = ModuleSignature::parse(bytes)?;
        let id = parsed.key_id;
        if self.revoked_keys.contains(&id) {
            return Err(Refusal::RevokedKey(id));
        }
        let key = self
            .keys
            .iter()
            .find(|key| key.id == id)
            .ok_or(Refusal::UnknownKey(id))?;
        let proof: [u8; 32] = sha2::Sha256::new()
            .chain_update(b"sme-signature-proof 1\0")
            .chain_update(&key.bytes)
            .chain_update(sha256)
            .chain_update(bytes)
            .finalize()
            .into();
        if !proven(&proof) {
            // Legacy (not prehashed) signatures are accepted: modules are
            // small, and `minisign -l` still makes them.
            key.key
                .verify(wasm, &parsed.signature, true)
                .map_err(|_| Refusal::BadSignature(id))?;
        }
        // Only a verified comment is worth comparing.
        if parsed.module_name() != Some(name) {
            return Err(Refusal::WrongName {
                key: id,
                name: name.to_owned(),
                signed: parsed.trusted_comment().to_owned(),
            });
        }
        Ok(Some(Verified { key: id, proof }))
    }
}

/// Bytes of a decoded minisign secret key: algorithm, KDF algorithm,
/// checksum algorithm, KDF salt, opslimit, memlimit, key ID, secret and
/// public halves, checksum.
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;
/// Where the checksum starts in a decoded secret key.
const CHECKSUM_AT: usize = SECRET_KEY_BYTES - 32;

/// Why a secret key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    /// No base64 key line of the right length.
    #[error("not a minisign secret key file")]
    NotAKey,
    /// Another signature algorithm or key-derivation function.
    #[error("not a minisign Ed25519 secret key, or encrypted in a way minisign does not use")]
    Unsupported,
    /// Encrypted, and no password was given.
    #[error("the secret key is encrypted with a password")]
    NeedsPassword,
    /// Decrypted with a password that is not its own.
    #[error("wrong password for this secret key")]
    WrongPassword,
    /// The file was altered or truncated in a way base64 still accepts.
    #[error("the secret key is damaged: {0}")]
    Damaged(&'static str),
    /// The key-derivation step refused (parameters beyond minisign's).
    #[error("cannot decrypt the secret key: {0}")]
    Kdf(String),
}

/// A minisign secret key, decrypted, ready to sign.
pub struct SecretKey {
    /// Its ID.
    pub id: KeyId,
    key: minisign::SecretKey,
    public: minisign::PublicKey,
}

// Not derived: the crate's `Debug` of a secret key prints the secret.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// Reads the text of a minisign secret key file; `password` decrypts it
    /// when it is encrypted and is not needed otherwise. Nothing is prompted.
    pub fn from_file_text(text: &str, password: Option<&str>) -> Result<SecretKey, SecretKeyError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let (Some(_comment), Some(line)) = (lines.next(), lines.next()) else {
            return Err(SecretKeyError::NotAKey);
        };
        let bytes = BASE64.decode(line).map_err(|_| SecretKeyError::NotAKey)?;
        if bytes.len() != SECRET_KEY_BYTES {
            return Err(SecretKeyError::NotAKey);
        }
        if &bytes[..2] != b"Ed" || &bytes[4..6] != b"B2" {
            return Err(SecretKeyError::Unsupported);
        }
        // The crate reads a key box's second line as the key, as it is.
        let boxed = minisign::SecretKeyBox::from(format!("untrusted comment:\n{line}\n"));
        let key = match &bytes[2..4] {
            [0, 0] if bytes[CHECKSUM_AT..].iter().all(|&b| b == 0) => {
                // `minisign -G -W` 0.11 writes no checksum, which the crate
                // calls corrupted; the signature below still catches halves
                // that do not match.
                minisign::SecretKey::from_bytes(&bytes)
                    .map_err(|_| SecretKeyError::Damaged("it is truncated"))?
            }
            [0, 0] => boxed
                .into_unencrypted_secret_key()
                .map_err(|_| SecretKeyError::Damaged("its checksum does not match"))?,
            b"Sc" => {
                // Never `None`: the crate would prompt on the terminal and
                // write its progress to stdout.
                let password = password.ok_or(SecretKeyError::NeedsPassword)?;
                boxed
                    .into_secret_key(Some(password.to_owned()))
                    .map_err(|e| match e.kind() {
                        // The checksum over the decrypted key did not match.
                        minisign::ErrorKind::Verify => SecretKeyError::WrongPassword,
                        _ => SecretKeyError::Kdf(e.to_string()),
                    })?
            }
            _ => return Err(SecretKeyError::Unsupported),
        };
        // The public half is stored in the key, not derived from the secret
        // one: a signature the stored half verifies proves they match.
        let public = minisign::PublicKey::from_secret_key(&key)
            .map_err(|_| SecretKeyError::Damaged("it has no public half"))?;
        minisign::sign(Some(&public), &key, &b""[..], Some(""), Some(""))
            .map_err(|_| SecretKeyError::Damaged("its two halves do not match"))?;
        let id = KeyId(key.keynum().try_into().expect("8 bytes"));
        Ok(SecretKey { id, key, public })
    }

    /// The text of a prehashed (`ED`) minisign signature of `module` binding
    /// it to `name`, in the format `minisign -S -t "sme-module: <name>"`
    /// writes (not its bytes: the crate's Ed25519 signatures are
    /// randomized). `name` is a module name: it holds no line break.
    pub fn sign(&self, module: &[u8], name: &str) -> String {
        let trusted = format!("{COMMENT_PREFIX}{name}");
        let untrusted = format!("signature from smectl, key {}", self.id);
        // It fails only if the system's random source does, or for halves
        // that do not match, which `from_file_text` ruled out.
        minisign::sign(
            Some(&self.public),
            &self.key,
            module,
            Some(&trusted),
            Some(&untrusted),
        )
        .expect("signing with a checked key")
        .into_string()
    }

    /// The public key, as the base64 line of a minisign `.pub` file.
    pub fn public_base64(&self) -> String {
        self.public.to_base64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha256;

    /// An unencrypted secret key made by `minisign -G -W` (0.11), and its
    /// public key.
    const SECRET: &str = "untrusted comment: minisign encrypted secret key\n\
        RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4cAwJ2ukeGXqieUX2wzWHAj5pJkmzlxzf/BmNaWEBLqxz+VxNC0VV9O0dJPvYulnJbipM2W/3P5hUPGqg4zRY/aGSrGp7+ysAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    const PUBLIC: &str = "untrusted comment: minisign public key 6578A46B2730C0E1\n\
        RWThwDAna6R4ZdO0dJPvYulnJbipM2W/3P5hUPGqg4zRY/aGSrGp7+ys\n";
    /// `minisign -S -s <SECRET> -t "sme-module: stop"` of `hello\n`.
    const MINISIG: &str = "untrusted comment: signature from minisign secret key\n\
        RUThwDAna6R4Zc/vP0cXKiDLNMZ4RX/cwrQdiYRhrnDBhasmynqpClQDTia0W+ue+q/cDuPdsQkpGhuXfjyvuvGDIlajWd3I1wk=\n\
        trusted comment: sme-module: stop\n\
        CUDzkc4CU9U+ip1nlYNoQUh66vBzeXYaWA01TOqtOwuD8uDUKlu6DxCyyP8KU5FASgCfKghcLCxjmJlvaFTiBg==\n";

    fn key() -> SecretKey {
        // The crate makes keys only at random: the fixed key file.
        SecretKey::from_file_text(SECRET, None).unwrap()
    }

    fn signing(key: &SecretKey) -> Signing {
        Signing {
            keys: vec![TrustedKey::from_base64(&key.public_base64()).unwrap()],
            ..Signing::default()
        }
    }

    fn check(
        signing: &Signing,
        name: &str,
        wasm: &[u8],
        sig: Option<&str>,
    ) -> Result<Option<KeyId>, Refusal> {
        let sha: [u8; 32] = Sha256::digest(wasm).into();
        signing.verify(name, "x.wasm", wasm, &sha, sig.map(str::as_bytes), false)
    }

    #[test]
    fn key_ids_print_as_minisign_does() {
        let id = KeyId([0x1f, 0xe8, 0xb4, 0x42, 0x18, 0x0f, 0x62, 0xe7]);
        assert_eq!(id.to_string(), "E7620F1842B4E81F");
        assert_eq!(KeyId::parse("e7620f1842b4e81f"), Some(id));
        assert_eq!(KeyId::parse("E7620F1842B4E81F0"), None);
        assert_eq!(KeyId::parse(""), None);
        // One ID in sixteen starts with a zero nibble: minisign prints 15
        // digits for it (seen in the signing tests), and so does SME.
        let short = KeyId([0xcb, 0x46, 0xc9, 0xcc, 0xde, 0x0e, 0xa7, 0x03]);
        assert_eq!(short.to_string(), "3A70EDECCC946CB");
        assert_eq!(KeyId::parse("3A70EDECCC946CB"), Some(short));
        assert_eq!(KeyId::parse("03a70edeccc946cb"), Some(short));
        // The example key of minisign-verify's documentation.
        let key =
            TrustedKey::from_base64("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
                .unwrap();
        assert_eq!(key.id, id);
    }

    #[test]
    fn what_is_signed_verifies_and_nothing_else_does() {
        let key = key();
        let signing = signing(&key);
        let sig = key.sign(b"module", "stop");
        assert_eq!(
            check(&signing, "stop", b"module", Some(&sig)),
            Ok(Some(key.id))
        );
        assert_eq!(
            check(&signing, "stop", b"modulE", Some(&sig)),
            Err(Refusal::BadSignature(key.id))
        );
        assert!(matches!(
            check(&signing, "restart", b"module", Some(&sig)),
            Err(Refusal::WrongName { .. })
        ));
        let altered = sig.replace("sme-module: stop", "sme-module: restart");
        assert_eq!(
            check(&signing, "restart", b"module", Some(&altered)),
            Err(Refusal::BadSignature(key.id)),
            "the trusted comment is covered by the global signature"
        );
        assert_eq!(check(&signing, "stop", b"module", None), Ok(None));
        assert_eq!(
            check(&Signing::default(), "stop", b"module", Some(&sig)),
            Err(Refusal::UnknownKey(key.id))
        );
        let mut revoked = signing.clone();
        revoked.revoked_keys.insert(key.id);
        assert_eq!(
            check(&revoked, "stop", b"module", Some(&sig)),
            Err(Refusal::RevokedKey(key.id))
        );
        let mut revoked = signing.clone();
        revoked
            .revoked_sha256
            .insert(Sha256::digest(b"module").into());
        assert!(matches!(
            check(&revoked, "stop", b"module", Some(&sig)),
            Err(Refusal::RevokedModule(_))
        ));
        assert_eq!(
            check(&signing, "stop", b"module", Some("garbage")),
            Err(Refusal::Malformed)
        );
        let sha: [u8; 32] = Sha256::digest(b"module").into();
        assert!(matches!(
            signing.verify("stop", "stop.wasm", b"module", &sha, None, true),
            Err(Refusal::Missing { .. })
        ));
    }

    #[test]
    fn the_name_is_the_first_word_of_the_trusted_comment() {
        let key = key();
        let sign = |comment: &str| {
            let sig = key.sign(b"m", "x");
            let parsed = ModuleSignature::parse(sig.as_bytes()).unwrap();
            let mut parsed = parsed;
            // Only the parsing of the comment is under test here.
            let text = sig.replace("sme-module: x", comment);
            parsed.signature = minisign_verify::Signature::decode(&text).unwrap();
            parsed.module_name().map(str::to_owned)
        };
        assert_eq!(sign("sme-module: stop").as_deref(), Some("stop"));
        assert_eq!(sign("sme-module: stop\tv1.2").as_deref(), Some("stop"));
        assert_eq!(
            sign("sme-module: metrics.d/up extra").as_deref(),
            Some("metrics.d/up")
        );
        assert_eq!(sign("sme-module: stopped").as_deref(), Some("stopped"));
        assert_eq!(sign("timestamp:1\tfile:stop.wasm").as_deref(), None);
        assert_eq!(sign("sme-module: ").as_deref(), None);
    }

    #[test]
    fn minisign_keys_and_signatures_are_understood() {
        let secret = SecretKey::from_file_text(SECRET, None).unwrap();
        let public = TrustedKey::from_file_text(PUBLIC).unwrap();
        assert_eq!(secret.id, public.id);
        assert_eq!(public.id.to_string(), "6578A46B2730C0E1");
        assert_eq!(Some(secret.public_base64().as_str()), PUBLIC.lines().nth(1));
        let signing = Signing {
            keys: vec![public],
            ..Signing::default()
        };
        assert_eq!(
            check(&signing, "stop", b"hello\n", Some(MINISIG)),
            Ok(Some(secret.id))
        );
        // Ours verifies and has minisign's shape: the same algorithm and key
        // ID (the first 13 base64 characters), line lengths and trusted
        // comment; the signatures themselves are randomized.
        let ours = secret.sign(b"hello\n", "stop");
        assert_eq!(
            check(&signing, "stop", b"hello\n", Some(&ours)),
            Ok(Some(secret.id))
        );
        assert_ne!(ours, secret.sign(b"hello\n", "stop"));
        let shape = |text: &str| -> (Vec<usize>, String, String) {
            let lines: Vec<&str> = text.lines().collect();
            (
                lines[1..].iter().map(|line| line.len()).collect(),
                lines[1][..13].to_owned(),
                lines[2].to_owned(),
            )
        };
        assert_eq!(shape(&ours), shape(MINISIG));
    }

    #[test]
    fn encrypted_and_damaged_secret_keys_are_refused() {
        let encrypted = SECRET.replace("RWQAAEIy", "RWRTY0Iy");
        assert_eq!(
            SecretKey::from_file_text(&encrypted, None).unwrap_err(),
            SecretKeyError::NeedsPassword
        );
        // Beyond minisign's own scrypt limits: refused before any work.
        let mut bytes = BASE64.decode(encrypted.lines().nth(1).unwrap()).unwrap();
        bytes[46..54].copy_from_slice(&(2u64 << 30).to_le_bytes());
        let greedy = format!("untrusted comment:\n{}\n", BASE64.encode(&bytes));
        assert!(matches!(
            SecretKey::from_file_text(&greedy, Some("pw")),
            Err(SecretKeyError::Kdf(_))
        ));
        // No checksum (minisign 0.11 -W): a changed secret half no longer
        // matches the public one.
        let damaged = SECRET.replace("qieUX2wz", "qieUX2wA");
        assert_eq!(
            SecretKey::from_file_text(&damaged, None).unwrap_err(),
            SecretKeyError::Damaged("its two halves do not match")
        );
        // Tolerated: CRLF line ends and blank lines.
        let crlf = format!("\n{}", SECRET.replace('\n', "\r\n"));
        assert!(SecretKey::from_file_text(&crlf, None).is_ok());
        assert_eq!(
            SecretKey::from_file_text("nothing", None).unwrap_err(),
            SecretKeyError::NotAKey
        );
        assert_eq!(
            SecretKey::from_file_text(PUBLIC, None).unwrap_err(),
            SecretKeyError::NotAKey
        );
    }

    /// The cost docs/performance.md states: run with
    /// `cargo test --release --lib verification_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn verification_cost() {
        let key = key();
        let signing = signing(&key);
        let wasm: Vec<u8> = (0..50 << 10).map(|i| (i * 31 % 251) as u8).collect();
        let sha: [u8; 32] = Sha256::digest(&wasm).into();
        let sig = key.sign(&wasm, "stop");
        let runs = 2000;
        let started = std::time::Instant::now();
        for _ in 0..runs {
            let verified =
                signing.verify("stop", "stop.wasm", &wasm, &sha, Some(sig.as_bytes()), true);
            assert_eq!(verified, Ok(Some(key.id)));
        }
        let each = started.elapsed() / runs;
        println!("verifying a 50 KiB module: {each:?} per module ({runs} runs)");
    }
}
