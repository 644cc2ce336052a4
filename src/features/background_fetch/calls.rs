//! What the realms ask of Background Fetch (`backgroundFetch.*`), decoded
//! once into [`Call`]. The JavaScript side (`js/background_fetch/`) has
//! already validated the arguments as WebIDL does; what is checked here is
//! what only the browser knows (permission, active worker, policy, quota).
//!
//! Step numbers are those of the Background Fetch spec's method steps: the
//! browser runs fetch()'s step 8 ("enqueue the following steps to the active
//! background fetches edit queue"); `js/background_fetch/` runs the rest.

use serde_json::{json, Value};

use super::context::stamped;
use super::{BgFetchError, NewFetch, RecordState, RequestSpec};
use crate::features::service_worker;
use crate::platform::browser::{Browser, PermissionState};
use crate::platform::ipc::{decode_call, HostError, HostResult, RealmId};

crate::platform::ipc::realm_calls! {
  enum Call {
    /// `BackgroundFetchManager.fetch(id, requests, options)`.
    Fetch {
      scope: String,
      id: String,
      requests: Vec<RequestSpec>,
      title: String,
      icons: Value,
      /// WebIDL `unsigned long long`: past 2^53 it arrives as a float.
      download_total: f64,
      /// Whether the caller's registration object shows an active worker.
      active: bool,
    },
    Get {
      scope: String,
      id: String,
    },
    GetIds {
      scope: String,
    },
    Abort {
      uid: String,
    },
    /// The realm ran the task fetch() resolved in: the downloads begin.
    Begin {
      uid: String,
    },
    /// `match()`/`matchAll()`: the records that match a query.
    Records {
      uid: String,
      url: Option<String>,
      method: Option<String>,
      headers: Vec<(String, String)>,
      ignore_search: bool,
      ignore_method: bool,
      ignore_vary: bool,
    },
    RecordResponse {
      uid: String,
      index: usize,
    },
    #[serde(rename = "updateUI")]
    UpdateUi {
      uid: String,
      title: Option<String>,
      icons: Option<Value>,
    },
    /// The simulated download UI (`swharness.*`): the user clicks it,
    /// cancels the fetch, and what it shows.
    Click {
      id: String,
    },
    Cancel {
      id: String,
    },
    UiState {
      id: String,
    },
  }
}

fn to_host_error(e: BgFetchError) -> HostError {
  match e {
    BgFetchError::TypeError(m) => HostError::type_error(m),
    BgFetchError::QuotaExceeded { .. } => HostError::new("QuotaExceededError", e.to_string()),
    BgFetchError::Storage(m) => HostError::new("UnknownError", m),
  }
}

pub(super) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  let call = decode_call::<Call>("backgroundFetch", method, args)?;
  let svc = super::service(browser)?;
  match call {
    Call::Fetch {
      scope,
      id,
      mut requests,
      title,
      icons,
      download_total,
      active,
    } => {
      // Background Fetch, "fetch(id, requests, options)" method steps.
      // Steps 8.1-8.2: a "denied" permission rejects with a NotAllowedError
      // (Chromium: a TypeError). Differs: "prompt" is refused here too; the spec
      // lets the UA pause the fetch and ask (see "display").
      match browser.permission("background-fetch") {
        PermissionState::Granted => {}
        _ if browser.opts().chromium => {
          return Err(HostError::type_error(
            "Background Fetch permission was not granted",
          ))
        }
        _ => {
          return Err(HostError::new(
            "NotAllowedError",
            "Background Fetch permission was not granted",
          ))
        }
      }
      // The caller's registration object may not show the active worker
      // yet (it activates while the call is on its way): its view counts.
      // Step 8.4: no active worker rejects with a TypeError.
      if service_worker::active_version(browser, &scope).is_none() || !active {
        return Err(HostError::type_error(
          "No active registration available on the ServiceWorkerRegistration.",
        ));
      }
      // (Fetch, "main fetch", step 7, decided now for each request.)
      apply_request_policy(browser, realm, &mut requests)?;
      // Saturate what does not fit (a negative or NaN total is 0).
      // Steps 8.5, 8.8-8.9, 8.12-8.13 and 8.16 in `start`.
      let download_total = download_total.max(0.0) as u64;
      let state = svc
        .start(
          NewFetch {
            scope: &scope,
            id: &id,
            requests,
            title,
            icons,
            download_total,
          },
          Some(realm),
        )
        .map_err(to_host_error)?;
      browser.trace(
        "bgfetch-start",
        json!({"id": state.id, "scope": scope, "realm": realm}),
      );
      // Step 8.15: in parallel, "display" the background fetch.
      super::ui::show(browser, &state);
      // Step 8.14: the realm resolves with "get a BackgroundFetchRegistration
      // instance".
      Ok(stamped(&state))
    }
    // "get(id)", steps 2-3 (4: the realm gets the instance).
    Call::Get { scope, id } => Ok(
      svc
        .active(&scope, &id)
        .map(|s| stamped(&s))
        .unwrap_or(Value::Null),
    ),
    // "getIds()", step 2.
    Call::GetIds { scope } => Ok(json!(svc.get_ids(&scope))),
    // "abort()", step 3.
    Call::Abort { uid } => Ok(json!(svc.abort(&uid))),
    Call::Begin { uid } => {
      svc.begin(&uid);
      Ok(Value::Null)
    }
    Call::Records {
      uid,
      url,
      method,
      headers,
      ignore_search,
      ignore_method,
      ignore_vary,
    } => {
      // Background Fetch, "match(request, options)" and "matchAll": the
      // records that "request matches cached item" (Service Workers).
      // "matchAll(request, options)", step 3.2: the records for which "request
      // matches cached item" (Service Workers) returns true. Its steps 2-5 (the
      // URLs, `ignoreSearch`, without fragments) are the first filter, step 1 (the
      // record's method is `GET` unless `ignoreMethod`) the second, where a record
      // also matches a query of its own method, and steps 6-8 (`Vary`) the third.
      let method = method.as_deref().unwrap_or("GET");
      let strip = |u: &str| u.split(['?', '#']).next().unwrap_or("").to_string();
      let list: Vec<Value> = svc
        .records(&uid)
        .into_iter()
        .filter(|r| match &url {
          None => true,
          Some(u) if ignore_search => strip(u) == strip(&r.request.url),
          Some(u) => u.split('#').next() == r.request.url.split('#').next(),
        })
        .filter(|r| {
          url.is_none()
            || ignore_method
            || (method == "GET" && r.request.method == "GET")
            || r.request.method == method
        })
        .filter(|r| url.is_none() || ignore_vary || vary_matches(r, &headers))
        .map(|r| json!(r))
        .collect();
      Ok(Value::Array(list))
    }
    // "Create record objects", step 2.8: the record's responseReady.
    Call::RecordResponse { uid, index } => match svc.record_response(&uid, index).await {
      Ok(meta) => Ok(json!(meta)),
      // Fetch rejects with a TypeError for a network error; an aborted
      // fetch's unfinished records with an AbortError.
      Err(kind) if kind == "aborted" => Err(HostError::new(
        "AbortError",
        "The background fetch was aborted before the response arrived.",
      )),
      Err(_) => Err(HostError::type_error(
        "The record's request failed with a network error.",
      )),
    },
    Call::UpdateUi { uid, title, icons } => {
      // "updateUI(options)", steps 4-6, and the UI shows the new title and icons.
      svc.update_ui(&uid, title, icons.filter(|i| !i.is_null()));
      if let Some(st) = svc.state(&uid) {
        browser.record_ui_action(
          json!({"action": "updateUI", "id": st.id, "title": st.title, "icons": st.icons}),
        );
        super::ui::show(browser, &st);
      }
      Ok(Value::Null)
    }
    // "Display": the user activates the UI, or aborts the fetch through it.
    Call::Click { id } => super::ui::user_click(browser, realm, &id).await,
    Call::Cancel { id } => super::ui::user_cancel(browser, realm, &id),
    Call::UiState { id } => super::ui::ui_state(browser, realm, &id),
  }
}

/// Stamps each request with its caller's origin, and marks the requests
/// that mixed content or the page's CSP block (network errors later, as in
/// Fetch; with `--chromium`, a TypeError from fetch() now).
/// Fetch, "main fetch", step 7: "should fetching request be blocked as
/// mixed content?" (Mixed Content) and "should request be blocked by Content
/// Security Policy?" (CSP).
fn apply_request_policy(
  browser: &Browser,
  realm: RealmId,
  requests: &mut [RequestSpec],
) -> Result<(), HostError> {
  let Some(caller) = browser.realm_url(realm) else {
    return Ok(());
  };
  let csp = service_worker::clients::csp_of(browser, realm);
  for r in requests.iter_mut() {
    r.origin = caller.origin().ascii_serialization();
    r.client_url = caller.to_string();
    r.csp = csp.clone();
    r.blocked = url::Url::parse(&r.url)
      .ok()
      .and_then(|target| crate::platform::net::policy::blocked_reason(&caller, &csp, &target));
    if let Some(reason) = &r.blocked {
      browser.trace("bgfetch-blocked", json!({"url": r.url, "reason": reason}));
      if browser.opts().chromium {
        return Err(HostError::type_error(reason.clone()));
      }
    }
  }
  Ok(())
}

/// The `Vary` step of "request matches cached item": every header the
/// record's response varies on has the same value in the query and in the
/// record's request; `Vary: *` never matches. A record without a response
/// (or without `Vary`) matches.
/// (Service Workers, "Request Matches Cached Item", steps 6-8.)
fn vary_matches(record: &RecordState, query: &[(String, String)]) -> bool {
  let Some(response) = &record.response else {
    return true;
  };
  let value = |headers: &[(String, String)], name: &str| -> Option<String> {
    let values: Vec<&str> = headers
      .iter()
      .filter(|(k, _)| k.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
      .collect();
    (!values.is_empty()).then(|| values.join(", "))
  };
  let vary: Vec<String> = response
    .headers
    .iter()
    .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
    .flat_map(|(_, v)| v.split(',').map(|f| f.trim().to_string()))
    .filter(|f| !f.is_empty())
    .collect();
  vary
    .iter()
    .all(|f| f != "*" && value(&record.request.headers, f) == value(query, f))
}
