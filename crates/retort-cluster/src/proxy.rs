//! A TCP proxy between clients and a server that speaks the PostgreSQL wire protocol well
//! enough to break it on purpose: it adds latency, cuts a connection at a chosen point (after N
//! bytes from the client, at the Nth client message, or at a message whose text contains a
//! pattern such as `COMMIT`), lets the server answer a message and then loses the answer, or
//! stalls. Tests and benchmarks use it to try retort against the faults a network makes.
//!
//! A fault fires once; afterwards the proxy forwards everything again, so a client that
//! reconnects through it gets through. Arm the next fault with [`FaultProxy::arm`].
//!
//! ```no_run
//! use retort_cluster::{Fault, FaultAction, FaultProxy, Trigger};
//! # fn main() -> std::io::Result<()> {
//! let upstream = "127.0.0.1:5432".parse().unwrap();
//! let proxy = FaultProxy::start(upstream)?;
//! proxy.arm(Fault::new(Trigger::Contains("COMMIT".into()), FaultAction::LoseAnswer));
//! // connect to 127.0.0.1:{proxy.port()}: the server commits, the client never hears of it
//! # Ok(()) }
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When a fault fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// When the client has sent this many bytes in total (over all connections since the fault
    /// was armed); the message holding that byte is the one the fault acts on.
    Bytes(u64),
    /// At the Nth client message (1-based; over all connections since the fault was armed;
    /// startup messages count).
    Message(u64),
    /// At the first Query or Parse message whose SQL contains this text (case-insensitive).
    Contains(String),
}

/// What a fault does to the message it fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Close both sides before the message is forwarded: the server never sees it.
    Cut,
    /// Forward the message, let the server answer it in full (up to its ReadyForQuery), drop
    /// the answer and close both sides: the server did the work, the client never hears of it.
    LoseAnswer,
    /// Hold the message this long before forwarding it, then go on normally.
    Stall(Duration),
    /// Forward the message, then close both sides this long after, answered or not: a
    /// connection that dies while the server is still working on a statement.
    CutAfter(Duration),
    /// Close both sides before the message is forwarded, and every other connection, and
    /// refuse new ones from then on: the server is gone for good (the proxy stays dead).
    Vanish,
}

/// One fault: a trigger and an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: FaultAction,
}

impl Fault {
    /// A fault.
    pub fn new(trigger: Trigger, action: FaultAction) -> Fault {
        Fault { trigger, action }
    }

    /// A fault drawn from `seed`: one of cut, lost answer or a stall of up to `max_stall`, at a
    /// client message between 1 and `messages`. The same seed always gives the same fault.
    pub fn random(seed: u64, messages: u64, max_stall: Duration) -> Fault {
        let mut rng = SplitMix(seed);
        let at = 1 + rng.next_u64() % messages.max(1);
        let action = match rng.next_u64() % 3 {
            0 => FaultAction::Cut,
            1 => FaultAction::LoseAnswer,
            _ => {
                let ms = max_stall.as_millis().max(1) as u64;
                FaultAction::Stall(Duration::from_millis(1 + rng.next_u64() % ms))
            }
        };
        Fault::new(Trigger::Message(at), action)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.action {
            FaultAction::Cut => write!(f, "cut")?,
            FaultAction::LoseAnswer => write!(f, "lost answer")?,
            FaultAction::Stall(d) => write!(f, "stall of {} ms", d.as_millis())?,
            FaultAction::CutAfter(d) => write!(f, "cut {} ms into", d.as_millis())?,
            FaultAction::Vanish => write!(f, "vanish")?,
        }
        match &self.trigger {
            Trigger::Bytes(n) => write!(f, " after {n} client bytes"),
            Trigger::Message(n) => write!(f, " at client message {n}"),
            Trigger::Contains(p) => write!(f, " at the first message containing {p:?}"),
        }
    }
}

/// A small deterministic generator (splitmix64), enough to draw faults from a seed.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What the proxy has seen since the current fault was armed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client messages forwarded or acted on.
    pub messages: u64,
    /// Client bytes.
    pub bytes: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// The armed fault fired.
    pub fired: bool,
    /// The SQL text (or message type) of the message the fault fired on.
    pub fired_on: Option<String>,
    /// When it fired.
    pub fired_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shared {
    fault: Option<Fault>,
    stats: ProxyStats,
    /// A Vanish fault fired: every connection is cut, no new one is served.
    gone: bool,
    /// Both sides of every connection, to cut them all when the server vanishes.
    open: Vec<(TcpStream, TcpStream)>,
}

/// A running proxy; it stops accepting when dropped (open connections run on until they end).
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `upstream`, with no fault armed.
    pub fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        FaultProxy::with_delay(upstream, Duration::ZERO)
    }

    /// Same, delaying every chunk by `delay` in each direction (a network's latency).
    pub fn with_delay(upstream: SocketAddr, delay: Duration) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if lock(&s).gone {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        let _ = client.set_nonblocking(false);
                        let Ok(server) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        {
                            let mut shared = lock(&s);
                            shared.stats.connections += 1;
                            // Kept (two descriptors each) only while a Vanish fault is armed.
                            let vanishing = shared
                                .fault
                                .as_ref()
                                .is_some_and(|f| f.action == FaultAction::Vanish);
                            if let (true, Ok(a), Ok(b)) =
                                (vanishing, client.try_clone(), server.try_clone())
                            {
                                shared.open.push((a, b));
                            }
                        }
                        serve(client, server, s.clone(), delay);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(FaultProxy { port, shared, stop })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arms `fault` (replacing one that has not fired) and resets the counters.
    pub fn arm(&self, fault: Fault) {
        let mut s = lock(&self.shared);
        s.fault = Some(fault);
        s.stats = ProxyStats::default();
        s.open.clear();
    }

    /// Removes the armed fault and resets the counters: everything is forwarded.
    pub fn disarm(&self) {
        let mut s = lock(&self.shared);
        s.fault = None;
        s.stats = ProxyStats::default();
        s.open.clear();
    }

    /// What was seen since the fault was armed.
    pub fn stats(&self) -> ProxyStats {
        lock(&self.shared).stats.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the two pumps of one connection share.
#[derive(Debug, Default)]
struct Conn {
    /// The client asked for SSL/GSS encryption first: the server's first byte is its answer.
    encryption_asked: AtomicBool,
    /// Query and Sync messages forwarded: each is answered by one ReadyForQuery.
    syncs: AtomicU64,
    /// When non-zero: the answer to the sync point with this number is to be lost; answers
    /// before it still reach the client.
    lose_at: AtomicU64,
}

/// The two pumps of one connection.
fn serve(client: TcpStream, server: TcpStream, shared: Arc<Mutex<Shared>>, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let conn = Arc::new(Conn::default());
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let conn2 = conn.clone();
    std::thread::spawn(move || client_to_server(client, server, &shared, delay, &conn));
    std::thread::spawn(move || server_to_client(s2, c2, delay, &conn2));
}

fn cut(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Reads client messages whole, counts them against the armed fault and forwards them.
fn client_to_server(
    mut client: TcpStream,
    mut server: TcpStream,
    shared: &Mutex<Shared>,
    delay: Duration,
    conn: &Conn,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    // Until the startup packet (or SSL/GSS request) is through, messages have no type byte.
    let mut untyped = true;
    loop {
        match client.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let _ = server.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(len) = message_len(&buf, untyped) {
            let message: Vec<u8> = buf.drain(..len).collect();
            let was_untyped = untyped;
            if untyped {
                // SSLRequest (80877103) and GSSENCRequest (80877104) are followed by another
                // untyped startup message; anything else is the startup message itself.
                let code = message
                    .get(4..8)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                untyped = matches!(code, Some(80_877_103 | 80_877_104));
                if untyped {
                    conn.encryption_asked.store(true, Ordering::SeqCst);
                } else {
                    // The server ends the login with a ReadyForQuery of its own.
                    conn.syncs.fetch_add(1, Ordering::SeqCst);
                }
            } else if matches!(message[0], b'Q' | b'S') {
                conn.syncs.fetch_add(1, Ordering::SeqCst);
            }
            let action = decide(shared, &message, was_untyped);
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            match action {
                None => {}
                Some(FaultAction::Cut) => {
                    cut(&client, &server);
                    return;
                }
                Some(FaultAction::Vanish) => {
                    let mut s = lock(shared);
                    s.gone = true;
                    for (a, b) in s.open.drain(..) {
                        cut(&a, &b);
                    }
                    return;
                }
                Some(FaultAction::Stall(d)) => std::thread::sleep(d),
                Some(FaultAction::LoseAnswer) => {
                    // A Query is answered at its own sync point (counted above); a message of
                    // the extended protocol at the next Sync.
                    let syncs = conn.syncs.load(Ordering::SeqCst);
                    let at = if message.first() == Some(&b'Q') {
                        syncs
                    } else {
                        syncs + 1
                    };
                    conn.lose_at.store(at, Ordering::SeqCst);
                }
                Some(FaultAction::CutAfter(d)) => {
                    let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) else {
                        return;
                    };
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        cut(&a, &b);
                    });
                }
            }
            if server.write_all(&message).is_err() {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Whether the armed fault fires on `message`; counts it.
fn decide(shared: &Mutex<Shared>, message: &[u8], untyped: bool) -> Option<FaultAction> {
    let mut s = lock(shared);
    s.stats.messages += 1;
    s.stats.bytes += message.len() as u64;
    let fault = s.fault.as_ref()?;
    if s.stats.fired {
        return None;
    }
    let text = (!untyped).then(|| sql_text(message)).flatten();
    let fires = match &fault.trigger {
        Trigger::Bytes(n) => s.stats.bytes >= *n,
        Trigger::Message(n) => s.stats.messages >= *n,
        Trigger::Contains(p) => text
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains(&p.to_ascii_lowercase())),
    };
    if !fires {
        return None;
    }
    let action = fault.action;
    s.stats.fired = true;
    s.stats.fired_at = Some(Instant::now());
    s.stats.fired_on = Some(text.unwrap_or_else(|| {
        if untyped {
            "startup".to_owned()
        } else {
            format!("message {:?}", char::from(message[0]))
        }
    }));
    Some(action)
}

/// The SQL of a Query ('Q') or Parse ('P') message.
fn sql_text(message: &[u8]) -> Option<String> {
    let body = message.get(5..)?;
    let sql = match message[0] {
        b'Q' => body,
        // Parse: statement name, NUL, query, NUL, ...
        b'P' => {
            let name_end = body.iter().position(|&b| b == 0)?;
            &body[name_end + 1..]
        }
        _ => return None,
    };
    let end = sql.iter().position(|&b| b == 0).unwrap_or(sql.len());
    Some(String::from_utf8_lossy(&sql[..end]).into_owned())
}

/// The length of the first whole message in `buf`, if it is all there.
fn message_len(buf: &[u8], untyped: bool) -> Option<usize> {
    let (offset, header) = if untyped { (0, 4) } else { (1, 5) };
    if buf.len() < header {
        return None;
    }
    let b = &buf[offset..offset + 4];
    let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize + offset;
    (buf.len() >= len).then_some(len.max(header))
}

/// Forwards the server's messages. Once a lost answer is asked for, forwards the answers to
/// earlier requests, swallows the rest, and closes both sides when the lost answer is complete
/// (its ReadyForQuery has come).
fn server_to_client(mut server: TcpStream, mut client: TcpStream, delay: Duration, conn: &Conn) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut buf: Vec<u8> = Vec::new();
    let mut first = true;
    // After the server accepts encryption the bytes cannot be read: forward them as they come.
    let mut opaque = false;
    let mut ready_seen: u64 = 0;
    let mut losing_since: Option<Instant> = None;
    loop {
        if losing_since.is_some_and(|t| t.elapsed() > Duration::from_secs(30)) {
            cut(&server, &client);
            return;
        }
        let n = match server.read(&mut chunk) {
            Ok(0) | Err(_) => {
                let _ = client.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out: Vec<u8> = Vec::new();
        if first && conn.encryption_asked.load(Ordering::SeqCst) && !buf.is_empty() {
            // The one-byte answer to an SSL or GSS request.
            opaque = buf[0] != b'N';
            out.push(buf.remove(0));
        }
        first = false;
        if opaque {
            out.append(&mut buf);
        }
        while let Some(len) = message_len(&buf, false) {
            let message: Vec<u8> = buf.drain(..len).collect();
            let lose_at = conn.lose_at.load(Ordering::SeqCst);
            let losing = lose_at > 0 && ready_seen + 1 >= lose_at;
            if message[0] == b'Z' {
                ready_seen += 1;
            }
            if !losing {
                out.extend_from_slice(&message);
                continue;
            }
            losing_since.get_or_insert_with(Instant::now);
            if ready_seen >= lose_at {
                if !out.is_empty() {
                    let _ = client.write_all(&out);
                }
                cut(&server, &client);
                return;
            }
        }
        if out.is_empty() {
            continue;
        }
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if client.write_all(&out).is_err() {
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_whole() {
        let mut startup = 8u32.to_be_bytes().to_vec();
        startup.extend(196_608u32.to_be_bytes());
        assert_eq!(message_len(&startup, true), Some(8));
        assert_eq!(message_len(&startup[..6], true), None);
        let mut q = vec![b'Q'];
        q.extend(13u32.to_be_bytes());
        q.extend(b"COMMIT;\0\0");
        assert_eq!(message_len(&q, false), Some(14));
        assert_eq!(sql_text(&q).as_deref(), Some("COMMIT;"));
        let mut p = vec![b'P'];
        p.extend(20u32.to_be_bytes());
        p.extend(b"s1\0SELECT 1\0\0\0");
        assert_eq!(sql_text(&p).as_deref(), Some("SELECT 1"));
    }

    #[test]
    fn a_seed_gives_the_same_fault_and_seeds_differ() {
        let a = Fault::random(7, 100, Duration::from_millis(500));
        assert_eq!(a, Fault::random(7, 100, Duration::from_millis(500)));
        let kinds: std::collections::BTreeSet<String> = (0..30)
            .map(|s| {
                let f = Fault::random(s, 100, Duration::from_millis(500));
                let Trigger::Message(n) = f.trigger else {
                    panic!("random faults fire at a message")
                };
                assert!((1..=100).contains(&n));
                format!("{:?}", std::mem::discriminant(&f.action))
            })
            .collect();
        assert_eq!(kinds.len(), 3, "30 seeds draw all three actions");
    }
}
