//! The keys a configuration trusts to sign modules, and those it revokes
//! (`[signing]`): minisign public keys, parsed from their base64 line or
//! their `.pub` file. Verifying a module against them is
//! `crate::policy::signing`'s.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Largest public or secret key file read: a key file is about 100 bytes
/// plus its comment; anything near this size is not one.
pub const MAX_KEY_FILE_BYTES: u64 = 4 << 10;

/// The 8-byte ID minisign gives a key pair, as stored in keys and signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

/// As minisign prints it (`minisign public key E7620F1842B4E81F`): the
/// little-endian 64-bit number in uppercase hexadecimal, with no leading
/// zeros (minisign's `%PRIX64`), so an ID can be matched to its `.pub` file.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

impl KeyId {
    /// Parses up to 16 hexadecimal digits (either case), as minisign and
    /// [`KeyId`]'s `Display` print them, or zero-padded to 16.
    pub fn parse(text: &str) -> Option<KeyId> {
        let text = text.trim();
        if !(1..=16).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(text, 16)
            .ok()
            .map(|n| KeyId(n.to_le_bytes()))
    }
}

/// A trusted public key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Its ID.
    pub id: KeyId,
    pub(crate) key: minisign_verify::PublicKey,
    /// The decoded key (algorithm, ID and Ed25519 key), for proofs.
    pub(crate) bytes: Vec<u8>,
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &TrustedKey) -> bool {
        self.id == other.id && self.key == other.key
    }
}

impl Eq for TrustedKey {}

impl TrustedKey {
    /// A key from the base64 line of a minisign public key (`RWQ...`).
    pub fn from_base64(line: &str) -> Result<TrustedKey, String> {
        let line = line.trim();
        let bytes = BASE64
            .decode(line)
            .map_err(|_| format!("public key {line:?} is not base64"))?;
        if bytes.len() != 42 || &bytes[..2] != b"Ed" {
            return Err(format!(
                "public key {line:?} is not a minisign Ed25519 public key (the second line of a \
                 minisign .pub file)"
            ));
        }
        let key = minisign_verify::PublicKey::from_base64(line)
            .map_err(|e| format!("public key {line:?}: {e}"))?;
        Ok(TrustedKey {
            id: KeyId(bytes[2..10].try_into().expect("8 bytes")),
            key,
            bytes,
        })
    }

    /// Whether `signature` (the text of a `.minisig` file) is this key's
    /// valid signature of `message`.
    pub fn signed(&self, message: &[u8], signature: &str) -> bool {
        minisign_verify::Signature::decode(signature)
            .is_ok_and(|signature| self.key.verify(message, &signature, false).is_ok())
    }

    /// A key from the text of a minisign `.pub` file: an untrusted comment
    /// line, then the base64 line.
    pub fn from_file_text(text: &str) -> Result<TrustedKey, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        match (lines.next(), lines.next()) {
            (Some(comment), Some(key)) if comment.starts_with("untrusted comment:") => {
                TrustedKey::from_base64(key)
            }
            _ => Err(
                "not a minisign public key file (an `untrusted comment:` line, then the \
                 key)"
                    .to_owned(),
            ),
        }
    }
}

/// The `[signing]` settings, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signing {
    /// The trusted keys, inline and from files; several during a rotation.
    pub keys: Vec<TrustedKey>,
    /// Every module file must carry a valid signature.
    pub require_signature: bool,
    /// Keys whose signatures are refused, trusted or not.
    pub revoked_keys: BTreeSet<KeyId>,
    /// Module files refused whatever vouches for them.
    pub revoked_sha256: BTreeSet<[u8; 32]>,
}
