//! Cold signing rate: signatures (and checks) per second on one core, for each algorithm,
//! over one A RRset as a load-balanced answer would be signed per query (issue 13 point 7).
//!
//! `cargo run --release --example sign_rate [SECONDS]` (default 2 s of CPU per figure).
//! No cache, no server: `dnssec::sign_rrset` alone, the cost a cache miss adds to a query.
//! Rates are per second of this thread's CPU time, so a busy machine lowers them less.

use std::time::Duration;

use meridian::dnssec::{self, Algorithm, canon};

/// This thread's CPU time.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Calls of `f` per CPU second, over `seconds` of CPU time.
fn rate(seconds: f64, mut f: impl FnMut()) -> f64 {
    let limit = Duration::from_secs_f64(seconds);
    let start = cpu_time();
    let mut n = 0u64;
    while cpu_time() - start < limit {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    n as f64 / (cpu_time() - start).as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let zone = canon::name_from_text("example.com.").unwrap();
    let owner = canon::name_from_text("www.example.com.").unwrap();
    let a: &[u8] = &[192, 0, 2, 1];
    let b: &[u8] = &[198, 51, 100, 7];
    println!("algorithm        records  signatures/s  checks/s   (per CPU second, one thread)");
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let key = dnssec::generate(&zone, alg, 0).unwrap();
        let dnskey = key.dnskey_rdata();
        for set in [&[a][..], &[a, b][..]] {
            let sign = rate(seconds, || {
                std::hint::black_box(
                    dnssec::sign_rrset(&key, &owner, 1, 1, 60, set, 1000, 2_000_000_000).unwrap(),
                );
            });
            let rrsig =
                dnssec::sign_rrset(&key, &owner, 1, 1, 60, set, 1000, 2_000_000_000).unwrap();
            let check = rate(seconds, || {
                dnssec::verify_rrsig(&dnskey, &owner, 1, 1, set, &rrsig, 5000).unwrap();
            });
            println!(
                "{:<16} {:>7}  {:>12.0}  {:>8.0}",
                alg.mnemonic(),
                set.len(),
                sign,
                check
            );
        }
    }
}
