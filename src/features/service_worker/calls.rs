//! What the realms ask of the service worker feature (`serviceWorker.*`):
//! `ServiceWorkerContainer`, `ServiceWorkerRegistration`, `Clients`,
//! messages, `importScripts`, and a document's CSP; decoded once into
//! [`Call`].
//!
//! Spec: Service Workers; the method steps named at each call.

use serde_json::{json, Value};
use url::Url;

use super::{clients, fetch_event, frames, lifecycle, worker};
use crate::platform::browser::Browser;
use crate::platform::ipc::{decode_call, HostError, HostResult, RealmId};

crate::platform::ipc::realm_calls! {
  enum Call {
    Register {
      #[serde(rename = "scriptURL")]
      script_url: String,
      scope: Option<String>,
    },
    Update {
      scope: String,
    },
    GetRegistration {
      url: String,
    },
    GetRegistrations {},
    Ready {},
    Unregister {
      scope: String,
    },
    SkipWaiting {},
    ImportScripts {
      urls: Vec<String>,
    },
    PostMessageToWorker {
      worker_id: u64,
      data: Value,
    },
    PostMessageToClient {
      client_id: String,
      data: Value,
    },
    ClientsMatchAll {
      include_uncontrolled: bool,
      #[serde(rename = "type")]
      client_type: String,
    },
    ClientsGet {
      id: String,
    },
    ClientsOpenWindow {
      url: String,
    },
    ClientsNavigate {
      id: String,
      url: String,
    },
    ClientsClaim {},
    /// NavigationPreloadManager enable()/disable() (`enabled`) and
    /// setHeaderValue() (`headerValue`).
    NavigationPreloadSet {
      scope: String,
      enabled: Option<bool>,
      header_value: Option<String>,
    },
    NavigationPreloadState {
      scope: String,
    },
    /// InstallEvent.addRoutes(rules), from the installing worker.
    AddRoutes {
      rules: Vec<super::routes::Route>,
    },
    /// A `<meta http-equiv="Content-Security-Policy">` of the document.
    SetContentSecurityPolicy {
      policy: String,
    },
    /// A controlled client's request, for its controller's `fetch` event.
    /// `race`: the fetch-event half of a race-network-and-fetch-handler
    /// route (the routes are not consulted again).
    HandleFetch {
      request: Value,
      #[serde(default)]
      race: bool,
    },
    /// The next chunk of a response body the worker streams.
    FetchBodyRead {
      stream: u64,
    },
    FetchBodyCancel {
      stream: u64,
    },
    /// An `<iframe>` navigates to `url`.
    OpenFrame {
      url: String,
      #[serde(default)]
      kind: super::navigation::NavigationType,
      /// A form's POST (HTML, "form submission").
      #[serde(default)]
      post: Option<super::navigation::FormPost>,
    },
    /// The calling frame navigates itself (`location.reload()`,
    /// `location.href = url`, or `history.go(delta)`).
    NavigateFrame {
      url: String,
      reload: bool,
      delta: Option<i64>,
      #[serde(default)]
      post: Option<super::navigation::FormPost>,
    },
    /// The `<iframe>` of the client `id` left the document.
    CloseFrame {
      id: String,
    },
    /// `window.focus()` (no `id`), or an `<iframe>`'s `focus()`: the
    /// document of the client `id`, a frame of the caller's.
    Focus {
      id: Option<String>,
    },
    /// An operation on an object of the client `client` (a frame or the
    /// parent), through a proxy.
    FrameOp {
      client: String,
      op: Value,
    },
    /// A promise handed to the client `client` settled.
    FrameSettle {
      client: String,
      promise: u64,
      ok: bool,
      value: Value,
    },
  }
}

/// Service Workers, importScripts(urls) of a service worker: a worker that
/// is being installed takes the script from what its update check fetched
/// (a failure there fails here too), or else fetches it, and keeps it in
/// its script resource map; an installed one imports what the map kept
/// (so an update can compare them). A URL the map lacks is fetched
/// (Chromium throws NetworkError there; a worker from an older state
/// directory has no map).
async fn import_script(
  browser: &Browser,
  version: Option<super::VersionId>,
  url: &Url,
) -> Result<String, HostError> {
  let (kept, installing, prefetched) = super::with(browser, |s| {
    let v = version.and_then(|v| s.registry.versions.get(&v));
    let prefetched = v.and_then(|v| {
      v.update_fetched
        .iter()
        .find(|(u, _)| u == url.as_str())
        .map(|(_, r)| r.clone())
    });
    let kept = v.and_then(|v| {
      v.imported
        .iter()
        .find(|(u, _)| u == url.as_str())
        .map(|(_, src)| src.clone())
    });
    let installing = v.is_some_and(|v| {
      matches!(
        v.state,
        super::WorkerState::Parsed | super::WorkerState::Installing
      )
    });
    (kept, installing, prefetched)
  });
  if let (Some(source), false) = (&kept, installing) {
    return Ok(source.clone());
  }
  let source = match prefetched.filter(|_| installing) {
    Some(fetched) => fetched?,
    None => browser.opts().net.fetch_script(url).await?,
  };
  if installing {
    super::with(browser, |s| {
      if let Some(v) = version.and_then(|v| s.registry.versions.get_mut(&v)) {
        match v.imported.iter_mut().find(|(u, _)| u == url.as_str()) {
          Some(entry) => entry.1 = source.clone(),
          None => v.imported.push((url.to_string(), source.clone())),
        }
      }
    });
  }
  Ok(source)
}

fn worker_of(browser: &Browser, realm: RealmId) -> Result<super::VersionId, HostError> {
  worker::version_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a service worker can do this"))
}

pub(super) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  let call = decode_call::<Call>("serviceWorker", method, args)?;
  let here = browser
    .realm_url(realm)
    .ok_or_else(|| HostError::invalid_state("unknown realm"))?;
  match call {
    Call::Register { script_url, scope } => {
      // `ServiceWorkerContainer.register(scriptURL, options)`, steps 3-6: parse
      // the URLs and "Start Register" (see `lifecycle`).
      let (script_url, scope) =
        lifecycle::resolve_register_args(&here, &script_url, scope.as_deref())?;
      let outcome = lifecycle::register(browser, script_url, scope).await?;
      Ok(outcome.snapshot)
    }
    Call::Update { scope } => {
      // `ServiceWorkerRegistration.update()`, steps 2-3 (no newest worker: an
      // InvalidStateError) and 6-8 (an update job for the newest worker's script
      // URL). Step 4 (called by an installing worker) is not checked.
      let newest = super::with(browser, |s| s.registry.newest(&scope).is_some());
      if !newest {
        return Err(HostError::invalid_state("The registration is gone"));
      }
      Ok(lifecycle::update(browser, scope).await?.snapshot)
    }
    // `getRegistration(clientURL)`: steps 3-4 (parse; failure is a TypeError),
    // 6 (another origin is a SecurityError) and 8.1-8.3 ("Match Service Worker
    // Registration", or undefined).
    Call::GetRegistration { url } => {
      let url = here
        .join(&url)
        .map_err(|_| HostError::type_error("Invalid URL"))?;
      if url.origin() != here.origin() {
        return Err(HostError::new(
          "SecurityError",
          "The URL must be same-origin",
        ));
      }
      Ok(super::with(browser, |s| {
        s.registry
          .match_scope(&url)
          .map(|r| s.registry.snapshot(&r.scope))
          .unwrap_or(Value::Null)
      }))
    }
    // `getRegistrations()`, step 4.2: the registrations of the caller's origin
    // (the spec: storage key).
    Call::GetRegistrations {} => Ok(super::with(browser, |s| {
      Value::Array(
        s.registry
          .regs
          .values()
          .filter(|r| Url::parse(&r.scope).is_ok_and(|u| u.origin() == here.origin()))
          .map(|r| s.registry.snapshot(&r.scope))
          .collect(),
      )
    })),
    // The `ready` getter, step 3.
    Call::Ready {} => lifecycle::ready(browser, here)
      .await
      .unwrap_or_else(|_| Err(HostError::invalid_state("shut down"))),
    // `ServiceWorkerRegistration.unregister()`: an unregister job.
    Call::Unregister { scope } => Ok(json!(lifecycle::unregister_job(browser, &scope).await)),
    // `ServiceWorkerGlobalScope.skipWaiting()`.
    Call::SkipWaiting {} => {
      let v = worker_of(browser, realm)?;
      lifecycle::skip_waiting(browser, v).await;
      Ok(Value::Null)
    }
    // `importScripts(urls)` ("import scripts into worker global scope"):
    // every call fetches; the script resource map of the spec's steps is not
    // kept, so a worker past "installing" fetches from the network too.
    Call::ImportScripts { urls } => {
      let version = worker::version_of(browser, realm);
      crate::platform::net::import_scripts(&here, urls, |url| async move {
        import_script(browser, version, &url).await
      })
      .await
    }
    // `ServiceWorker.postMessage(message, options)`: a `message` event (an
    // ExtendableMessageEvent) in the worker, with the sender as its source.
    Call::PostMessageToWorker {
      worker_id: target,
      data,
    } => {
      let source = match clients::client_of(browser, realm) {
        Some(id) => json!({"client": clients::get(browser, &id)}),
        None => {
          let me = worker::version_of(browser, realm);
          json!({"worker": super::with(browser, |s| s.registry.worker_snapshot(me))})
        }
      };
      browser.trace("message", json!({"to": "worker", "worker": target}));
      let b = browser.clone();
      let payload =
        json!({"data": data, "origin": here.origin().ascii_serialization(), "source": source});
      let guard = browser.busy();
      tokio::spawn(async move {
        if let Err(e) = worker::dispatch_event(&b, target, "message", payload).await {
          b.trace("message-dropped", json!({"worker": target, "error": e}));
        }
        drop(guard);
      });
      Ok(Value::Null)
    }
    // `Client.postMessage(message, options)`.
    Call::PostMessageToClient { client_id, data } => {
      let v = worker_of(browser, realm)?;
      clients::post_to_client(browser, v, &client_id, data)
    }
    Call::ClientsMatchAll {
      include_uncontrolled,
      client_type,
    } => {
      let v = worker_of(browser, realm)?;
      Ok(clients::match_all(
        browser,
        v,
        include_uncontrolled,
        &client_type,
      ))
    }
    // `Clients.get(id)`.
    Call::ClientsGet { id } => Ok(clients::get(browser, &id)),
    // `Clients.openWindow(url)`.
    Call::ClientsOpenWindow { url } => {
      let v = worker_of(browser, realm)?;
      clients::open_window(browser, v, &url).await
    }
    // `Clients.claim()`.
    Call::ClientsNavigate { id, url } => {
      let v = worker_of(browser, realm)?;
      clients::navigate(browser, v, &id, &url).await
    }
    Call::NavigationPreloadSet {
      scope,
      enabled,
      header_value,
    } => super::lifecycle::set_navigation_preload(browser, &scope, enabled, header_value),
    Call::NavigationPreloadState { scope } => super::with(browser, |s| {
      let r = s
        .registry
        .regs
        .get(&scope)
        .ok_or_else(|| HostError::invalid_state("The registration is gone"))?;
      Ok(json!(r.preload))
    }),
    Call::AddRoutes { rules } => {
      let v = worker_of(browser, realm)?;
      super::with(browser, |s| {
        let version = s
          .registry
          .versions
          .get_mut(&v)
          .ok_or_else(|| HostError::invalid_state("the worker is gone"))?;
        if version.state != super::WorkerState::Installing {
          return Err(HostError::type_error(
            "addRoutes() is only allowed while the worker installs.",
          ));
        }
        let base = version.script_url.clone();
        version.routes.add(rules, &base)?;
        Ok(Value::Null)
      })
    }
    Call::ClientsClaim {} => {
      let v = worker_of(browser, realm)?;
      clients::claim(browser, v)
    }
    // HTML, a `<meta http-equiv="Content-Security-Policy">`: the policy is
    // enforced on the document's fetches (CSP).
    Call::HandleFetch { request, race } => {
      fetch_event::handle_fetch(browser, realm, &request, race).await
    }
    Call::FetchBodyRead { stream } => fetch_event::read_body(browser, realm, stream).await,
    Call::FetchBodyCancel { stream } => fetch_event::cancel_body(browser, realm, stream),
    Call::OpenFrame { url, kind, post } => {
      frames::open(browser, realm, &url, kind, post.as_ref()).await
    }
    Call::NavigateFrame {
      url,
      reload,
      delta,
      post,
    } => frames::navigate_self(browser, realm, &url, reload, delta, post),
    Call::Focus { id } => super::focus::focus(browser, realm, id.as_deref()),
    Call::CloseFrame { id } => {
      frames::close(browser, realm, &id);
      Ok(Value::Null)
    }
    Call::FrameOp { client, op } => frames::operate(browser, realm, &client, &op).await,
    Call::FrameSettle {
      client,
      promise,
      ok,
      value,
    } => {
      frames::settle(browser, realm, &client, promise, ok, &value);
      Ok(Value::Null)
    }
    Call::SetContentSecurityPolicy { policy } => {
      let client = clients::client_of(browser, realm)
        .ok_or_else(|| HostError::invalid_state("only a window has a document"))?;
      super::with(browser, |s| {
        if let Some(c) = s.clients.get_mut(&client) {
          c.csp.push(policy);
        }
      });
      Ok(Value::Null)
    }
  }
}
