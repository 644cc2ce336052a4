//! XMLHttpRequest, the browser side: a synchronous request
//! (`open(method, url, false)`), which the realm waits for, blocked, as a
//! browser's renderer does. An asynchronous request is the realm's own
//! `fetch()` (`js/xhr/24_xhr.js`), so it needs nothing here.
//!
//! A synchronous request is same origin only (no CORS preflight to block
//! on). A controlled page's goes to its service worker first
//! (`Browser::fetch_subresource`), then to the network.
//!
//! It may use the core (`browser`, `ipc`, `net`).

use std::any::Any;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};
use url::Url;

use crate::platform::browser::{Browser, Feature, RealmCall, SubresourceRequest};
use crate::platform::ipc::{
  decode_base64, decode_call, encode_base64, HostError, HostResult, RealmId,
};

crate::platform::ipc::realm_calls! {
  enum Call {
    /// A synchronous request: its method, URL, headers, body (base64) and
    /// timeout (0: none).
    Send {
      method: String,
      url: String,
      headers: Vec<(String, String)>,
      body: Option<String>,
      timeout_ms: u64,
    },
  }
}

/// The feature.
#[derive(Default)]
pub struct Xhr;

fn network_error(message: impl Into<String>) -> HostError {
  HostError::new("NetworkError", message)
}

async fn send(browser: &Browser, realm: RealmId, call: Call) -> HostResult {
  let Call::Send {
    method,
    url,
    headers,
    body,
    timeout_ms,
  } = call;
  let url = Url::parse(&url).map_err(|_| HostError::new("SyntaxError", "Invalid URL"))?;
  if url.origin() != browser.realm_origin(realm)? {
    return Err(network_error(format!(
      "a synchronous request to another origin is not supported: {url}"
    )));
  }
  let body = match body {
    Some(b) => Some(decode_base64(&b).ok_or_else(|| HostError::type_error("bad body"))?),
    None => None,
  };
  // A controlled page's request goes to its service worker first.
  let subresource = SubresourceRequest {
    method: &method,
    url: &url,
    headers: &headers,
    body: body.as_deref(),
    mode: "cors",
    credentials: "same-origin",
    destination: "",
  };
  // One timeout for the worker and the network together.
  let deadline =
    (timeout_ms > 0).then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
  let answered = with_deadline(deadline, async {
    match browser.fetch_subresource(realm, &subresource).await {
      Some(answer) => {
        let r = answer.map_err(|e| network_error(e.message))?;
        Ok(Some(json!({
          "status": r.status,
          "statusText": r.status_text,
          "headers": r.headers,
          "url": if r.url.is_empty() { url.to_string() } else { r.url },
          "body": encode_base64(&r.body),
        })))
      }
      None => Ok(None),
    }
  })
  .await?;
  if let Some(answer) = answered {
    return Ok(answer);
  }
  let net = &browser.opts().net;
  if !net.is_online() {
    return Err(network_error("the network is offline"));
  }
  let method = reqwest::Method::from_bytes(method.as_bytes())
    .map_err(|_| HostError::new("SyntaxError", format!("bad method {method}")))?;
  let outgoing = crate::platform::net::Outgoing {
    method,
    url: url.clone(),
    headers,
    body,
  };
  // Same-origin only: the page's cookies go (credentials "same-origin").
  let page = browser.realm_url(realm);
  let cx = crate::platform::net::cookies::Context {
    initiator: page.as_ref(),
    top_level_get: false,
  };
  let exchange = async {
    let response = net.send(outgoing, cx, true).await.map_err(network_error)?;
    let status = response.status();
    let final_url = response.url().to_string();
    let headers: Vec<(String, String)> = response
      .headers()
      .iter()
      .filter(|(n, _)| !matches!(n.as_str(), "set-cookie" | "set-cookie2"))
      .map(|(n, v)| {
        (
          n.to_string(),
          String::from_utf8_lossy(v.as_bytes()).into_owned(),
        )
      })
      .collect();
    let bytes = response
      .bytes()
      .await
      .map_err(|e| network_error(crate::platform::net::error_chain(&e)))?;
    Ok::<Value, HostError>(json!({
      "status": status.as_u16(),
      "statusText": status.canonical_reason().unwrap_or(""),
      "headers": headers,
      "url": final_url,
      "body": encode_base64(&bytes),
    }))
  };
  with_deadline(deadline, exchange).await
}

/// `work`, or a TimeoutError at `deadline` (None: no timeout).
async fn with_deadline<T>(
  deadline: Option<tokio::time::Instant>,
  work: impl std::future::Future<Output = Result<T, HostError>>,
) -> Result<T, HostError> {
  let Some(deadline) = deadline else {
    return work.await;
  };
  tokio::time::timeout_at(deadline, work)
    .await
    .unwrap_or_else(|_| Err(HostError::new("TimeoutError", "the request timed out")))
}

impl Feature for Xhr {
  fn namespace(&self) -> &'static str {
    "xhr"
  }

  fn call<'a>(&'a self, c: RealmCall<'a>) -> BoxFuture<'a, HostResult> {
    Box::pin(async move {
      let call = decode_call::<Call>("xhr", c.method, c.args)?;
      send(c.browser, c.realm, call).await
    })
  }

  fn as_any(&self) -> &dyn Any {
    self
  }
}
