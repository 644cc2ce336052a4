//! Serves a local directory on a loopback origin, so that a service worker
//! given as a file gets a real http:// URL and relative URLs work. Supports
//! `Range`, `ETag`/`Last-Modified` and `If-Range`, and an optional rate
//! limit so that demos show progress.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct StaticServer {
  pub addr: SocketAddr,
  task: tokio::task::JoinHandle<()>,
}

impl Drop for StaticServer {
  fn drop(&mut self) {
    self.task.abort();
  }
}

impl StaticServer {
  /// Binds 127.0.0.1 on `port` (0: a free port) and serves `root`; `rate`
  /// limits each response to that many bytes per second.
  pub async fn start(root: PathBuf, rate: Option<u64>, port: u16) -> std::io::Result<Self> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
      while let Ok((stream, _)) = listener.accept().await {
        // The head and the body are separate writes: without this, the body
        // of a kept-alive connection's next response waits ~40 ms for the
        // client's delayed ACK (Nagle).
        let _ = stream.set_nodelay(true);
        let root = root.clone();
        tokio::spawn(async move {
          let _ = serve_connection(stream, &root, rate).await;
        });
      }
    });
    Ok(StaticServer { addr, task })
  }

  pub fn origin(&self) -> url::Url {
    url::Url::parse(&format!("http://127.0.0.1:{}/", self.addr.port())).expect("valid origin")
  }
}

struct Head {
  method: String,
  path: String,
  headers: Vec<(String, String)>,
}

impl Head {
  fn header(&self, name: &str) -> Option<&str> {
    self
      .headers
      .iter()
      .find(|(k, _)| k.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
  }
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Head>> {
  use tokio::io::AsyncBufReadExt;
  let mut line = String::new();
  if reader.read_line(&mut line).await? == 0 {
    return Ok(None);
  }
  let mut parts = line.split_whitespace();
  let method = parts.next().unwrap_or("").to_string();
  let path = parts.next().unwrap_or("/").to_string();
  let mut headers = Vec::new();
  let mut total = line.len();
  loop {
    let mut h = String::new();
    let n = reader.read_line(&mut h).await?;
    total += n;
    if n == 0 || h == "\r\n" || h == "\n" || total > 64 * 1024 {
      break;
    }
    if let Some((k, v)) = h.split_once(':') {
      headers.push((k.trim().to_string(), v.trim().to_string()));
    }
  }
  Ok(Some(Head {
    method,
    path,
    headers,
  }))
}

async fn serve_connection(
  stream: TcpStream,
  root: &Path,
  rate: Option<u64>,
) -> std::io::Result<()> {
  let mut reader = BufReader::new(stream);
  while let Some(head) = read_head(&mut reader).await? {
    // Request bodies are not expected; skip a declared one.
    if let Some(len) = head
      .header("content-length")
      .and_then(|v| v.parse::<u64>().ok())
    {
      let mut sink = vec![0u8; len.min(1 << 20) as usize];
      let mut left = len;
      while left > 0 {
        let want = left.min(sink.len() as u64) as usize;
        let n = reader.read(&mut sink[..want]).await?;
        if n == 0 {
          break;
        }
        left -= n as u64;
      }
    }
    let keep_alive = respond(reader.get_mut(), root, &head, rate).await?;
    if !keep_alive {
      break;
    }
  }
  Ok(())
}

/// Maps a URL path to a file below `root`, refusing `..` and absolute parts.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
  let path = url_path.split(['?', '#']).next().unwrap_or("/");
  let decoded = percent_decode(path);
  let mut out = root.to_path_buf();
  for comp in Path::new(decoded.trim_start_matches('/')).components() {
    match comp {
      Component::Normal(c) => out.push(c),
      Component::CurDir => {}
      _ => return None,
    }
  }
  Some(out)
}

fn percent_decode(s: &str) -> String {
  let bytes = s.as_bytes();
  let mut out = Vec::with_capacity(bytes.len());
  let mut i = 0;
  while i < bytes.len() {
    if bytes[i] == b'%' && i + 2 < bytes.len() {
      if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
        out.push(b);
        i += 3;
        continue;
      }
    }
    out.push(bytes[i]);
    i += 1;
  }
  String::from_utf8_lossy(&out).into_owned()
}

pub fn content_type(path: &Path) -> &'static str {
  match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
    "js" | "mjs" => "text/javascript; charset=utf-8",
    "html" | "htm" => "text/html; charset=utf-8",
    "json" => "application/json",
    "css" => "text/css",
    "txt" => "text/plain; charset=utf-8",
    "png" => "image/png",
    "jpg" | "jpeg" => "image/jpeg",
    "svg" => "image/svg+xml",
    "mp3" => "audio/mpeg",
    "mp4" => "video/mp4",
    _ => "application/octet-stream",
  }
}

async fn respond(
  stream: &mut TcpStream,
  root: &Path,
  head: &Head,
  rate: Option<u64>,
) -> std::io::Result<bool> {
  let keep_alive = !head
    .header("connection")
    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
  let file_path = resolve(root, &head.path);
  let meta = match &file_path {
    Some(p) => tokio::fs::metadata(p).await.ok().filter(|m| m.is_file()),
    None => None,
  };
  let (Some(path), Some(meta)) = (file_path, meta) else {
    let body = b"Not Found";
    let out = format!(
      "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
      body.len()
    );
    stream.write_all(out.as_bytes()).await?;
    if head.method != "HEAD" {
      stream.write_all(body).await?;
    }
    return Ok(keep_alive);
  };
  let len = meta.len();
  let mtime = meta
    .modified()
    .ok()
    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    .map(|d| d.as_secs())
    .unwrap_or(0);
  let etag = format!("\"{len:x}-{mtime:x}\"");
  let last_modified = httpdate(mtime);
  let mut range = head.header("range").and_then(|r| parse_range(r, len));
  if let Some(if_range) = head.header("if-range") {
    if if_range != etag && if_range != last_modified {
      range = None;
    }
  }
  let (status, start, end) = match range {
    Some((s, e)) => ("206 Partial Content", s, e),
    None => ("200 OK", 0, len),
  };
  let mut out = format!(
    "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nETag: {etag}\r\nLast-Modified: {last_modified}\r\nCache-Control: no-cache\r\n",
    content_type(&path),
    end - start
  );
  if range.is_some() {
    out.push_str(&format!(
      "Content-Range: bytes {start}-{}/{len}\r\n",
      end.saturating_sub(1)
    ));
  }
  out.push_str("\r\n");
  stream.write_all(out.as_bytes()).await?;
  if head.method == "HEAD" {
    return Ok(keep_alive);
  }
  let body_len = end - start;
  match rate {
    None => send_file(stream, &path, start, body_len).await?,
    Some(rate) => send_chunks(stream, &path, start, body_len, Some(rate)).await?,
  }
  Ok(keep_alive)
}

/// Sends `len` bytes of the file from `start` with sendfile(2): the kernel
/// hands page-cache pages to the socket without a copy through user space
/// (the bench of background fetch throughput serves 1 GiB this way). A
/// call moves at most 1 MiB, so a file not yet in the page cache blocks
/// this worker for one disk read at a time, as nginx's sendfile does.
#[cfg(target_os = "linux")]
async fn send_file(
  stream: &mut TcpStream,
  path: &Path,
  start: u64,
  len: u64,
) -> std::io::Result<()> {
  use tokio::io::Interest;
  let file = std::fs::File::open(path)?;
  let end = start + len;
  let mut offset = start;
  while offset < end {
    let want = (end - offset).min(1 << 20) as usize;
    stream.writable().await?;
    let sent = stream.try_io(Interest::WRITABLE, || {
      rustix::fs::sendfile(&*stream, &file, Some(&mut offset), want).map_err(std::io::Error::from)
    });
    match sent {
      // The file is shorter than it was: end the body early (the client
      // sees a short body, as with a file truncated while read).
      Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
      Ok(_) => {}
      Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
      Err(e) => return Err(e),
    }
  }
  Ok(())
}

#[cfg(not(target_os = "linux"))]
async fn send_file(
  stream: &mut TcpStream,
  path: &Path,
  start: u64,
  len: u64,
) -> std::io::Result<()> {
  send_chunks(stream, path, start, len, None).await
}

/// Sends the range by reads and writes; with a `rate`, at about that many
/// bytes per second in pieces of a twentieth of a second, so that a demo
/// shows progress.
async fn send_chunks(
  stream: &mut TcpStream,
  path: &Path,
  start: u64,
  len: u64,
  rate: Option<u64>,
) -> std::io::Result<()> {
  let mut file = tokio::fs::File::open(path).await?;
  file.seek(std::io::SeekFrom::Start(start)).await?;
  let mut left = len;
  let chunk = match rate {
    Some(r) => (r / 20).clamp(1024, 64 * 1024) as usize,
    None => 64 * 1024,
  };
  let mut buf = vec![0u8; chunk];
  while left > 0 {
    let n = file
      .read(&mut buf[..left.min(chunk as u64) as usize])
      .await?;
    if n == 0 {
      break;
    }
    stream.write_all(&buf[..n]).await?;
    left -= n as u64;
    if let Some(r) = rate {
      tokio::time::sleep(Duration::from_secs_f64(n as f64 / r.max(1) as f64)).await;
    }
  }
  Ok(())
}

fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
  let spec = value.strip_prefix("bytes=")?;
  if spec.contains(',') {
    return None;
  }
  let (a, b) = spec.split_once('-')?;
  let (start, end) = if a.is_empty() {
    let suffix: u64 = b.parse().ok()?;
    (len.saturating_sub(suffix), len)
  } else {
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
      len
    } else {
      b.parse::<u64>().ok()?.saturating_add(1).min(len)
    };
    (start, end)
  };
  (start < end).then_some((start, end))
}

/// Formats seconds since the epoch as an IMF-fixdate.
fn httpdate(secs: u64) -> String {
  let days = secs / 86400;
  let rem = secs % 86400;
  let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
  let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
  // Civil-from-days (Howard Hinnant's algorithm).
  let z = days as i64 + 719468;
  let era = z.div_euclid(146097);
  let doe = z - era * 146097;
  let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  let y = yoe + era * 400;
  let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  let mp = (5 * doy + 2) / 153;
  let d = doy - (153 * mp + 2) / 5 + 1;
  let mo = if mp < 10 { mp + 3 } else { mp - 9 };
  let y = if mo <= 2 { y + 1 } else { y };
  let month = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  ][(mo - 1) as usize];
  format!("{weekday}, {d:02} {month} {y} {h:02}:{m:02}:{s:02} GMT")
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn ranges() {
    assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
    assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
    assert_eq!(parse_range("bytes=100-", 100), None);
    assert_eq!(parse_range("items=0-1", 100), None);
  }

  #[test]
  fn no_escape_from_root() {
    let root = Path::new("/srv");
    assert_eq!(
      resolve(root, "/a/b.js?x=1"),
      Some(PathBuf::from("/srv/a/b.js"))
    );
    assert_eq!(resolve(root, "/../etc/passwd"), None);
    assert_eq!(resolve(root, "/%2e%2e/etc/passwd"), None);
  }

  /// Whole bodies (sendfile), ranges and paced bodies are the file's bytes,
  /// and a connection stays usable after each.
  #[tokio::test]
  async fn bodies_are_the_files_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..(3u32 << 20) + 17)
      .map(|i| (i * 7 % 251) as u8)
      .collect();
    std::fs::write(dir.path().join("f.bin"), &data).unwrap();
    let client = reqwest::Client::new();
    for rate in [None, Some(64 << 20)] {
      let server = StaticServer::start(dir.path().to_path_buf(), rate, 0)
        .await
        .unwrap();
      let url = server.origin().join("f.bin").unwrap();
      let whole = client.get(url.clone()).send().await.unwrap();
      assert_eq!(whole.status(), 200);
      assert!(whole.bytes().await.unwrap() == data, "rate {rate:?}");
      let part = client
        .get(url.clone())
        .header("Range", "bytes=1000000-")
        .send()
        .await
        .unwrap();
      assert_eq!(part.status(), 206);
      assert!(
        part.bytes().await.unwrap() == data[1_000_000..],
        "rate {rate:?}"
      );
      let tail = client
        .get(url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .unwrap();
      assert!(tail.bytes().await.unwrap() == data[data.len() - 5..]);
    }
  }

  #[test]
  fn dates() {
    assert_eq!(httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(httpdate(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
  }
}
