//! Transports: UDP and TCP clients on loopback and TCP framing.

use super::*;

/// A UDP socket on loopback, connected to the server.
pub struct UdpClient {
    sock: UdpSocket,
}

impl UdpClient {
    pub fn new(server: SocketAddr) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.connect(server).expect("connect udp");
        UdpClient { sock }
    }

    pub fn send(&self, bytes: &[u8]) {
        self.sock.send(bytes).expect("udp send");
    }

    /// The next datagram, or `None` after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 65535];
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Some(buf)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("udp recv: {e}"),
        }
    }

    /// Reads until a datagram with this ID arrives (returned with every other datagram
    /// seen before it), or `timeout` passes.
    pub fn recv_id(&self, id: u16, timeout: Duration) -> (Option<Vec<u8>>, Vec<Vec<u8>>) {
        let deadline = Instant::now() + timeout;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (None, others);
            }
            match self.recv(left) {
                Some(d) if d.len() >= 2 && u16::from_be_bytes([d[0], d[1]]) == id => {
                    return (Some(d), others);
                }
                Some(d) => others.push(d),
                None => return (None, others),
            }
        }
    }

    pub fn exchange(&self, q: &Query) -> Response {
        self.send(&q.to_wire());
        let (reply, _) = self.recv_id(q.id, REPLY_TIMEOUT);
        let reply = reply.unwrap_or_else(|| panic!("no UDP response to {q:?}"));
        Response::parse(&reply).unwrap_or_else(|e| panic!("bad response to {q:?}: {e}"))
    }

    /// Sends `bytes`, then a good query as a barrier, and returns every datagram that is
    /// not the barrier's response and arrives before it or within [`SILENCE`] after it.
    /// Panics if the barrier is not answered (the server died or hangs).
    pub fn replies_to(&self, bytes: &[u8], barrier_name: &str) -> Vec<Vec<u8>> {
        self.send(bytes);
        let barrier = Query::new(barrier_name, RecordType::A);
        self.send(&barrier.to_wire());
        let (reply, mut others) = self.recv_id(barrier.id, REPLY_TIMEOUT);
        assert!(
            reply.is_some(),
            "server did not answer a good query after {bytes:02x?}"
        );
        while let Some(d) = self.recv(SILENCE) {
            others.push(d);
        }
        others
    }
}

/// A TCP connection to the server; messages carry the 2-byte length prefix.
pub struct TcpClient {
    pub stream: TcpStream,
}

impl TcpClient {
    pub fn connect(server: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&server, REPLY_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(TcpClient { stream })
    }

    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame(msg))
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// One length-prefixed message.
    pub fn recv(&mut self) -> io::Result<Vec<u8>> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len)?;
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut msg)?;
        Ok(msg)
    }

    pub fn exchange(&mut self, q: &Query) -> Response {
        self.send(&q.to_wire())
            .unwrap_or_else(|e| panic!("tcp send {q:?}: {e}"));
        let reply = self
            .recv()
            .unwrap_or_else(|e| panic!("no TCP response to {q:?}: {e}"));
        let r = Response::parse(&reply).unwrap_or_else(|e| panic!("bad response to {q:?}: {e}"));
        assert_eq!(r.id, q.id, "TCP response ID\n{r}");
        r
    }

    /// Waits up to `limit` for the server to close the connection. `Ok(elapsed)` if it
    /// did (EOF or reset), `Err` if it stayed open or sent data.
    pub fn wait_closed(&mut self, limit: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        self.stream.set_read_timeout(Some(limit)).unwrap();
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(0) => Ok(start.elapsed()),
            Ok(n) => Err(format!("server sent {n} bytes instead of closing")),
            Err(e) if is_closed(&e) => Ok(start.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!("still open after {limit:?}"))
            }
            Err(e) => Err(format!("read error {e}")),
        }
    }
}

/// Whether an I/O error means the peer closed or refused the connection.
pub fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::BrokenPipe
    )
}

pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut b = (msg.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(msg);
    b
}
