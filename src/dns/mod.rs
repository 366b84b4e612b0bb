//! The DNS protocol side: bytes in, bytes out, and the sockets around it.
//!
//! ```text
//!  udp.rs (one thread + SO_REUSEPORT socket per worker, recvmmsg/sendmmsg batches,
//!          65,535-byte datagrams; rrl.rs: per-worker rate limiter, drop or slip)
//!  tcp.rs (tokio: RFC 7766 framing, pipelining, idle and write timeouts, per-source
//!          and global connection caps, idle eviction at the cap)
//!      │ query bytes                               ▲ response bytes
//!      ▼                                           │
//!  respond.rs ── wire.rs (parse header, question, OPT, ECS, COOKIE)
//!      │   ├──── cookie.rs (RFC 7873/9018 server cookies: check, make, BADCOOKIE)
//!      │   └──── tsig.rs (RFC 8945: verify a signed query, sign its answer; keys from
//!      │         config [tsig.NAME])
//!      │
//!      └── zone::Zones::lookup ─┬─ answer::Answer (pre-encoded sections) → copied out
//!                               └─ Balanced → decisions.rs (per-thread memo by client
//!                                  network) or geo locate (ECS or source) → route::decide
//!                                  → answer::address_record per address, ECS scope
//!  xfr.rs (TCP only: AXFR/IXFR allowed by [transfer.ZONE], streamed from the zone's
//!          records, TSIG-chained); notify.rs (NOTIFY to secondaries after a reload)
//!  stats.rs: per-worker counters, added to the registry once per batch
//! ```

pub mod cookie;
pub mod decisions;
pub mod notify;
pub mod respond;
pub mod rrl;
pub mod stats;
pub mod tcp;
pub mod tsig;
pub mod udp;
pub mod wire;
pub mod xfr;
