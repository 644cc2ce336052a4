//! Handle Fetch for the scripts a controlled client loads (destination
//! `script`): a page's `<script src>`, a module script and its static and
//! dynamic imports, and `importScripts()` in a dedicated or shared worker.
//! The client's controller answers them like its `fetch()` calls; the
//! script is then taken whole, checked as HTML checks a script's response
//! (an OK status and a JavaScript MIME type), and run by the client.
//! A service worker's own scripts never come here: it is not a client.

use serde_json::{json, Value};
use std::time::Instant;
use tokio::sync::oneshot;

use super::fetch_event::{collect_body, fire, header_of, plan, Plan};
use super::worker;
use crate::browser::{Browser, ScriptFetch, ScriptKind};
use crate::ipc::{HostError, RealmId};

/// The script at `url` for the client realm `realm`: the worker's answer,
/// or [`ScriptFetch::Network`] when it has none (no controller, a route to
/// the network, no `respondWith()`).
pub(super) async fn fetch_script(
  browser: &Browser,
  realm: RealmId,
  url: &url::Url,
  kind: ScriptKind,
) -> ScriptFetch {
  if !matches!(url.scheme(), "http" | "https") {
    return ScriptFetch::Network;
  }
  // HTML: a classic script without `crossorigin` is fetched `no-cors` with
  // credentials; a module script `cors`, credentials `same-origin`.
  let module = kind == ScriptKind::Module;
  let request = json!({
    "method": "GET",
    "url": url.as_str(),
    "headers": [["accept", "*/*"]],
    "body": null,
    "mode": if module { "cors" } else { "no-cors" },
    "credentials": if module { "same-origin" } else { "include" },
    "cache": "default",
    "redirect": "follow",
    "referrer": "about:client",
    "referrerPolicy": "",
    "integrity": "",
    "keepalive": false,
    "destination": "script",
  });
  let (version, worker, client_id, request) = match plan(browser, realm, &request, false) {
    Ok(Plan::FetchEvent {
      version,
      worker,
      client_id,
      request,
    }) => (version, worker, client_id, request),
    Ok(Plan::Answer(answer)) if answer["outcome"] == "cached" => {
      return ScriptFetch::Answered(cached(browser, url, &answer["meta"]));
    }
    // No fetch event: the network (a race route's network half wins too).
    Ok(Plan::Answer(_)) | Err(_) => return ScriptFetch::Network,
  };
  let started = Instant::now();
  let worker = match worker {
    Some(w) => Ok(w),
    None => worker::start_worker(browser, version).await,
  };
  let (tx, rx) = oneshot::channel();
  let done = move |reply, worker_realm| drop(tx.send((reply, worker_realm)));
  fire(
    browser, version, worker, &request, &client_id, "", None, started, done,
  );
  let Ok((reply, worker_realm)) = rx.await else {
    return ScriptFetch::Answered(Err(failed(url, "the worker ended")));
  };
  match reply["outcome"].as_str() {
    Some("fallback") => return ScriptFetch::Network,
    Some("response") => {}
    _ => {
      let why = reply["message"].as_str().unwrap_or("a network error");
      return ScriptFetch::Answered(Err(failed(url, why)));
    }
  }
  let body = match collect_body(browser, &reply, worker_realm, "script").await {
    Ok(body) => body,
    Err(why) => return ScriptFetch::Answered(Err(failed(url, &why))),
  };
  ScriptFetch::Answered(checked(url, &reply["response"], body))
}

/// A static route's answer from Cache Storage.
fn cached(browser: &Browser, url: &url::Url, meta: &Value) -> Result<String, HostError> {
  let body = meta["bodyToken"]
    .as_str()
    .and_then(|t| browser.body_path(t))
    .and_then(|p| std::fs::read(p).ok())
    .ok_or_else(|| failed(url, "the cached response's body is gone"))?;
  checked(url, meta, body)
}

/// HTML's checks of a script's response (`{status, type, headers}`): an OK
/// status (an opaque response's is not known) and a JavaScript MIME type.
fn checked(url: &url::Url, response: &Value, body: Vec<u8>) -> Result<String, HostError> {
  let status = response["status"].as_u64().unwrap_or(0);
  if response["type"] != "opaque" && !(200..300).contains(&status) {
    return Err(failed(url, &format!("HTTP status {status}")));
  }
  let mime = crate::net::mime_essence(
    header_of(&response["headers"], "content-type")
      .as_deref()
      .unwrap_or(""),
  );
  if response["type"] != "opaque" && !crate::net::is_javascript_mime(&mime) {
    return Err(HostError::new(
      "SecurityError",
      format!("The script '{url}' has an unsupported MIME type ('{mime}')"),
    ));
  }
  Ok(String::from_utf8_lossy(&body).into_owned())
}

fn failed(url: &url::Url, why: &str) -> HostError {
  HostError::type_error(format!("Failed to fetch the script '{url}': {why}"))
}
