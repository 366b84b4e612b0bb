//! Integration tests: start the real `meridian` binary and talk to it over real sockets.
//!
//! Every test starts its own server on `127.0.0.1:0` (see `util`), so tests run in
//! parallel. One module per area; the zones they serve are in `tests/data/zones/`.

mod abuse;
mod answers;
mod api;
mod check;
mod cname;
mod console;
mod cookies;
mod dashboard;
mod delegation;
mod differential;
mod dname;
mod dnssec;
mod dnssec_chain;
mod dnssec_serve;
mod ecs;
mod edns;
mod explain;
mod fleet;
mod geo;
mod hardening;
mod identity;
mod interop;
mod lab;
mod latency;
mod malformed;
mod metrics;
mod negative;
mod openapi;
mod packaging;
mod protocol;
mod rrl;
mod rrtypes;
mod secondary;
mod tcp;
mod tsig;
mod util;
mod viewpoints;
mod wildcard;
mod xfr;
mod zones;
