//! A small HTTP/1.1 server on 127.0.0.1 for tests, with faults injected per
//! route: stall, reset, a lying Content-Length, slow chunks. Routes can be
//! changed while it runs; every request is recorded, and tests wait for
//! requests or stalls through `Notify`, not sleeps. Only tokio is used.
//!
//! One response per connection (`Connection: close`).

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

/// How long the `wait_*` helpers wait before they panic.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
  None,
  /// Send this many body bytes, then stop sending and keep the connection
  /// open until `release()`; then send the rest.
  StallAfter(u64),
  /// As `StallAfter`, but at this byte of the whole body: a range response
  /// that starts at or past it stalls before its first byte, so a download
  /// resumed with `Range` gets no further until `release()`.
  StallAt(u64),
  /// Send this many body bytes, then reset the connection (RST).
  ResetAfter(u64),
  /// Announce a Content-Length this many bytes larger, send the body,
  /// then close.
  LieContentLength(u64),
  /// Answer a range request with 206 from this byte instead of the one
  /// asked for (Content-Range says so): a server that does not continue
  /// where the client is.
  WrongRangeStart(u64),
  /// Send the body `chunk` bytes at a time, `delay_ms` apart.
  SlowChunks {
    chunk: usize,
    delay_ms: u64,
  },
}

#[derive(Debug, Clone)]
pub struct Route {
  pub status: u16,
  pub body: Vec<u8>,
  pub headers: Vec<(String, String)>,
  pub etag: Option<String>,
  pub last_modified: Option<String>,
  /// Answer `Range: bytes=N-` (validated by If-Range) with 206.
  pub honor_range: bool,
  pub fault: Fault,
  /// Send `Access-Control-Allow-Origin: *` (pages on another origin may
  /// read the response).
  pub cors: bool,
}

impl Default for Route {
  fn default() -> Route {
    Route {
      status: 200,
      body: Vec::new(),
      headers: Vec::new(),
      etag: None,
      last_modified: None,
      honor_range: false,
      fault: Fault::None,
      cors: true,
    }
  }
}

impl Route {
  /// 200 with `body`, no validators, Range ignored.
  pub fn ok(body: impl Into<Vec<u8>>) -> Route {
    Route {
      body: body.into(),
      ..Route::default()
    }
  }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
  pub method: String,
  pub path: String,
  /// Names in lower case.
  pub headers: Vec<(String, String)>,
  pub body: Vec<u8>,
}

impl RecordedRequest {
  pub fn header(&self, name: &str) -> Option<&str> {
    let name = name.to_ascii_lowercase();
    self
      .headers
      .iter()
      .find(|(k, _)| *k == name)
      .map(|(_, v)| v.as_str())
  }
}

#[derive(Default)]
struct Shared {
  routes: Mutex<HashMap<String, Route>>,
  /// Faults for the next requests to a path, one per request, before the
  /// route's own fault applies again.
  queued: Mutex<HashMap<String, VecDeque<Fault>>>,
  requests: Mutex<Vec<RecordedRequest>>,
  /// Connections stalled so far (each counts once).
  stalls: Mutex<u64>,
  changed: Notify,
}

pub struct FaultServer {
  addr: SocketAddr,
  shared: Arc<Shared>,
  /// Bumped by `release()`: stalled responses go on.
  release: watch::Sender<u64>,
  /// Set by `kill()`: the listener and every open connection go away.
  killed: watch::Sender<bool>,
  task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FaultServer {
  fn drop(&mut self) {
    if let Some(t) = &self.task {
      t.abort();
    }
    self.release.send_modify(|n| *n += 1);
  }
}

impl FaultServer {
  pub async fn start() -> FaultServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let shared = Arc::new(Shared::default());
    let (release, _) = watch::channel(0u64);
    let (killed, _) = watch::channel(false);
    let task = {
      let shared = shared.clone();
      let release = release.clone();
      let killed = killed.clone();
      tokio::spawn(async move {
        let mut kill = killed.subscribe();
        loop {
          let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
              Ok(a) => a,
              Err(_) => return,
            },
            // Dropping the listener: later connections are refused.
            _ = kill.wait_for(|k| *k) => return,
          };
          let shared = shared.clone();
          let release = release.subscribe();
          let mut kill = killed.subscribe();
          tokio::spawn(async move {
            tokio::select! {
              _ = serve(stream, shared, release) => {}
              // Dropping `serve` closes the connection mid-response.
              _ = kill.wait_for(|k| *k) => {}
            }
          });
        }
      })
    };
    FaultServer {
      addr,
      shared,
      release,
      killed,
      task: Some(task),
    }
  }

  /// Kills the server as a crashed process would go: every open
  /// connection is closed where it is (mid-body too) and the port stops
  /// listening. Returns once the listener is closed.
  pub async fn kill(&mut self) {
    self.killed.send_replace(true);
    if let Some(t) = self.task.take() {
      let _ = t.await;
    }
  }

  /// The next requests to `path` get these faults, one each, in order;
  /// then the route's own fault applies again.
  pub fn queue_faults(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
    self
      .shared
      .queued
      .lock()
      .unwrap()
      .entry(path.to_string())
      .or_default()
      .extend(faults);
  }

  pub fn addr(&self) -> SocketAddr {
    self.addr
  }

  pub fn url(&self, path: &str) -> String {
    format!("http://{}{}", self.addr, path)
  }

  /// Adds or replaces the route for `path` (matched without the query
  /// first with it).
  pub fn add(&self, path: &str, route: Route) {
    self
      .shared
      .routes
      .lock()
      .unwrap()
      .insert(path.to_string(), route);
  }

  /// Changes only the fault of a route.
  pub fn set_fault(&self, path: &str, fault: Fault) {
    if let Some(r) = self.shared.routes.lock().unwrap().get_mut(path) {
      r.fault = fault;
    }
  }

  /// Lets every stalled response go on, and so every response of a
  /// connection open now that has yet to reach its stall.
  pub fn release(&self) {
    self.release.send_modify(|n| *n += 1);
  }

  pub fn requests(&self) -> Vec<RecordedRequest> {
    self.shared.requests.lock().unwrap().clone()
  }

  pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
    self
      .requests()
      .into_iter()
      .filter(|r| r.path == path)
      .collect()
  }

  pub fn stalls(&self) -> u64 {
    *self.shared.stalls.lock().unwrap()
  }

  async fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
    let wait = async {
      loop {
        let notified = self.shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if done() {
          return;
        }
        notified.await;
      }
    };
    if tokio::time::timeout(WAIT_LIMIT, wait).await.is_err() {
      panic!("fault server: gave up waiting for {what}");
    }
  }

  /// Waits until `path` has had at least `n` requests.
  pub async fn wait_for_request(&self, path: &str, n: usize) {
    self
      .wait_until(&format!("{n} requests to {path}"), || {
        self.requests_to(path).len() >= n
      })
      .await
  }

  /// Waits until `n` responses have stalled (all routes together).
  pub async fn wait_for_stalls(&self, n: u64) {
    self
      .wait_until(&format!("{n} stalls"), || self.stalls() >= n)
      .await
  }
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
pub async fn refused_url(path: &str) -> String {
  let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
  let addr = l.local_addr().expect("local_addr");
  drop(l);
  format!("http://{addr}{path}")
}

async fn read_request(stream: &mut TcpStream) -> Option<RecordedRequest> {
  let mut buf = Vec::new();
  let mut tmp = [0u8; 4096];
  let head_end = loop {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
      break i;
    }
    if buf.len() > 64 * 1024 {
      return None;
    }
    let n = stream.read(&mut tmp).await.ok()?;
    if n == 0 {
      return None;
    }
    buf.extend_from_slice(&tmp[..n]);
  };
  let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
  let mut lines = head.split("\r\n");
  let mut first = lines.next()?.split(' ');
  let method = first.next()?.to_string();
  let path = first.next()?.to_string();
  let headers: Vec<(String, String)> = lines
    .filter_map(|l| l.split_once(':'))
    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
    .collect();
  let len: usize = headers
    .iter()
    .find(|(k, _)| k == "content-length")
    .and_then(|(_, v)| v.parse().ok())
    .unwrap_or(0)
    .min(64 << 20);
  let mut body = buf[head_end + 4..].to_vec();
  while body.len() < len {
    let n = stream.read(&mut tmp).await.ok()?;
    if n == 0 {
      break;
    }
    body.extend_from_slice(&tmp[..n]);
  }
  Some(RecordedRequest {
    method,
    path,
    headers,
    body,
  })
}

/// The first byte of `Range: bytes=N-` when it applies to `route`.
fn range_start(req: &RecordedRequest, route: &Route) -> Option<u64> {
  if !route.honor_range || route.status != 200 {
    return None;
  }
  let spec = req.header("range")?.strip_prefix("bytes=")?;
  let (start, end) = spec.split_once('-')?;
  if !end.trim().is_empty() {
    return None;
  }
  let start: u64 = start.trim().parse().ok()?;
  if let Some(v) = req.header("if-range") {
    let matches = route.etag.as_deref() == Some(v) && !v.starts_with("W/")
      || route.last_modified.as_deref() == Some(v);
    if !matches {
      return None;
    }
  }
  (start < route.body.len() as u64).then_some(start)
}

fn reason(status: u16) -> &'static str {
  match status {
    200 => "OK",
    206 => "Partial Content",
    301 => "Moved Permanently",
    302 => "Found",
    303 => "See Other",
    307 => "Temporary Redirect",
    404 => "Not Found",
    500 => "Internal Server Error",
    _ => "Status",
  }
}

async fn serve(
  mut stream: TcpStream,
  shared: Arc<Shared>,
  mut release: watch::Receiver<u64>,
) -> std::io::Result<()> {
  // A `release()` from now on lets this response go on, even one that
  // comes before it stalls (it reads its route before the stall begins).
  let seen = *release.borrow_and_update();
  // Every write goes out at once, so that what a fault sends before a
  // reset is not held back (Nagle) and then thrown away.
  stream.set_nodelay(true)?;
  let Some(req) = read_request(&mut stream).await else {
    return Ok(());
  };
  let bare = req.path.split('?').next().unwrap_or("").to_string();
  let route = {
    let routes = shared.routes.lock().unwrap();
    routes.get(&req.path).or_else(|| routes.get(&bare)).cloned()
  };
  let queued = {
    let mut q = shared.queued.lock().unwrap();
    q.get_mut(&req.path)
      .and_then(|f| f.pop_front())
      .or_else(|| q.get_mut(&bare).and_then(|f| f.pop_front()))
  };
  let route = route.map(|mut r| {
    if let Some(f) = queued {
      r.fault = f;
    }
    r
  });
  shared.requests.lock().unwrap().push(req.clone());
  shared.changed.notify_waiters();
  let route = route.unwrap_or(Route {
    status: 404,
    body: b"not found".to_vec(),
    ..Route::default()
  });
  let total = route.body.len() as u64;
  let (status, body) = match range_start(&req, &route) {
    Some(_) if matches!(route.fault, Fault::WrongRangeStart(_)) => {
      let Fault::WrongRangeStart(at) = route.fault else {
        unreachable!()
      };
      (206, &route.body[at as usize..])
    }
    Some(start) => (206, &route.body[start as usize..]),
    None => (route.status, &route.body[..]),
  };
  let mut head = format!(
    "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
    reason(status)
  );
  let announced = match route.fault {
    Fault::LieContentLength(extra) => body.len() as u64 + extra,
    _ => body.len() as u64,
  };
  head.push_str(&format!("Content-Length: {announced}\r\n"));
  if status == 206 {
    head.push_str(&format!(
      "Content-Range: bytes {}-{}/{total}\r\n",
      total - body.len() as u64,
      total - 1
    ));
  }
  if route.honor_range {
    head.push_str("Accept-Ranges: bytes\r\n");
  }
  if let Some(e) = &route.etag {
    head.push_str(&format!("ETag: {e}\r\n"));
  }
  if let Some(lm) = &route.last_modified {
    head.push_str(&format!("Last-Modified: {lm}\r\n"));
  }
  if route.cors {
    head.push_str("Access-Control-Allow-Origin: *\r\n");
  }
  for (k, v) in &route.headers {
    head.push_str(&format!("{k}: {v}\r\n"));
  }
  head.push_str("\r\n");
  stream.write_all(head.as_bytes()).await?;
  if req.method == "HEAD" {
    return stream.shutdown().await;
  }
  let stall_after = match route.fault {
    Fault::StallAfter(n) => Some(n),
    Fault::StallAt(at) => Some(at.saturating_sub(total - body.len() as u64)),
    _ => None,
  };
  match route.fault {
    Fault::None | Fault::LieContentLength(_) | Fault::WrongRangeStart(_) => {
      stream.write_all(body).await?;
    }
    Fault::StallAfter(_) | Fault::StallAt(_) => {
      let n = (stall_after.unwrap_or(0) as usize).min(body.len());
      stream.write_all(&body[..n]).await?;
      stream.flush().await?;
      *shared.stalls.lock().unwrap() += 1;
      shared.changed.notify_waiters();
      // Until released, or until the client goes away.
      let mut probe = [0u8; 1];
      tokio::select! {
        _ = release.wait_for(|r| *r != seen) => {}
        _ = stream.read(&mut probe) => return Ok(()),
      }
      stream.write_all(&body[n..]).await?;
    }
    Fault::ResetAfter(n) => {
      let n = (n as usize).min(body.len());
      stream.write_all(&body[..n]).await?;
      stream.flush().await?;
      stream.set_zero_linger()?;
      drop(stream);
      return Ok(());
    }
    Fault::SlowChunks { chunk, delay_ms } => {
      for part in body.chunks(chunk.max(1)) {
        stream.write_all(part).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
      }
    }
  }
  stream.flush().await?;
  stream.shutdown().await
}
