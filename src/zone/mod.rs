//! Zones: RFC 1035 master files → immutable [`Zones`] with precomputed answers.

pub mod master;
