//! The filesystem as SME trusts it: which paths it believes (owner, mode,
//! no links, walked from `/`), and the private directories it keeps files
//! in between runs (compiled policies, CPU readings), and how the
//! operator's tools write files (`new_file`).

pub mod new_file;
pub mod private_dir;
pub mod trusted;
