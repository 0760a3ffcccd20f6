//! The bench's own subscriber endpoint: a hyper 1 server that answers `200` at once and
//! records when each `webhook-id` first arrived, per subscription (the path `/s/<n>`).
//!
//! It runs on a multi-thread runtime of its own, so its work never queues behind the bench's
//! publishers, and it can be *down* (the port is reserved but nobody listens: connections are
//! refused) until [`Receiver::up`], or a *blackhole* that accepts connections and never
//! answers. It never touches anything but 127.0.0.1.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Runtime;

use crate::BenchError;

/// How the receiver treats requests once it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer `200` with an empty body as soon as the request is read.
    Answer,
    /// Accept connections, read what comes, never answer.
    Blackhole,
}

/// First arrival of one `webhook-id` at one subscription (`/s/<n>`).
type Key = (u16, Box<str>);

/// State shared with the request handlers.
#[derive(Default)]
struct Shared {
    /// First arrival per key. A std `Mutex`: held for one insert, never across an `.await`.
    arrivals: Mutex<HashMap<Key, Instant>>,
    /// Distinct keys seen, readable without the lock while the bench waits.
    unique: AtomicU64,
    /// Every request, duplicates included.
    requests: AtomicU64,
    /// Requests whose key had arrived before.
    duplicates: AtomicU64,
}

/// A running (or reserved) receiver. Dropping it stops its runtime.
pub struct Receiver {
    addr: SocketAddr,
    mode: Mode,
    shared: Arc<Shared>,
    /// The port while down: bound, not listening. A SYN to it is answered with a reset
    /// (connection refused), and the kernel never hands a bound port to an outgoing
    /// connection. Releasing the port between down and up would let an outgoing connection
    /// to it take it as its own source port (a loopback self-connect), and `up` could not
    /// bind again.
    reserved: Option<TcpSocket>,
    /// `None` while down. Stopped with `shutdown_background`, which is allowed inside the
    /// bench's own runtime (a plain drop there would panic).
    runtime: Option<Runtime>,
}

impl Receiver {
    /// A receiver listening on a free port of 127.0.0.1.
    pub fn start(mode: Mode) -> Result<Self, BenchError> {
        let mut receiver = Self::down(mode)?;
        receiver.up()?;
        Ok(receiver)
    }

    /// A receiver that holds a free port but does not listen yet: connections are refused.
    pub fn down(mode: Mode) -> Result<Self, BenchError> {
        let socket =
            TcpSocket::new_v4().map_err(BenchError::local("open the receiver's socket"))?;
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(BenchError::local("find a free port on 127.0.0.1"))?;
        let addr = socket
            .local_addr()
            .map_err(BenchError::local("read the receiver's address"))?;
        Ok(Self {
            addr,
            mode,
            shared: Arc::default(),
            reserved: Some(socket),
            runtime: None,
        })
    }

    /// Starts listening on the receiver's port.
    pub fn up(&mut self) -> Result<(), BenchError> {
        let Some(socket) = self.reserved.take() else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-receiver")
            .enable_all()
            .build()
            .map_err(BenchError::local("start the receiver's runtime"))?;
        let listening = {
            // The listener registers with the reactor of the runtime it is created in.
            let _guard = runtime.enter();
            socket.listen(1024)
        };
        let listener = match listening {
            Ok(listener) => listener,
            Err(error) => {
                // A plain drop of a runtime inside the bench's own runtime would panic.
                runtime.shutdown_background();
                return Err(BenchError::local(format!("listen on {}", self.addr))(error));
            }
        };
        runtime.spawn(accept_loop(listener, self.mode, Arc::clone(&self.shared)));
        self.runtime = Some(runtime);
        Ok(())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of subscription `n` on this receiver.
    pub fn url(&self, n: u16) -> String {
        format!("http://{}/s/{n}", self.addr)
    }

    /// Distinct `(subscription, webhook-id)` pairs that arrived.
    pub fn unique(&self) -> u64 {
        self.shared.unique.load(Ordering::Relaxed)
    }

    /// Every request received, duplicates included.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Arrivals beyond the first per `(subscription, webhook-id)`: deliveries made twice.
    pub fn duplicates(&self) -> u64 {
        self.shared.duplicates.load(Ordering::Relaxed)
    }

    /// Waits until at least `count` distinct arrivals or `deadline`; true if reached.
    pub async fn wait_for(&self, count: u64, deadline: Instant) -> bool {
        loop {
            if self.unique() >= count {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// First arrival of `id` at subscription `n`, if it came.
    pub fn arrival(&self, n: u16, id: &str) -> Option<Instant> {
        let arrivals = self
            .shared
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        arrivals.get(&(n, Box::from(id))).copied()
    }

    /// The latest first-arrival at subscription `n`.
    pub fn last_arrival(&self, n: u16) -> Option<Instant> {
        let arrivals = self
            .shared
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        arrivals
            .iter()
            .filter(|((sub, _), _)| *sub == n)
            .map(|(_, at)| *at)
            .max()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, mode: Mode, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            match mode {
                Mode::Answer => {
                    let service = service_fn(move |req| handle(req, Arc::clone(&shared)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
                Mode::Blackhole => swallow(stream).await,
            }
        });
    }
}

/// Reads and discards until the peer gives up; never writes a byte.
async fn swallow(mut stream: tokio::net::TcpStream) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    let at = Instant::now();
    let sub = req
        .uri()
        .path()
        .strip_prefix("/s/")
        .and_then(|n| n.parse::<u16>().ok())
        .unwrap_or(0);
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .map(Box::<str>::from);
    // Read the body so the connection stays reusable (keep-alive).
    let _ = req.into_body().collect().await;
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(id) = id {
        let mut arrivals = shared
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let std::collections::hash_map::Entry::Vacant(slot) = arrivals.entry((sub, id)) {
            slot.insert(at);
            shared.unique.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(Response::new(Empty::new()))
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::net::{TcpListener as StdListener, TcpStream};

    use super::*;

    #[tokio::test]
    async fn a_down_receiver_refuses_connections_keeps_its_port_and_comes_up_on_it() {
        let mut receiver = Receiver::down(Mode::Answer).expect("down");
        let refused = TcpStream::connect(receiver.addr()).expect_err("nobody listens yet");
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
        assert!(
            StdListener::bind(receiver.addr()).is_err(),
            "the port stays reserved while down"
        );

        receiver.up().expect("up");
        let answered = reqwest::Client::new()
            .post(receiver.url(1))
            .header("webhook-id", "msg_1")
            .send()
            .await
            .expect("the receiver answers once up");
        assert_eq!(answered.status(), 200);
        assert_eq!(receiver.unique(), 1);
    }
}
