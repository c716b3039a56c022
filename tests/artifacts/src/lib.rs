//! Paths of the guest components the integration tests use: the example
//! policies and the hostile corpus, built by this crate's build script from
//! their sources (no opaque binaries are checked in).

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
