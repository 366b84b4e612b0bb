//! The DNS wire protocol and listeners.
