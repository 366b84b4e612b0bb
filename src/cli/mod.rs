//! The commands: each builds the pieces it needs from the library and starts them.
//! Nothing here decides an answer; `anyhow` is used only here and in `main.rs`.

pub mod backend;
pub mod check;
pub mod dnssec;
pub mod explain;
pub mod probe;
pub mod serve;
