//! serde shapes of `meridian.toml` exactly as written.
