//! Everything one query reads, as one immutable value, and the atomic swap that replaces it.
