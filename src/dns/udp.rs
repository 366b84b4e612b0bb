//! UDP listeners: one OS thread and one `SO_REUSEPORT` socket per worker.
//!
//! Each worker receives a batch with `recvmmsg`, loads the snapshot once for the batch,
//! answers every datagram into its own preallocated buffers, and sends the batch with
//! `sendmmsg`. No task per packet, no lock, no allocation once the buffers have grown.

use super::respond::{QueryStats, Transport, respond};
use super::stats::Totals;
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
/// Largest query read; EDNS lets a client send more than 512 bytes.
const RECV_SIZE: usize = 4096;

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
    totals: Arc<Mutex<Totals>>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let mut worker = Worker::new(socket, live, totals);
        worker.run();
    })
}

struct Worker {
    socket: UdpSocket,
    live: Arc<Live>,
    stats: QueryStats,
    totals: Arc<Mutex<Totals>>,
    recv_bufs: Vec<[u8; RECV_SIZE]>,
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
    fn new(socket: UdpSocket, live: Arc<Live>, totals: Arc<Mutex<Totals>>) -> Worker {
        // SAFETY: these are plain C structs for which all-zero is a valid value.
        let zero_addr: libc::sockaddr_storage = unsafe { zeroed() };
        let zero_iov: libc::iovec = unsafe { zeroed() };
        let zero_msg: libc::mmsghdr = unsafe { zeroed() };
        Worker {
            socket,
            live,
            stats: QueryStats::default(),
            totals,
            recv_bufs: vec![[0u8; RECV_SIZE]; BATCH],
            send_bufs: (0..BATCH).map(|_| Vec::with_capacity(RECV_SIZE)).collect(),
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
                    iov_base: self.recv_bufs[i].as_mut_ptr().cast(),
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
            let mut k = 0;
            for i in 0..n as usize {
                let len = self.recv_msgs[i].msg_len as usize;
                let query = &self.recv_bufs[i][..len.min(RECV_SIZE)];
                let out = &mut self.send_bufs[k];
                let peer = peer_ip(&self.addrs[i]);
                if !respond(&snapshot, query, Transport::Udp, peer, out, &mut self.stats) {
                    continue;
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
