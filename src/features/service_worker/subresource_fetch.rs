//! Handle Fetch for the requests the browser makes for a controlled
//! client (`Feature::fetch_subresource`): the scripts it loads (a page's
//! `<script src>`, a module script and its static and dynamic imports,
//! `importScripts()` in a dedicated or shared worker) and its synchronous
//! XMLHttpRequests. The client's controller answers them like its
//! `fetch()` calls, and the response is taken whole. A service worker's
//! own requests never come here: it is not a client.

use serde_json::{json, Value};
use std::time::Instant;
use tokio::sync::oneshot;

use super::fetch_event::{collect_body, fire, plan, Plan};
use super::worker;
use crate::platform::browser::{
  Browser, SubresourceFetch, SubresourceRequest, SubresourceResponse,
};
use crate::platform::ipc::{encode_base64, HostError, RealmId};

/// `request` for the client realm `realm`: the worker's answer, or
/// [`SubresourceFetch::Network`] when it has none (no controller, a route
/// to the network, no `respondWith()`).
pub(super) async fn fetch_subresource(
  browser: &Browser,
  realm: RealmId,
  request: &SubresourceRequest<'_>,
) -> SubresourceFetch {
  let url = request.url;
  if !matches!(url.scheme(), "http" | "https") {
    return SubresourceFetch::Network;
  }
  let described = json!({
    "method": request.method,
    "url": url.as_str(),
    "headers": request.headers,
    "body": request.body.map(encode_base64),
    "mode": request.mode,
    "credentials": request.credentials,
    "cache": "default",
    "redirect": "follow",
    "referrer": "about:client",
    "referrerPolicy": "",
    "integrity": "",
    "keepalive": false,
    "destination": request.destination,
  });
  let (version, worker, client_id, described) = match plan(browser, realm, &described, false) {
    Ok(Plan::FetchEvent {
      version,
      worker,
      client_id,
      request,
    }) => (version, worker, client_id, request),
    Ok(Plan::Answer(answer)) if answer["outcome"] == "cached" => {
      return SubresourceFetch::Answered(cached(browser, url, &answer["meta"]));
    }
    // No fetch event: the network (a race route's network half wins too).
    Ok(Plan::Answer(_)) | Err(_) => return SubresourceFetch::Network,
  };
  let started = Instant::now();
  let worker = match worker {
    Some(w) => Ok(w),
    None => worker::start_worker(browser, version).await,
  };
  let (tx, rx) = oneshot::channel();
  let done = move |reply, worker_realm| drop(tx.send((reply, worker_realm)));
  fire(
    browser, version, worker, &described, &client_id, "", None, started, done,
  );
  let Ok((reply, worker_realm)) = rx.await else {
    return SubresourceFetch::Answered(Err(failed(url, "the worker ended")));
  };
  match reply["outcome"].as_str() {
    Some("fallback") => return SubresourceFetch::Network,
    Some("response") => {}
    _ => {
      let why = reply["message"].as_str().unwrap_or("a network error");
      return SubresourceFetch::Answered(Err(failed(url, why)));
    }
  }
  let body = match collect_body(browser, &reply, worker_realm, "response").await {
    Ok(body) => body,
    Err(why) => return SubresourceFetch::Answered(Err(failed(url, &why))),
  };
  SubresourceFetch::Answered(Ok(response_of(&reply["response"], body)))
}

/// A static route's answer from Cache Storage.
fn cached(
  browser: &Browser,
  url: &url::Url,
  meta: &Value,
) -> Result<SubresourceResponse, HostError> {
  let body = meta["bodyToken"]
    .as_str()
    .and_then(|t| browser.body_path(t))
    .and_then(|p| std::fs::read(p).ok())
    .ok_or_else(|| failed(url, "the cached response's body is gone"))?;
  Ok(response_of(meta, body))
}

/// The worker's (or the cache's) `{status, statusText, headers, type,
/// urlList | url}` with its body.
fn response_of(r: &Value, body: Vec<u8>) -> SubresourceResponse {
  let headers = r["headers"]
    .as_array()
    .map(|list| {
      list
        .iter()
        .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
        .collect()
    })
    .unwrap_or_default();
  let url = r["urlList"]
    .as_array()
    .and_then(|l| l.last())
    .or(r.get("url"))
    .and_then(Value::as_str)
    .unwrap_or("")
    .to_string();
  SubresourceResponse {
    status: r["status"].as_u64().unwrap_or(0) as u16,
    status_text: r["statusText"].as_str().unwrap_or("").to_string(),
    headers,
    url,
    opaque: r["type"] == "opaque",
    body,
  }
}

fn failed(url: &url::Url, why: &str) -> HostError {
  HostError::type_error(format!("Failed to fetch '{url}': {why}"))
}
