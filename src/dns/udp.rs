//! UDP listeners: one OS thread and one `SO_REUSEPORT` socket per worker.
//!
//! Each worker receives a batch with `recvmmsg`, loads the snapshot once for the batch,
//! answers every datagram into its own preallocated buffers, and sends the batch with
//! `sendmmsg`. No task per packet, no lock, no allocation once the buffers have grown.
//!
//! Datagrams are read whole, up to 65,535 bytes (a query may carry a large OPT). Each
//! worker has its own response rate limiter (see `rrl.rs`); the clock it and the cookie
//! check use is read once per batch.

use super::cookie::Secrets;
use super::respond::{QueryStats, Request, Transport, respond, slip};
use super::rrl::{Limiter, Verdict};
use super::stats::Totals;
use crate::config::RrlConfig;
use crate::snapshot::Live;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::Mutex;

/// Datagrams taken per `recvmmsg` call.
const BATCH: usize = 32;
/// Largest datagram read: the most UDP can carry, so no query is cut (32 of them are 2 MiB
/// per worker).
const RECV_SIZE: usize = 65_535;

/// What every worker of a listener shares: abuse settings, fixed at start.
#[derive(Debug, Clone, Default)]
pub struct UdpOptions {
    /// `None` when response rate limiting is off.
    pub rrl: Option<RrlConfig>,
    /// `None` when cookies are off.
    pub cookies: Option<Arc<Secrets>>,
}

/// Binds one UDP socket that other workers can share (`SO_REUSEPORT`).
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Bursts above the default 208 KiB receive buffer are dropped; ask for more.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Starts a worker thread answering queries on `socket` until the process exits.
pub fn spawn_worker(
    name: String,
    socket: UdpSocket,
    live: Arc<Live>,
    options: UdpOptions,
    totals: Arc<Mutex<Totals>>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let mut worker = Worker::new(socket, live, options, totals);
        worker.run();
    })
}

/// 16 random bytes for the rate limiter's hash key, from the std hasher's random keys.
fn random_seed() -> [u8; 16] {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let mut seed = [0u8; 16];
    seed[..8].copy_from_slice(&state.hash_one(1u8).to_le_bytes());
    seed[8..].copy_from_slice(&state.hash_one(2u8).to_le_bytes());
    seed
}

struct Worker {
    socket: UdpSocket,
    live: Arc<Live>,
    stats: QueryStats,
    totals: Arc<Mutex<Totals>>,
    limiter: Option<Limiter>,
    cookies: Option<Arc<Secrets>>,
    epoch: std::time::Instant,
    /// BATCH buffers of RECV_SIZE bytes, end to end.
    recv_bufs: Vec<u8>,
    send_bufs: Vec<Vec<u8>>,
    addrs: Vec<libc::sockaddr_storage>,
    recv_iov: Vec<libc::iovec>,
    send_iov: Vec<libc::iovec>,
    recv_msgs: Vec<libc::mmsghdr>,
    send_msgs: Vec<libc::mmsghdr>,
}

// The raw pointers inside the iovec/mmsghdr arrays only point into the worker's own buffers.
unsafe impl Send for Worker {}

impl Worker {
    fn new(
        socket: UdpSocket,
        live: Arc<Live>,
        options: UdpOptions,
        totals: Arc<Mutex<Totals>>,
    ) -> Worker {
        // SAFETY: these are plain C structs for which all-zero is a valid value.
        let zero_addr: libc::sockaddr_storage = unsafe { zeroed() };
        let zero_iov: libc::iovec = unsafe { zeroed() };
        let zero_msg: libc::mmsghdr = unsafe { zeroed() };
        Worker {
            socket,
            live,
            stats: QueryStats::default(),
            totals,
            limiter: options.rrl.map(|cfg| Limiter::new(&cfg, random_seed())),
            cookies: options.cookies,
            epoch: std::time::Instant::now(),
            recv_bufs: vec![0u8; BATCH * RECV_SIZE],
            send_bufs: (0..BATCH).map(|_| Vec::with_capacity(4096)).collect(),
            addrs: vec![zero_addr; BATCH],
            recv_iov: vec![zero_iov; BATCH],
            send_iov: vec![zero_iov; BATCH],
            recv_msgs: vec![zero_msg; BATCH],
            send_msgs: vec![zero_msg; BATCH],
        }
    }

    fn run(&mut self) {
        let fd = self.socket.as_raw_fd();
        loop {
            for i in 0..BATCH {
                self.recv_iov[i] = libc::iovec {
                    iov_base: self.recv_bufs[i * RECV_SIZE..].as_mut_ptr().cast(),
                    iov_len: RECV_SIZE,
                };
                let h = &mut self.recv_msgs[i].msg_hdr;
                h.msg_iov = &mut self.recv_iov[i];
                h.msg_iovlen = 1;
                h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
                h.msg_control = std::ptr::null_mut();
                h.msg_controllen = 0;
                h.msg_flags = 0;
            }
            // SAFETY: every mmsghdr points at live buffers owned by `self` for the whole call.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.recv_msgs.as_mut_ptr(),
                    BATCH as u32,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if n <= 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    tracing::debug!("recvmmsg: {err}");
                }
                continue;
            }
            let snapshot = self.live.load();
            // One clock read per batch: coarse is enough for buckets and cookie stamps.
            let now_ms = self.epoch.elapsed().as_millis() as u32;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as u32);
            let mut k = 0;
            for i in 0..n as usize {
                let len = self.recv_msgs[i].msg_len as usize;
                let start = i * RECV_SIZE;
                let query = &self.recv_bufs[start..start + len.min(RECV_SIZE)];
                let out = &mut self.send_bufs[k];
                let req = Request {
                    transport: Transport::Udp,
                    peer: peer_ip(&self.addrs[i]),
                    now,
                    cookies: self.cookies.as_deref(),
                };
                let Some(reply) = respond(&snapshot, query, &req, out, &mut self.stats) else {
                    continue;
                };
                // A valid server cookie proves the source address: no limit then.
                if let Some(limiter) = &mut self.limiter
                    && !reply.proven
                {
                    match limiter.check(now_ms, req.peer, reply.key) {
                        Verdict::Send => {}
                        // A slipped copy of a signed response would fail its MAC.
                        Verdict::Slip if !reply.signed => {
                            slip(out, &reply);
                            self.stats.rrl_slipped += 1;
                            self.stats.truncated += 1;
                        }
                        Verdict::Slip | Verdict::Drop => {
                            // Counted as a response by `respond`, but none is sent.
                            self.stats.uncount(reply.counted.0, reply.counted.1);
                            self.stats.rrl_dropped += 1;
                            continue;
                        }
                    }
                }
                self.send_iov[k] = libc::iovec {
                    iov_base: out.as_mut_ptr().cast(),
                    iov_len: out.len(),
                };
                let h = &mut self.send_msgs[k].msg_hdr;
                h.msg_iov = &mut self.send_iov[k];
                h.msg_iovlen = 1;
                h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = self.recv_msgs[i].msg_hdr.msg_namelen;
                k += 1;
            }
            self.stats.flush(&snapshot, &self.totals);
            drop(snapshot);
            let mut sent = 0;
            while sent < k {
                // SAFETY: the first k send headers point at filled buffers and addresses.
                let r = unsafe {
                    libc::sendmmsg(
                        fd,
                        self.send_msgs.as_mut_ptr().add(sent),
                        (k - sent) as u32,
                        0,
                    )
                };
                if r <= 0 {
                    let err = io::Error::last_os_error();
                    if err.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    // Skip the datagram that failed (e.g. an unreachable peer) and go on.
                    tracing::debug!("sendmmsg: {err}");
                    sent += 1;
                    continue;
                }
                sent += r as usize;
            }
        }
    }
}

/// The IP address in a socket address the kernel filled in.
fn peer_ip(sa: &libc::sockaddr_storage) -> IpAddr {
    match sa.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in when the family is AF_INET.
            let sin =
                unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 when the family is AF_INET6.
            let sin6 =
                unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        }
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}
