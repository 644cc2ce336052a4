//! The network stack the browser side uses for scripts and downloads:
//! reqwest with host-name overrides (WPT host names → loopback), extra
//! trusted CA certificates, and an online/offline switch.

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
  client: reqwest::Client,
  /// The same configuration, but redirects are returned, not followed: for
  /// callers that follow them as Fetch does (Background Fetch downloads).
  no_redirects: reqwest::Client,
  online: Arc<AtomicBool>,
}

impl Net {
  pub fn new(config: NetConfig, online: bool) -> anyhow::Result<Net> {
    Ok(Net {
      client: build_client(&config, reqwest::redirect::Policy::limited(20))?,
      no_redirects: build_client(&config, reqwest::redirect::Policy::none())?,
      config,
      online: Arc::new(AtomicBool::new(online)),
    })
  }

  /// The same client (and its open connections), with an offline switch
  /// of its own: for a browser that shares a network stack with others.
  pub fn with_own_switch(&self, online: bool) -> Net {
    Net {
      config: self.config.clone(),
      client: self.client.clone(),
      no_redirects: self.no_redirects.clone(),
      online: Arc::new(AtomicBool::new(online)),
    }
  }

  pub fn is_online(&self) -> bool {
    self.online.load(Ordering::SeqCst)
  }

  pub fn set_online(&self, online: bool) {
    self.online.store(online, Ordering::SeqCst);
  }

  pub fn client(&self) -> &reqwest::Client {
    &self.client
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
  ) -> Result<FetchedPage, HostError> {
    let (head, body) = self
      .navigation_get(url, None, referrer, post, "Failed to load the page")
      .await?;
    let content_type = head
      .headers
      .iter()
      .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
      .map(|(_, v)| v.clone());
    Ok(FetchedPage { body, content_type })
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
    what: &str,
  ) -> Result<(PageHead, Vec<u8>), HostError> {
    let fail = |why: String| HostError::type_error(format!("{what} '{url}': {why}"));
    if !matches!(url.scheme(), "http" | "https") {
      return Err(fail("unsupported scheme".into()));
    }
    let mut req = match post {
      Some((content_type, body)) => self
        .client
        .post(url.clone())
        .header("Content-Type", content_type)
        .body(body.to_vec()),
      None => self.client.get(url.clone()),
    }
    .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    if let Some(v) = preload {
      req = req.header("Service-Worker-Navigation-Preload", v);
    }
    if let Some(r) = referrer {
      req = req.header("Referer", r);
    }
    let mut resp = req.send().await.map_err(|e| fail(error_chain(&e)))?;
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
    let mut request = self.client.get(url.clone());
    if service_worker {
      request = request.header("Service-Worker", "script");
    }
    let resp = request.send().await.map_err(|e| {
      HostError::type_error(format!(
        "Failed to fetch the script '{url}': {}",
        error_chain(&e)
      ))
    })?;
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

fn build_client(
  config: &NetConfig,
  redirects: reqwest::redirect::Policy,
) -> anyhow::Result<reqwest::Client> {
  let mut builder = reqwest::Client::builder()
    .user_agent(concat!("swharness/", env!("CARGO_PKG_VERSION")))
    .redirect(redirects);
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
