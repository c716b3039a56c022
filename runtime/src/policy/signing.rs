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
//! signs (`smectl sign`) with unencrypted minisign secret keys.

use std::fmt;

pub use crate::config::keys::{KeyId, MAX_KEY_FILE_BYTES, Signing, TrustedKey};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use blake2::{Blake2b512, Digest as _};

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

/// A minisign secret key, unencrypted (`minisign -G -W`).
pub struct SecretKey {
    /// Its ID.
    pub id: KeyId,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

/// Bytes of a decoded minisign secret key: algorithm, KDF algorithm,
/// checksum algorithm, KDF salt, opslimit, memlimit, key ID, secret and
/// public key, checksum.
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

impl SecretKey {
    /// Reads the text of a minisign secret key file.
    pub fn from_file_text(text: &str) -> Result<SecretKey, String> {
        let line = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .nth(1)
            .ok_or("not a minisign secret key file")?;
        let bytes = BASE64
            .decode(line.trim())
            .map_err(|_| "not a minisign secret key file")?;
        if bytes.len() != SECRET_KEY_BYTES || &bytes[..2] != b"Ed" || &bytes[4..6] != b"B2" {
            return Err("not a minisign Ed25519 secret key file".to_owned());
        }
        if bytes[2..4] != [0, 0] {
            return Err(
                "the secret key is encrypted with a password, which smectl does not \
                 support: make keys with `minisign -G -W`, or remove the password with \
                 `minisign -C -W`"
                    .to_owned(),
            );
        }
        let keynum = &bytes[54..126];
        let mut check = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        check.update(b"Ed");
        check.update(keynum);
        // `minisign -G -W` 0.11 leaves the checksum zero; the two halves of
        // the key pair are compared below in any case.
        let stored = &bytes[126..158];
        if stored.iter().any(|&b| b != 0) && check.finalize().as_slice() != stored {
            return Err("the secret key's checksum does not match: the file is damaged".to_owned());
        }
        let pair: [u8; 64] = keynum[8..72].try_into().expect("64 bytes");
        let key = ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
            .map_err(|_| "the secret key's two halves do not match: the file is damaged")?;
        Ok(SecretKey {
            id: KeyId(keynum[..8].try_into().expect("8 bytes")),
            key,
        })
    }

    /// The text of a prehashed (`ED`) minisign signature of `module` binding
    /// it to `name`, as `minisign -S -t "sme-module: <name>"` would make it.
    pub fn sign(&self, module: &[u8], name: &str) -> String {
        use ed25519_dalek::Signer as _;
        let hash = Blake2b512::digest(module);
        let signature = self.key.sign(&hash).to_bytes();
        let comment = format!("{COMMENT_PREFIX}{name}");
        let mut global = signature.to_vec();
        global.extend_from_slice(comment.as_bytes());
        let global = self.key.sign(&global).to_bytes();
        let mut line = b"ED".to_vec();
        line.extend_from_slice(&self.id.0);
        line.extend_from_slice(&signature);
        format!(
            "untrusted comment: signature from smectl, key {}\n{}\ntrusted comment: {comment}\n{}\n",
            self.id,
            BASE64.encode(line),
            BASE64.encode(global)
        )
    }

    /// The public key, as the base64 line of a minisign `.pub` file.
    pub fn public_base64(&self) -> String {
        let mut bytes = b"Ed".to_vec();
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(self.key.verifying_key().as_bytes());
        BASE64.encode(bytes)
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
        // A fixed seed: the tests need no randomness.
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        SecretKey {
            id: KeyId([1, 2, 3, 4, 5, 6, 7, 8]),
            key,
        }
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
        let secret = SecretKey::from_file_text(SECRET).unwrap();
        let public = TrustedKey::from_file_text(PUBLIC).unwrap();
        assert_eq!(secret.id, public.id);
        assert_eq!(public.id.to_string(), "6578A46B2730C0E1");
        let signing = Signing {
            keys: vec![public],
            ..Signing::default()
        };
        assert_eq!(
            check(&signing, "stop", b"hello\n", Some(MINISIG)),
            Ok(Some(secret.id))
        );
        // Signing is deterministic (Ed25519): ours is byte for byte minisign's
        // but for the untrusted comment.
        let ours = secret.sign(b"hello\n", "stop");
        assert_eq!(
            ours.lines().skip(1).collect::<Vec<_>>(),
            MINISIG.lines().skip(1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn encrypted_and_damaged_secret_keys_are_refused() {
        let encrypted = SECRET.replace("RWQAAEIy", "RWRTY0Iy");
        let error = SecretKey::from_file_text(&encrypted).unwrap_err();
        assert!(error.contains("minisign -G -W"), "{error}");
        let damaged = SECRET.replace("qieUX2wz", "qieUX2wA");
        assert!(SecretKey::from_file_text(&damaged).is_err());
        assert!(SecretKey::from_file_text("nothing").is_err());
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
