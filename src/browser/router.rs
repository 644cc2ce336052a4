//! Routes a realm's call to the browser-side code that answers it.

use serde_json::{json, Value};
use url::Url;

use crate::browser::{Browser, Owner, PermissionState};
use crate::ipc::{HostError, HostResult, RealmId};
use crate::service_worker::clients;
use crate::service_worker::lifecycle as sw;

/// The URL of the realm's global: the client's URL or the worker's script.
pub(crate) fn realm_url(browser: &Browser, realm: RealmId) -> Option<Url> {
  browser.with_state(|s| match s.owners.get(&realm)? {
    Owner::Client(id) => s.clients.get(id).map(|c| c.url.clone()),
    Owner::Worker(v) => s.registry.versions.get(v).map(|v| v.script_url.clone()),
  })
}

fn str_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, HostError> {
  args[name]
    .as_str()
    .ok_or_else(|| HostError::type_error(format!("missing argument '{name}'")))
}

fn worker_of(browser: &Browser, realm: RealmId) -> Result<sw::VersionId, HostError> {
  sw::version_of(browser, realm)
    .ok_or_else(|| HostError::invalid_state("only a service worker can do this"))
}

pub(crate) async fn handle(
  browser: &Browser,
  realm: RealmId,
  method: &str,
  args: Value,
) -> HostResult {
  if let Some(rest) = method.strip_prefix("bgfetch.") {
    return crate::background_fetch::context::handle(browser, realm, rest, args).await;
  }
  if let Some(rest) = method.strip_prefix("cache.") {
    return crate::storage::cache_storage::handle(browser, realm, rest, args).await;
  }
  if let Some(rest) = method.strip_prefix("control.") {
    return crate::browser::control::handle(browser, realm, rest, args).await;
  }
  if method == "bodyPath" {
    let token = str_arg(&args, "token")?;
    return crate::background_fetch::context::resolve_body_token(browser, token)
      .map(|p| json!(p.to_string_lossy()))
      .ok_or_else(|| HostError::type_error("the body is no longer available"));
  }
  let here = realm_url(browser, realm).ok_or_else(|| HostError::invalid_state("unknown realm"))?;
  match method {
    "register" => {
      let (script_url, scope) =
        sw::resolve_register_args(&here, str_arg(&args, "scriptURL")?, args["scope"].as_str())?;
      let outcome = sw::register(browser, script_url, scope).await?;
      Ok(outcome.snapshot)
    }
    "update" => {
      let scope = str_arg(&args, "scope")?.to_string();
      let script = browser.with_state(|s| {
        let r = s.registry.regs.get(&scope)?;
        let v = r.installing.or(r.waiting).or(r.active)?;
        s.registry.versions.get(&v).map(|v| v.script_url.clone())
      });
      let script = script.ok_or_else(|| HostError::invalid_state("The registration is gone"))?;
      Ok(sw::register(browser, script, scope).await?.snapshot)
    }
    "getRegistration" => {
      let url = here
        .join(args["url"].as_str().unwrap_or(""))
        .map_err(|_| HostError::type_error("Invalid URL"))?;
      if url.origin() != here.origin() {
        return Err(HostError::new(
          "SecurityError",
          "The URL must be same-origin",
        ));
      }
      Ok(browser.with_state(|s| {
        s.registry
          .match_scope(&url)
          .map(|r| s.registry.snapshot(&r.scope))
          .unwrap_or(Value::Null)
      }))
    }
    "getRegistrations" => Ok(browser.with_state(|s| {
      Value::Array(
        s.registry
          .regs
          .values()
          .filter(|r| Url::parse(&r.scope).is_ok_and(|u| u.origin() == here.origin()))
          .map(|r| s.registry.snapshot(&r.scope))
          .collect(),
      )
    })),
    "ready" => {
      let rx = sw::ready(browser, here);
      rx.await
        .unwrap_or_else(|_| Err(HostError::invalid_state("shut down")))
    }
    "unregister" => Ok(json!(sw::unregister(browser, str_arg(&args, "scope")?))),
    "skipWaiting" => {
      let v = worker_of(browser, realm)?;
      sw::skip_waiting(browser, v).await;
      Ok(Value::Null)
    }
    "fetchModule" | "fetchScript" => {
      let url = Url::parse(str_arg(&args, "url")?)
        .map_err(|_| HostError::type_error("Invalid module URL"))?;
      Ok(json!(browser.opts().net.fetch_script(&url).await?))
    }
    "pageReport" => {
      let json = str_arg(&args, "json")?.to_string();
      match &browser.opts().page_report {
        Some(tx) => {
          let _ = tx.send(json);
          Ok(Value::Null)
        }
        None => Err(HostError::invalid_state("this run collects no page report")),
      }
    }
    "setContentSecurityPolicy" => {
      let policy = str_arg(&args, "policy")?.to_string();
      let client = clients::client_of(browser, realm)
        .ok_or_else(|| HostError::invalid_state("only a window has a document"))?;
      browser.with_state(|s| {
        if let Some(c) = s.clients.get_mut(&client) {
          c.csp.push(policy);
        }
      });
      Ok(Value::Null)
    }
    "importScripts" => {
      let mut out = Vec::new();
      for u in args["urls"].as_array().cloned().unwrap_or_default() {
        let u = u.as_str().unwrap_or("");
        let url = here
          .join(u)
          .map_err(|_| HostError::new("SyntaxError", format!("Invalid URL '{u}'")))?;
        let source = browser.opts().net.fetch_script(&url).await.map_err(|e| {
          HostError::new(
            "NetworkError",
            format!("Failed to execute 'importScripts': {}", e.message),
          )
        })?;
        out.push(json!({"url": url.as_str(), "source": source}));
      }
      Ok(Value::Array(out))
    }
    "postMessageToWorker" => {
      let target: sw::VersionId = args["workerId"].as_u64().unwrap_or(0);
      let source = match clients::client_of(browser, realm) {
        Some(id) => json!({"client": clients::get(browser, &id)}),
        None => {
          json!({"worker": browser.with_state(|s| s.registry.worker_snapshot(sw::version_of(browser, realm)))})
        }
      };
      browser.trace("message", json!({"to": "worker", "worker": target}));
      let b = browser.clone();
      let payload = json!({"data": args["data"], "origin": here.origin().ascii_serialization(), "source": source});
      let guard = browser.busy();
      tokio::spawn(async move {
        if let Err(e) = sw::dispatch_event(&b, target, "message", payload).await {
          b.trace("message-dropped", json!({"worker": target, "error": e}));
        }
        drop(guard);
      });
      Ok(Value::Null)
    }
    "postMessageToClient" => {
      let v = worker_of(browser, realm)?;
      clients::post_to_client(
        browser,
        v,
        str_arg(&args, "clientId")?,
        args["data"].clone(),
      )
    }
    "clientsMatchAll" => {
      let v = worker_of(browser, realm)?;
      Ok(clients::match_all(
        browser,
        v,
        args["includeUncontrolled"] == json!(true),
      ))
    }
    "clientsGet" => Ok(clients::get(browser, str_arg(&args, "id")?)),
    "clientsOpenWindow" => {
      let v = worker_of(browser, realm)?;
      clients::open_window(browser, v, str_arg(&args, "url")?)
    }
    "clientsClaim" => {
      let v = worker_of(browser, realm)?;
      clients::claim(browser, v)
    }
    "permissionQuery" => Ok(json!(browser.permission(str_arg(&args, "name")?).as_str())),
    "setPermission" => {
      let name = str_arg(&args, "name")?.to_string();
      let state = PermissionState::parse(str_arg(&args, "state")?)
        .ok_or_else(|| HostError::type_error("state must be granted, denied or prompt"))?;
      browser.with_state(|s| s.permissions.insert(name.clone(), state));
      browser.trace("permission", json!({"name": name, "state": state.as_str()}));
      Ok(Value::Null)
    }
    _ => Err(HostError::type_error(format!(
      "unknown browser call '{method}'"
    ))),
  }
}
