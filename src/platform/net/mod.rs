//! The network stack the browser side uses for scripts and downloads:
//! reqwest with host-name overrides (WPT host names → loopback), extra
//! trusted CA certificates, and an online/offline switch.

pub mod cookies;
pub mod cors;
pub mod policy;
pub mod referrer;
pub mod static_server;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::platform::ipc::HostError;

#[derive(Clone, Default)]
pub struct NetConfig {
  pub resolve: Vec<(String, SocketAddr)>,
  pub extra_root_certs_pem: Vec<Vec<u8>>,
  /// A connection that sends nothing for this long is a network error (a
  /// stalled download is then retried, resuming); None: wait forever.
  pub stall_timeout: Option<std::time::Duration>,
}

#[derive(Clone)]
pub struct Net {
  pub config: NetConfig,
  /// Redirects are returned, not followed: every caller follows them as
  /// Fetch does ([`Net::send`], Background Fetch downloads), so that each
  /// hop's cookies, and more, are handled.
  no_redirects: reqwest::Client,
  online: Arc<AtomicBool>,
  /// The browser's cookies (one jar per browser, see [`Net::with_own_switch`]).
  cookies: Arc<cookies::CookieJar>,
}

impl Net {
  pub fn new(config: NetConfig, online: bool) -> anyhow::Result<Net> {
    Ok(Net {
      no_redirects: build_client(&config)?,
      config,
      online: Arc::new(AtomicBool::new(online)),
      cookies: Arc::default(),
    })
  }

  /// The same client (and its open connections), with an offline switch
  /// and a cookie jar of its own: for a browser that shares a network
  /// stack with others.
  pub fn with_own_switch(&self, online: bool) -> Net {
    Net {
      config: self.config.clone(),
      no_redirects: self.no_redirects.clone(),
      online: Arc::new(AtomicBool::new(online)),
      cookies: Arc::default(),
    }
  }

  /// The browser's cookie jar.
  pub fn cookies(&self) -> &Arc<cookies::CookieJar> {
    &self.cookies
  }

  pub fn is_online(&self) -> bool {
    self.online.load(Ordering::SeqCst)
  }

  pub fn set_online(&self, online: bool) {
    self.online.store(online, Ordering::SeqCst);
  }

  /// The client that hands back redirect responses.
  pub fn client_no_redirects(&self) -> &reqwest::Client {
    &self.no_redirects
  }

  /// Fetches a script (service worker main script, `importScripts`, a
  /// client module). The offline switch does not apply: it simulates the
  /// page's network, while scripts are what the harness runs.
  ///
  /// network errors, non-OK statuses and non-JavaScript MIME types are
  /// TypeErrors, as the Service Workers spec says.
  /// A document a navigation loads (HTML): its body as text, whatever
  /// its status (a 404 page is a page too). A network error is an error.
  /// A page a navigation loads from the network, with `Referer:
  /// referrer` when the navigation has one (a frame's parent).
  pub async fn fetch_document(
    &self,
    url: &url::Url,
    referrer: Option<&str>,
    post: Option<(&str, &[u8])>,
  ) -> Result<DocumentHop, HostError> {
    let (head, body) = self
      .navigation_get(url, None, referrer, post, false, "Failed to load the page")
      .await?;
    // A redirect is the navigation's to follow (its next URL may have
    // another controller): HTML's "navigate" fetches with redirect mode
    // "manual".
    let location = head
      .headers
      .iter()
      .find(|(k, _)| k.eq_ignore_ascii_case("location"))
      .and_then(|(_, v)| url.join(v).ok());
    if let (true, Some(to)) = (is_redirect_status(head.status.as_u16()), location) {
      return Ok(DocumentHop::Redirect {
        status: head.status.as_u16(),
        to,
      });
    }
    let content_type = head
      .headers
      .iter()
      .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
      .map(|(_, v)| v.clone());
    Ok(DocumentHop::Page(FetchedPage { body, content_type }))
  }

  /// Service Workers, "navigation preload" fetch: the navigation request
  /// with `Service-Worker-Navigation-Preload: header_value`. The response
  /// whole, as `{status, statusText, headers, body}` (body base64).
  pub async fn fetch_preload(
    &self,
    url: &url::Url,
    header_value: &str,
  ) -> Result<serde_json::Value, HostError> {
    let (head, body) = self
      .navigation_get(
        url,
        Some(header_value),
        None,
        None,
        true,
        "The navigation preload failed for",
      )
      .await?;
    Ok(serde_json::json!({
      "status": head.status.as_u16(),
      "statusText": head.status.canonical_reason().unwrap_or(""),
      "headers": head.headers,
      "body": crate::platform::ipc::encode_base64(&body),
    }))
  }

  /// A navigation's GET of `url` (with the preload header when given), or
  /// its POST of a form's body (`post`: its content type and bytes):
  /// its status and headers, and its body, read whole up to
  /// `MAX_PAGE_BYTES` (past that, a hostile or endless body fails the
  /// navigation rather than the memory). Errors start with `what`.
  async fn navigation_get(
    &self,
    url: &url::Url,
    preload: Option<&str>,
    referrer: Option<&str>,
    post: Option<(&str, &[u8])>,
    follow: bool,
    what: &str,
  ) -> Result<(PageHead, Vec<u8>), HostError> {
    let fail = |why: String| HostError::type_error(format!("{what} '{url}': {why}"));
    if !matches!(url.scheme(), "http" | "https") {
      return Err(fail("unsupported scheme".into()));
    }
    let mut headers = vec![(
      "Accept".to_string(),
      "text/html,application/xhtml+xml,*/*;q=0.8".to_string(),
    )];
    if let Some(v) = preload {
      headers.push(("Service-Worker-Navigation-Preload".into(), v.to_string()));
    }
    if let Some(r) = referrer {
      headers.push(("Referer".into(), r.to_string()));
    }
    if let Some((content_type, _)) = post {
      headers.push(("Content-Type".into(), content_type.to_string()));
    }
    // A frame's navigation is its parent's (the referrer, when it has
    // one); a top-level one is the browser's own.
    let parent = referrer.and_then(|r| url::Url::parse(r).ok());
    let sent = Outgoing {
      method: if post.is_some() {
        reqwest::Method::POST
      } else {
        reqwest::Method::GET
      },
      url: url.clone(),
      headers,
      body: post.map(|(_, body)| body.to_vec()),
    };
    let cx = cookies::Context {
      initiator: parent.as_ref(),
      top_level_get: parent.is_none(),
    };
    let mut resp = self.send(sent, cx, follow).await.map_err(fail)?;
    let head = PageHead {
      status: resp.status(),
      headers: resp
        .headers()
        .iter()
        .map(|(k, v)| {
          (
            k.to_string(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
          )
        })
        .collect(),
    };
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(error_chain(&e)))? {
      body.extend_from_slice(&chunk);
      if body.len() > MAX_PAGE_BYTES {
        return Err(fail(format!(
          "it is larger than {} MiB",
          MAX_PAGE_BYTES >> 20
        )));
      }
    }
    Ok((head, body))
  }

  /// A service worker's script or one it imports (with the
  /// `Service-Worker: script` header).
  pub async fn fetch_script(&self, url: &url::Url) -> Result<String, HostError> {
    self.fetch_classic_script(url, true).await
  }

  /// A classic script, as HTML fetches one for a worker: an OK status and
  /// a JavaScript MIME type, or an error that says which is wrong.
  pub async fn fetch_classic_script(
    &self,
    url: &url::Url,
    service_worker: bool,
  ) -> Result<String, HostError> {
    if !matches!(url.scheme(), "http" | "https") {
      return Err(HostError::type_error(format!(
        "Failed to fetch the script '{url}': unsupported scheme"
      )));
    }
    let mut headers = Vec::new();
    if service_worker {
      headers.push(("Service-Worker".to_string(), "script".to_string()));
    }
    let sent = Outgoing {
      method: reqwest::Method::GET,
      url: url.clone(),
      headers,
      body: None,
    };
    let resp = self
      .send(sent, cookies::Context::BROWSER, true)
      .await
      .map_err(|e| HostError::type_error(format!("Failed to fetch the script '{url}': {e}")))?;
    check_script_response(
      url,
      resp.status().as_u16(),
      resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(""),
    )?;
    resp
      .text()
      .await
      .map_err(|e| HostError::type_error(format!("Failed to read the script '{url}': {e}")))
  }
}

/// A request the browser sends for a page or a worker, whose redirects it
/// follows itself (so that each hop's cookies are sent and kept).
pub struct Outgoing {
  pub method: reqwest::Method,
  pub url: url::Url,
  pub headers: Vec<(String, String)>,
  pub body: Option<Vec<u8>>,
}

impl Net {
  /// Sends `req` with the jar's cookies, keeps those of each response,
  /// and (with `follow`) follows redirects as Fetch does (at most 20; a
  /// 303, or a 301 or 302 of a POST, becomes a GET without its body). The
  /// final response.
  pub async fn send(
    &self,
    mut req: Outgoing,
    cx: cookies::Context<'_>,
    follow: bool,
  ) -> Result<reqwest::Response, String> {
    let mut hops = 0;
    loop {
      let mut builder = self
        .no_redirects
        .request(req.method.clone(), req.url.clone());
      // `Cookie` is the browser's (a forbidden request-header name).
      for (k, v) in req
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
      {
        builder = builder.header(k.as_str(), v.as_str());
      }
      if let Some(body) = &req.body {
        builder = builder.body(body.clone());
      }
      let hop_cx = cookies::Context {
        top_level_get: cx.top_level_get && req.method == reqwest::Method::GET,
        ..cx
      };
      if let Some(cookie) = self.cookies.header_for(&req.url, hop_cx) {
        builder = builder.header("Cookie", cookie);
      }
      let resp = builder.send().await.map_err(|e| error_chain(&e))?;
      let set: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
      if !set.is_empty() {
        self.cookies.store_from(&req.url, set, hop_cx);
      }
      let status = resp.status().as_u16();
      let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| req.url.join(l).ok());
      let (true, true, Some(next)) = (follow, is_redirect_status(status), location) else {
        return Ok(resp);
      };
      hops += 1;
      if hops > 20 {
        return Err("too many redirects".into());
      }
      if redirect_turns_into_get(status, &req.method) {
        req.method = reqwest::Method::GET;
        req.body = None;
        req.headers.retain(|(k, _)| !is_request_body_header(k));
      }
      req.url = next;
    }
  }
}

/// "HTTP-redirect fetch", step 12: a 301 or 302 of a POST, or a 303 of
/// anything but GET or HEAD, goes on as a GET without its body.
pub fn redirect_turns_into_get(status: u16, method: &reqwest::Method) -> bool {
  (matches!(status, 301 | 302) && method == reqwest::Method::POST)
    || (status == 303 && method != reqwest::Method::GET && method != reqwest::Method::HEAD)
}

/// Fetch's request-body-header names, dropped when a redirect turns the
/// request into a GET ("HTTP-redirect fetch", step 12.2); `Content-Length`
/// too, which the HTTP client sets itself.
pub fn is_request_body_header(name: &str) -> bool {
  [
    "content-encoding",
    "content-language",
    "content-location",
    "content-type",
    "content-length",
  ]
  .iter()
  .any(|h| name.eq_ignore_ascii_case(h))
}

/// HTML's checks of a script's response (its status and `Content-Type`):
/// an OK status and a JavaScript MIME type, or an error that says which is
/// wrong.
pub fn check_script_response(
  url: &url::Url,
  status: u16,
  content_type: &str,
) -> Result<(), HostError> {
  if !(200..300).contains(&status) {
    return Err(HostError::type_error(format!(
      "Failed to fetch the script '{url}': HTTP status {status}"
    )));
  }
  let mime = mime_essence(content_type);
  if !is_javascript_mime(&mime) {
    return Err(HostError::new(
      "SecurityError",
      format!("The script '{url}' has an unsupported MIME type ('{mime}')"),
    ));
  }
  Ok(())
}

/// `importScripts(...urls)` (HTML, "import scripts into worker global
/// scope"): each URL resolved against `base` and fetched by `fetch`, in
/// order; `[{url, source}]`, or the first error (a SyntaxError for a bad
/// URL, a NetworkError for a script that does not load).
pub async fn import_scripts<F, Fut>(
  base: &url::Url,
  urls: Vec<String>,
  mut fetch: F,
) -> crate::platform::ipc::HostResult
where
  F: FnMut(url::Url) -> Fut,
  Fut: std::future::Future<Output = Result<String, HostError>>,
{
  let mut out = Vec::new();
  for u in urls {
    let url = base
      .join(&u)
      .map_err(|_| HostError::new("SyntaxError", format!("Invalid URL '{u}'")))?;
    let source = fetch(url.clone()).await.map_err(|e| {
      HostError::new(
        "NetworkError",
        format!("Failed to execute 'importScripts': {}", e.message),
      )
    })?;
    out.push(serde_json::json!({"url": url.as_str(), "source": source}));
  }
  Ok(serde_json::Value::Array(out))
}

pub fn is_javascript_mime(mime: &str) -> bool {
  matches!(
    mime,
    "text/javascript"
      | "application/javascript"
      | "application/x-javascript"
      | "text/ecmascript"
      | "application/ecmascript"
      | "text/x-javascript"
  )
}

/// The error and its causes, `a: b: c`.
/// The largest page (or preload response) a navigation reads.
pub const MAX_PAGE_BYTES: usize = 64 << 20;

/// A navigation response's status and headers.
/// The essence of a `Content-Type` value: its type and subtype, lower case,
/// without parameters ("" for an empty value).
pub fn mime_essence(content_type: &str) -> String {
  content_type
    .split(';')
    .next()
    .unwrap_or("")
    .trim()
    .to_ascii_lowercase()
}

/// What one request of a navigation gave: a page, or a redirect.
pub enum DocumentHop {
  Page(FetchedPage),
  Redirect { status: u16, to: url::Url },
}

/// A redirect status (Fetch).
pub fn is_redirect_status(status: u16) -> bool {
  matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// A page loaded from the network: its bytes and its `Content-Type`.
pub struct FetchedPage {
  pub body: Vec<u8>,
  pub content_type: Option<String>,
}

struct PageHead {
  status: reqwest::StatusCode,
  headers: Vec<(String, String)>,
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
  let mut out = e.to_string();
  let mut src = e.source();
  while let Some(s) = src {
    let text = s.to_string();
    if !out.contains(&text) {
      out.push_str(": ");
      out.push_str(&text);
    }
    src = s.source();
  }
  out
}

fn build_client(config: &NetConfig) -> anyhow::Result<reqwest::Client> {
  let mut builder = reqwest::Client::builder()
    .user_agent(concat!("swharness/", env!("CARGO_PKG_VERSION")))
    .redirect(reqwest::redirect::Policy::none());
  if let Some(t) = config.stall_timeout {
    builder = builder.read_timeout(t).connect_timeout(t);
  }
  for (host, addr) in &config.resolve {
    builder = builder.resolve(host, *addr);
  }
  for pem in &config.extra_root_certs_pem {
    let cert = reqwest::Certificate::from_pem(pem)
      .map_err(|e| anyhow::anyhow!("bad CA certificate: {e}"))?;
    builder = builder.add_root_certificate(cert);
  }
  Ok(builder.build()?)
}
