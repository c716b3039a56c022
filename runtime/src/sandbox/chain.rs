//! The audit log's hash chain (docs/security.md, "A tamper-evident audit
//! log"): each line begins `{"seq":N,"prev":"<sha256 of the line before>"`,
//! so an edited, removed, inserted or reordered line breaks the chain at
//! the line after it. Lines are linked by the audit sink's thread under the
//! file's exclusive lock, so every executor appends to one linear chain.
//!
//! Whoever can write the file can recompute the whole chain: it proves
//! something only against a head kept off the device (`smectl audit head`,
//! signed elsewhere, checked with `smectl audit verify --seal`).

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// How much of the file's end is read to find its last line: audit lines
/// are a few KiB at most (every string a module controls is clipped).
const TAIL: u64 = 64 << 10;
/// What the first chained line follows when nothing came before it.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The last line of a chain: its number and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its `seq`.
    pub seq: u64,
    /// The sha256 of its bytes (without the newline), in hex.
    pub hash: String,
}

impl fmt::Display for Head {
    /// The text an operator signs: `sme-audit-head seq=12 sha256=<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sme-audit-head seq={} sha256={}", self.seq, self.hash)
    }
}

impl Head {
    /// Reads the text [`Head`]'s `Display` writes.
    pub fn parse(text: &str) -> Option<Head> {
        let rest = text.trim().strip_prefix("sme-audit-head seq=")?;
        let (seq, hash) = rest.split_once(" sha256=")?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Head {
            seq: seq.parse().ok()?,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// The hash of one line's bytes (without its newline), in hex.
pub fn hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// The `seq` of a line, when it is a chained line.
fn seq_of(line: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    value["seq"].as_u64()
}

/// `line` (JSON, with its newline) linked to the end of `file`, which is
/// `len` bytes long and locked by the caller: `{"seq":..,"prev":..,` put
/// first. A file that ends mid-line (a write torn by a crash) is first cut
/// back to its last whole line, and the new line says how many bytes were
/// cut (`"repaired"`).
pub fn link(file: &File, len: u64, line: &[u8]) -> io::Result<Vec<u8>> {
    let start = len.saturating_sub(TAIL);
    let mut tail = vec![0; (len - start) as usize];
    file.read_exact_at(&mut tail, start)?;
    let mut repaired = 0;
    if tail.last().is_some_and(|&b| b != b'\n') {
        let Some(end) = tail.iter().rposition(|&b| b == b'\n') else {
            if start > 0 {
                return Err(io::Error::other(
                    "the audit log ends with a line longer than 64 KiB: it is not SME's",
                ));
            }
            repaired = tail.len();
            file.set_len(0)?;
            tail.clear();
            return Ok(linked(line, 1, GENESIS, repaired));
        };
        repaired = tail.len() - (end + 1);
        tail.truncate(end + 1);
        file.set_len(start + tail.len() as u64)?;
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    if body.is_empty() && start == 0 {
        return Ok(linked(line, 1, GENESIS, repaired));
    }
    let last = match body.iter().rposition(|&b| b == b'\n') {
        Some(at) => &body[at + 1..],
        None if start == 0 => body,
        None => {
            return Err(io::Error::other(
                "the audit log's last line is longer than 64 KiB: it is not SME's",
            ));
        }
    };
    // A line from before chaining has no seq: the chain starts after it.
    let seq = seq_of(last).map_or(1, |seq| seq + 1);
    Ok(linked(line, seq, &hash(last), repaired))
}

fn linked(line: &[u8], seq: u64, prev: &str, repaired: usize) -> Vec<u8> {
    let rest = line.strip_prefix(b"{").unwrap_or(line);
    let mut out = format!("{{\"seq\":{seq},\"prev\":\"{prev}\",").into_bytes();
    if repaired > 0 {
        out.extend_from_slice(format!("\"repaired\":{repaired},").as_bytes());
    }
    out.extend_from_slice(rest);
    out
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The file, as given.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.why)
    }
}

/// What a whole chain holds, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Its last line.
    pub head: Option<Head>,
    /// Chained lines checked.
    pub lines: usize,
    /// Lines before the chain began (written before chaining).
    pub unchained: usize,
    /// Every line's head, to find a sealed one.
    pub heads: Vec<Head>,
}

/// Checks the chain through `files` (name, contents), in order: every line
/// parses, counts up by one, and names the hash of the line before (the
/// first line of a later file, the last of the file before).
pub fn verify(files: &[(String, Vec<u8>)]) -> Result<Verified, Break> {
    let mut verified = Verified {
        head: None,
        lines: 0,
        unchained: 0,
        heads: Vec::new(),
    };
    let mut previous: Option<Head> = None;
    for (name, bytes) in files {
        let broken = |line: usize, why: String| Break {
            file: name.clone(),
            line,
            why,
        };
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            let line = bytes.split(|&b| b == b'\n').count();
            return Err(broken(
                line,
                "the file ends mid-line: its tail was cut (or a write was torn and no line followed to repair it)".into(),
            ));
        }
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        if body.is_empty() {
            continue;
        }
        for (index, line) in body.split(|&b| b == b'\n').enumerate() {
            let number = index + 1;
            let value: serde_json::Value = serde_json::from_slice(line).map_err(|_| {
                broken(
                    number,
                    "not a JSON line: edited, or not an audit log".into(),
                )
            })?;
            let hash_now = hash(line);
            let Some(seq) = value["seq"].as_u64() else {
                if previous.is_some() {
                    return Err(broken(
                        number,
                        "a line without a place in the chain: inserted, or edited".into(),
                    ));
                }
                verified.unchained += 1;
                previous = None;
                continue;
            };
            let prev = value["prev"].as_str().unwrap_or_default();
            if let Some(before) = &previous {
                if prev != before.hash {
                    return Err(broken(
                        number,
                        format!(
                            "does not follow the line before (seq {}): a line was edited, removed, inserted or reordered",
                            before.seq
                        ),
                    ));
                }
                if seq != before.seq + 1 {
                    return Err(broken(
                        number,
                        format!(
                            "seq {seq} follows seq {}: lines were removed or reordered",
                            before.seq
                        ),
                    ));
                }
            }
            let head = Head {
                seq,
                hash: hash_now,
            };
            verified.heads.push(head.clone());
            verified.lines += 1;
            previous = Some(head);
        }
    }
    verified.head = previous;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(lines: &[&str]) -> Vec<u8> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("chain-{n}-{}", std::process::id()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        for line in lines {
            let len = file.metadata().unwrap().len();
            let mut linked = link(&file, len, line.as_bytes()).unwrap();
            linked.push(b'\n');
            std::io::Write::write_all(&mut &file, &linked).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(path).unwrap();
        bytes
    }

    fn one(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
        vec![("log".to_owned(), bytes)]
    }

    #[test]
    fn a_chain_verifies_and_every_kind_of_tampering_breaks_it() {
        let bytes = chain(&[r#"{"a":1}"#, r#"{"a":2}"#, r#"{"a":3}"#, r#"{"a":4}"#]);
        let verified = verify(&one(bytes.clone())).unwrap();
        assert_eq!(
            (verified.lines, verified.head.as_ref().unwrap().seq),
            (4, 4)
        );
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let joined = |lines: &[&str]| format!("{}\n", lines.join("\n")).into_bytes();

        let edited = text.replacen(r#""a":2"#, r#""a":9"#, 1).into_bytes();
        assert_eq!(verify(&one(edited)).unwrap_err().line, 3);
        let removed = joined(&[lines[0], lines[2], lines[3]]);
        assert_eq!(verify(&one(removed)).unwrap_err().line, 2);
        let reordered = joined(&[lines[0], lines[2], lines[1], lines[3]]);
        assert_eq!(verify(&one(reordered)).unwrap_err().line, 2);
        let inserted = joined(&[lines[0], r#"{"a":5}"#, lines[1]]);
        assert_eq!(verify(&one(inserted)).unwrap_err().line, 2);
        let cut = text.as_bytes()[..text.len() - 5].to_vec();
        assert!(verify(&one(cut)).unwrap_err().why.contains("ends mid-line"));
    }

    #[test]
    fn a_torn_tail_is_cut_back_and_the_chain_goes_on() {
        let bytes = chain(&[r#"{"a":1}"#]);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("chain-torn-{}", std::process::id()));
        let mut torn = bytes.clone();
        torn.extend_from_slice(br#"{"seq":2,"pr"#);
        std::fs::write(&path, &torn).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut linked = link(&file, torn.len() as u64, br#"{"a":2}"#).unwrap();
        linked.push(b'\n');
        std::io::Write::write_all(&mut &file, &linked).unwrap();
        let after = std::fs::read(&path).unwrap();
        let verified = verify(&one(after.clone())).unwrap();
        assert_eq!(verified.lines, 2);
        assert!(
            String::from_utf8(after)
                .unwrap()
                .contains(r#""repaired":12,"#)
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_first_line_names_zeros_and_a_chain_begun_later_names_the_line_before() {
        let fresh = chain(&[r#"{"a":1}"#]);
        assert!(
            String::from_utf8(fresh)
                .unwrap()
                .starts_with(&format!("{{\"seq\":1,\"prev\":\"{GENESIS}\","))
        );
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/trusted-tests")
            .join(format!("chain-later-{}", std::process::id()));
        let old = b"{\"event\":\"old\"}\n";
        std::fs::write(&path, old).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut linked = link(&file, old.len() as u64, br#"{"a":2}"#).unwrap();
        linked.push(b'\n');
        std::io::Write::write_all(&mut &file, &linked).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(&format!("\"prev\":\"{}\"", hash(br#"{"event":"old"}"#))));
        let verified = verify(&one(bytes)).unwrap();
        assert_eq!((verified.unchained, verified.lines), (1, 1));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_head_reads_back_as_written() {
        let head = Head {
            seq: 12,
            hash: hash(b"x"),
        };
        assert_eq!(Head::parse(&format!("{head}\n")), Some(head));
        assert_eq!(Head::parse("sme-audit-head seq=1 sha256=zz"), None);
    }
}
