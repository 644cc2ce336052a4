//! Fetch interception, the browser's part (Service Workers spec, "Handle
//! Fetch"): a controlled client's request goes to its controller's `fetch`
//! event, the worker started first if it was stopped, and what the worker
//! answers goes back to the client: a response (its body streamed in
//! chunks, pulled by the client), "no response" (the client then fetches
//! from the network itself), or a network error.
//!
//! The request's shape is the client's business and the worker's: the
//! browser passes it on as it came and reads only what it traces.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use tokio::sync::oneshot;

use super::registry::VersionId;
use super::{clients, worker};
use crate::platform::browser::{take_answer, Answer, Browser};
use crate::platform::ipc::{Command, HostError, HostResult, RealmId, Reply, Shortcutting};

/// "Fire Functional Event" `fetch` in the worker: the request and the
/// clients it concerns. The worker answers once `respondWith`'s promise
/// settles (or at once when it was not called): `{outcome, response,
/// body}` (see `js/service_worker/14_fetch_event.js`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FetchEventCmd<'a> {
  request: &'a Value,
  client_id: &'a str,
  resulting_client_id: &'a str,
  replaces_client_id: &'a str,
  /// A navigation's preload response (`{status, statusText, headers,
  /// body}`, or `{error}`), for `event.preloadResponse`.
  #[serde(skip_serializing_if = "Option::is_none")]
  preload: Option<Value>,
}

impl Command for FetchEventCmd<'_> {
  const KIND: &'static str = "fetchEvent";
}

/// The next chunk of a response body the worker is streaming.
#[derive(Serialize)]
struct BodyRead {
  stream: u64,
}

impl Command for BodyRead {
  const KIND: &'static str = "fetchBodyRead";
}

/// The client no longer wants the body: the worker cancels its stream.
#[derive(Serialize)]
struct BodyCancel {
  stream: u64,
}

impl Command for BodyCancel {
  const KIND: &'static str = "fetchBodyCancel";
}

/// A response body being streamed from a worker to a client.
#[derive(Clone, Copy, Debug)]
pub struct BodyStream {
  worker: RealmId,
  /// The stream's id in the worker's realm.
  worker_stream: u64,
  client: RealmId,
}

/// What Handle Fetch does with a client's request, decided at once.
pub(super) enum Plan {
  /// The answer, without a fetch event: no controller, a static route,
  /// or a worker without a fetch listener.
  Answer(Value),
  /// The fetch event, in the worker `version` (running in `worker`, or to
  /// be started).
  FetchEvent {
    version: VersionId,
    worker: Option<RealmId>,
    client_id: String,
    request: Value,
  },
}

/// Service Workers, "Handle Fetch", for a request of the client realm
/// `realm`: steps 12-16 (the active worker of the client's controller) and
/// 21-24 (fire `fetch`, wait for the response or "no response").
///
/// A race-network-and-fetch-handler route answers `{"outcome": "race"}`:
/// the client starts its network request and calls again with `race`,
/// which fires the event without consulting the routes, and takes the
/// first response (`js/service_worker/14_fetch_event.js`).
///
/// The answer goes to the client from the worker's thread. The client's
/// next requests take [`shortcut`] instead, which comes back here only to
/// start the worker.
pub(super) async fn handle_fetch(
  browser: &Browser,
  realm: RealmId,
  request: &Value,
  race: bool,
) -> HostResult {
  // The client's next requests take the shortcut (which the browser's
  // state holds: a weak reference back).
  let b = browser.downgrade();
  browser.set_shortcut(
    realm,
    HANDLE_FETCH,
    Arc::new(move |args, reply| match b.upgrade() {
      Some(browser) => shortcut(&browser, realm, args, reply),
      None => Shortcutting::Declined(args, reply),
    }),
  );
  let (version, client_id, request) = match plan(browser, realm, request, race)? {
    Plan::Answer(answer) => return Ok(answer),
    Plan::FetchEvent {
      version,
      client_id,
      request,
      ..
    } => (version, client_id, request),
  };
  let Some(answer) = take_answer() else {
    return Err(HostError::invalid_state(
      "a fetch event answers a realm's call",
    ));
  };
  let started = Instant::now();
  let worker = worker::start_worker(browser, version).await;
  let done = to_client(browser, realm, answer);
  fire(
    browser, version, worker, &request, &client_id, "", None, started, done,
  );
  // Answered (or to be) from the worker's thread; this value is dropped.
  Ok(Value::Null)
}

/// The method of [`handle_fetch`], as the client calls it.
const HANDLE_FETCH: &str = "serviceWorker.handleFetch";

/// [`handle_fetch`] on the client's own thread, a wake-up of the browser's
/// thread fewer: when the worker is running, or no fetch event is needed.
/// It declines (gives the call back for the browser) when the worker must
/// be started first, and for a race's second call.
fn shortcut(browser: &Browser, realm: RealmId, args: Value, reply: Reply) -> Shortcutting {
  let plain = args.as_object().is_some_and(|a| a.len() == 1);
  let planned = match (&args["request"], plain) {
    (request @ Value::Object(_), true) => plan(browser, realm, request, false).ok(),
    _ => None,
  };
  match planned {
    // No fetch event (a route, no fetch listener): the answer at once.
    Some(Plan::Answer(answer)) => Shortcutting::Answered(Ok(answer)),
    Some(Plan::FetchEvent {
      version,
      worker: Some(worker),
      client_id,
      request,
    }) => {
      let to = Answer::new(browser, realm, HANDLE_FETCH, reply);
      let done = to_client(browser, realm, to);
      let started = Instant::now();
      fire(
        browser,
        version,
        Ok(worker),
        &request,
        &client_id,
        "",
        None,
        started,
        done,
      );
      Shortcutting::Taken
    }
    _ => Shortcutting::Declined(args, reply),
  }
}

/// Handle Fetch up to the fetch event (steps 12-16), for a request of the
/// client realm `realm`.
pub(super) fn plan(
  browser: &Browser,
  realm: RealmId,
  request: &Value,
  race: bool,
) -> Result<Plan, HostError> {
  let Some(client_id) = clients::client_of(browser, realm) else {
    return Err(HostError::invalid_state(
      "only a window fetches through a controller",
    ));
  };
  let fallback = || Ok(Plan::Answer(json!({"outcome": "fallback"})));
  let client = super::with(browser, |s| {
    let c = s.clients.get(&client_id)?;
    Some((c.controller, c.url.clone()))
  });
  let Some((controller, client_url)) = client else {
    return fallback();
  };
  // Step 12: no active service worker (the page's view was stale): the
  // request goes to the network.
  let Some(version) = controller else {
    return fallback();
  };
  let mut request = request.clone();
  resolve_referrer(&mut request, &client_url);
  if !race {
    match route(browser, version, &request) {
      Routed::Network => return fallback(),
      Routed::Cached(meta) => return Ok(Plan::Answer(json!({"outcome": "cached", "meta": meta}))),
      Routed::Race if worker::handles_fetch(browser, version) => {
        return Ok(Plan::Answer(json!({"outcome": "race"})))
      }
      Routed::Race | Routed::FetchEvent => {}
    }
  }
  // Step 16: a worker with no fetch listener is not asked (nor started).
  if !worker::handles_fetch(browser, version) {
    return fallback();
  }
  let worker = super::with(browser, |s| s.registry.versions.get(&version)?.realm);
  Ok(Plan::FetchEvent {
    version,
    worker,
    client_id,
    request,
  })
}

/// What gives the worker's answer to the client realm `realm`: its
/// streamed body, if any, registered for the client to pull.
fn to_client(
  browser: &Browser,
  realm: RealmId,
  answer: Answer,
) -> impl FnOnce(Value, Option<RealmId>) + Send + 'static {
  let b = browser.clone();
  move |mut reply: Value, worker: Option<RealmId>| {
    if let (Some(stream), Some(worker)) = (reply["body"]["stream"].as_u64(), worker) {
      let id = register_stream(&b, worker, stream, realm);
      reply["body"]["stream"] = json!(id);
    }
    answer.send(Ok(reply))
  }
}

/// A fetch event's answer when the worker could not run it.
fn network_error(e: HostError) -> Value {
  json!({"outcome": "error", "message": e.message})
}

/// Fetch's "main fetch", step 9, which comes before Handle Fetch: the
/// request's referrer (`about:client` for the page, `""` for none, or a
/// URL) becomes the URL its policy lets through ("determine request's
/// referrer"), as the worker's `event.request.referrer` shows it; `""` when
/// there is none.
fn resolve_referrer(request: &mut Value, client_url: &url::Url) {
  let target = request["url"]
    .as_str()
    .and_then(|u| url::Url::parse(u).ok());
  let policy = request["referrerPolicy"].as_str().unwrap_or("");
  let referrer =
    crate::platform::net::referrer::source(request["referrer"].as_str(), client_url.as_str())
      .zip(target)
      .and_then(|(source, target)| {
        crate::platform::net::referrer::determine(&source, policy, &target)
      });
  request["referrer"] = json!(referrer.map(String::from).unwrap_or_default());
}

/// What a static route decides for a request, before any fetch event.
enum Routed {
  /// The network, without the worker.
  Network,
  /// A response from Cache Storage (`responseFromStored`'s shape).
  Cached(Value),
  /// The fetch event, as without routes.
  FetchEvent,
  /// The network and the fetch event at once; the first response wins.
  Race,
}

/// Handle Fetch, the static routing steps: the first of the worker's
/// routes that the request meets decides its source. A cache miss goes
/// to the network.
fn route(browser: &Browser, version: VersionId, request: &Value) -> Routed {
  let source = super::with(browser, |s| {
    let v = s.registry.versions.get(&version)?;
    // Most workers add no routes: nothing to parse or match.
    if v.routes.is_empty() {
      return None;
    }
    let url = url::Url::parse(request["url"].as_str()?).ok()?;
    let r = super::routes::Request {
      url: &url,
      method: request["method"].as_str().unwrap_or("GET"),
      mode: request["mode"].as_str().unwrap_or(""),
      destination: request["destination"].as_str().unwrap_or(""),
      running: v.realm.is_some(),
    };
    v.routes.find(&r).cloned().map(|src| {
      (
        src,
        v.script_url.origin().ascii_serialization(),
        url.clone(),
      )
    })
  });
  let Some((source, origin, url)) = source else {
    return Routed::FetchEvent;
  };
  use super::routes::Source;
  let routed = match &source {
    Source::Network => Routed::Network,
    Source::FetchEvent => Routed::FetchEvent,
    Source::RaceNetworkAndFetchHandler => Routed::Race,
    Source::Cache | Source::CacheName(_) => {
      let name = match &source {
        Source::CacheName(n) => Some(n.as_str()),
        _ => None,
      };
      match crate::features::storage::cache_storage::lookup(
        &super::context(browser).db,
        &origin,
        name,
        url.as_str(),
      ) {
        Some(meta) => Routed::Cached(meta),
        None => Routed::Network,
      }
    }
  };
  browser.trace(
    "fetch-route",
    json!({"url": url.as_str(), "worker": version, "source": source,
           "outcome": match routed { Routed::Network => "network", Routed::Cached(_) => "cache", Routed::FetchEvent => "fetch-event", Routed::Race => "race" }}),
  );
  routed
}

/// What a navigation's `fetch` event gave.
pub(super) enum Navigated {
  /// The worker's response (or the cache's): its body and `Content-Type`.
  Body(crate::platform::net::FetchedPage),
  /// No response: the navigation goes to the network.
  Fallback,
  /// A network error, and why.
  Error(String),
}

/// Handle Fetch for a navigation request (mode `navigate`, destination
/// `document`) to `url` in the worker `version`: no client yet, and
/// `resulting_client_id` is the window the navigation makes. `referrer` is
/// the request's, already determined (a frame's parent), or "". `kind`
/// sets the request's `isReloadNavigation` and `isHistoryNavigation`.
pub(super) async fn navigate(
  browser: &Browser,
  version: VersionId,
  url: &url::Url,
  resulting_client_id: &str,
  referrer: &str,
  kind: super::navigation::NavigationType,
  post: Option<&super::navigation::FormPost>,
) -> Navigated {
  use super::navigation::NavigationType;
  let accept = json!(["accept", "text/html,application/xhtml+xml,*/*;q=0.8"]);
  let request = json!({
    "method": if post.is_some() { "POST" } else { "GET" },
    "url": url.as_str(),
    "headers": match post {
      Some(p) => json!([accept, ["content-type", p.content_type]]),
      None => json!([accept]),
    },
    "body": post.map(|p| crate::platform::ipc::encode_base64(p.body.as_bytes())),
    "mode": "navigate",
    "credentials": "include",
    // HTML, "navigate": a reload bypasses the HTTP cache's freshness.
    "cache": if kind == NavigationType::Reload { "no-cache" } else { "default" },
    "redirect": "manual",
    "referrer": referrer,
    "referrerPolicy": "",
    "integrity": "",
    "keepalive": false,
    "destination": "document",
    "reloadNavigation": kind == NavigationType::Reload,
    "historyNavigation": kind == NavigationType::Traverse,
  });
  match route(browser, version, &request) {
    Routed::Network => return Navigated::Fallback,
    Routed::Cached(meta) => {
      let path = meta["bodyToken"]
        .as_str()
        .and_then(|t| browser.body_path(t));
      return match path.map(std::fs::read) {
        Some(Ok(body)) => Navigated::Body(crate::platform::net::FetchedPage {
          body,
          content_type: header_of(&meta["headers"], "content-type"),
        }),
        _ => Navigated::Error("the cached page's body is gone".into()),
      };
    }
    // A navigation does not race: it waits for the fetch event.
    Routed::FetchEvent | Routed::Race => {}
  }
  // Step 16: a worker with no fetch listener is not asked.
  if !worker::handles_fetch(browser, version) {
    return Navigated::Fallback;
  }
  // Handle Fetch, step 19: with navigation preload on, the navigation
  // request goes to the network too, with its header; the worker gets the
  // response as `preloadResponse`.
  let preload = super::with(browser, |s| {
    let scope = &s.registry.versions.get(&version)?.scope;
    let p = &s.registry.regs.get(scope)?.preload;
    p.enabled.then(|| p.header_value.clone())
  });
  let preload = match preload {
    Some(header) => Some(
      browser
        .opts()
        .net
        .fetch_preload(url, &header)
        .await
        .unwrap_or_else(|e| json!({"error": e.message})),
    ),
    None => None,
  };
  let started = Instant::now();
  let worker = worker::start_worker(browser, version).await;
  let (tx, rx) = oneshot::channel();
  let done = move |reply, worker_realm| drop(tx.send((reply, worker_realm)));
  fire(
    browser,
    version,
    worker,
    &request,
    "",
    resulting_client_id,
    preload,
    started,
    done,
  );
  let (reply, worker_realm) = rx
    .await
    .unwrap_or_else(|_| (json!({"outcome": "error"}), None));
  match reply["outcome"].as_str() {
    Some("fallback") => return Navigated::Fallback,
    Some("response") => {}
    _ => {
      let why = reply["message"].as_str().unwrap_or("a network error");
      return Navigated::Error(why.to_string());
    }
  }
  match collect_body(browser, &reply, worker_realm, "page").await {
    Ok(body) => Navigated::Body(crate::platform::net::FetchedPage {
      body,
      content_type: header_of(&reply["response"]["headers"], "content-type"),
    }),
    Err(why) => Navigated::Error(why),
  }
}

/// The whole body of a worker's response (`reply`, its `{response, body}`
/// answer), its stream pulled from the worker's realm to the end. A body
/// the client must have whole (`what`: a page, a script) larger than
/// `net::MAX_PAGE_BYTES` is an error, so an endless one is not a hang.
pub(super) async fn collect_body(
  browser: &Browser,
  reply: &Value,
  worker: Option<RealmId>,
  what: &str,
) -> Result<Vec<u8>, String> {
  let body = &reply["body"];
  let mut bytes = body["chunk"]
    .as_str()
    .and_then(crate::platform::ipc::decode_base64)
    .unwrap_or_default();
  let (Some(stream), Some(worker)) = (body["stream"].as_u64(), worker) else {
    return Ok(bytes);
  };
  loop {
    if bytes.len() > crate::platform::net::MAX_PAGE_BYTES {
      browser.post(worker, &BodyCancel { stream });
      return Err(format!(
        "the {what} is larger than {} MiB",
        crate::platform::net::MAX_PAGE_BYTES >> 20
      ));
    }
    match browser.request(worker, &BodyRead { stream }).await {
      Ok(v) if v["done"] == json!(true) => return Ok(bytes),
      Ok(v) => bytes.extend(
        v["chunk"]
          .as_str()
          .and_then(crate::platform::ipc::decode_base64)
          .unwrap_or_default(),
      ),
      Err(e) => return Err(e.message),
    }
  }
}

/// The value of header `name` in a list of `[name, value]` pairs.
fn header_of(headers: &Value, name: &str) -> Option<String> {
  headers.as_array()?.iter().find_map(|h| {
    let pair = h.as_array()?;
    let key = pair.first()?.as_str()?;
    key
      .eq_ignore_ascii_case(name)
      .then(|| pair.get(1)?.as_str().map(String::from))?
  })
}

/// Fires `fetch` for `request` in the running worker `version` ("Fire
/// Functional Event"; its realm `worker`), traces it from `started`, and
/// gives `done` the worker's answer and its realm, on the worker's thread.
/// A worker that could not start, or ended mid-event, gives a network
/// error and no realm.
#[allow(clippy::too_many_arguments)]
pub(super) fn fire(
  browser: &Browser,
  version: VersionId,
  worker: Result<RealmId, HostError>,
  request: &Value,
  client_id: &str,
  resulting_client_id: &str,
  preload: Option<Value>,
  started: Instant,
  done: impl FnOnce(Value, Option<RealmId>) + Send + 'static,
) {
  let busy = browser.busy();
  let mut traced = json!({
    "url": request["url"],
    "mode": request["mode"],
    "destination": request["destination"],
    "client": client_id,
    "resultingClient": resulting_client_id,
    "worker": version,
  });
  let b = browser.clone();
  let cmd = FetchEventCmd {
    request,
    client_id,
    resulting_client_id,
    replaces_client_id: "",
    preload,
  };
  let finish = move |result: Result<(Value, RealmId), HostError>| {
    let (reply, worker) = match result {
      Ok((reply, worker)) => (reply, Some(worker)),
      Err(e) => (network_error(e), None),
    };
    traced["outcome"] = json!(match reply["outcome"].as_str() {
      Some("response") => "respondWith",
      Some("fallback") => "network-fallback",
      _ => "network-error",
    });
    traced["ms"] = json!(started.elapsed().as_secs_f64() * 1000.0);
    b.trace("fetch-event", traced);
    done(reply, worker);
    drop(busy);
  };
  match worker {
    Ok(worker) => browser.request_then(worker, &cmd, move |result| {
      finish(result.map(|reply| (reply, worker)))
    }),
    Err(e) => finish(Err(e)),
  }
}

fn register_stream(browser: &Browser, worker: RealmId, worker_stream: u64, client: RealmId) -> u64 {
  super::with(browser, |s| {
    s.next_body_stream += 1;
    let id = s.next_body_stream;
    s.body_streams.insert(
      id,
      BodyStream {
        worker,
        worker_stream,
        client,
      },
    );
    id
  })
}

/// The stream `id`, if the client realm `realm` is the one it was given to.
fn stream_of(browser: &Browser, realm: RealmId, id: u64) -> Result<BodyStream, HostError> {
  super::with(browser, |s| s.body_streams.get(&id).copied())
    .filter(|b| b.client == realm)
    .ok_or_else(|| HostError::type_error("the response body is gone"))
}

/// The next chunk of a streamed body, `{chunk, done}`; the stream is
/// forgotten once done.
pub(super) async fn read_body(browser: &Browser, realm: RealmId, id: u64) -> HostResult {
  let stream = stream_of(browser, realm, id)?;
  let result = browser
    .request(
      stream.worker,
      &BodyRead {
        stream: stream.worker_stream,
      },
    )
    .await;
  let done = match &result {
    Ok(v) => v["done"] == json!(true),
    Err(_) => true,
  };
  if done {
    super::with(browser, |s| s.body_streams.remove(&id));
  }
  // The worker ended, or its stream errored: the body errors (a TypeError
  // in the client, as for a network error mid-body).
  result.map_err(|e| HostError::type_error(format!("the response body failed: {}", e.message)))
}

/// The client cancels a streamed body.
pub(super) fn cancel_body(browser: &Browser, realm: RealmId, id: u64) -> HostResult {
  let stream = stream_of(browser, realm, id)?;
  super::with(browser, |s| s.body_streams.remove(&id));
  browser.post(
    stream.worker,
    &BodyCancel {
      stream: stream.worker_stream,
    },
  );
  Ok(Value::Null)
}

/// A realm ended: the body streams it was part of are gone.
pub(super) fn forget_realm(browser: &Browser, realm: RealmId) {
  super::with(browser, |s| {
    s.body_streams
      .retain(|_, b| b.worker != realm && b.client != realm)
  });
}
