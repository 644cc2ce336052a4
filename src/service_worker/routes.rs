//! Static routing (Service Workers, "static routing API":
//! `InstallEvent.addRoutes()`): rules a worker adds while it installs
//! decide, before any fetch event, where a request of its clients goes:
//! to the network, to Cache Storage, or to the fetch event. The browser
//! matches them, so a "network" route never starts the worker.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::ipc::HostError;

/// A rule's condition, as the worker gave it (checked by `compile`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
  /// A URL pattern string, relative to the worker's script URL.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub url_pattern: Option<String>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub request_method: Option<String>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub request_mode: Option<String>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub request_destination: Option<String>,
  /// "running" or "not-running": the worker's state when the request
  /// comes.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub running_status: Option<String>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub or: Option<Vec<Condition>>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub not: Option<Box<Condition>>,
}

/// Where a matched request goes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
  Network,
  Cache,
  FetchEvent,
  RaceNetworkAndFetchHandler,
  /// Cache Storage, in the named cache only.
  #[serde(rename = "cacheName")]
  CacheName(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Route {
  pub condition: Condition,
  pub source: Source,
}

/// What the router needs of a request.
pub struct Request<'a> {
  pub url: &'a Url,
  pub method: &'a str,
  pub mode: &'a str,
  pub destination: &'a str,
  pub running: bool,
}

fn pattern(p: &str, base: &Url) -> Result<urlpattern::UrlPattern, HostError> {
  let bad = |e: urlpattern::Error| HostError::type_error(format!("Invalid urlPattern '{p}': {e}"));
  let init =
    urlpattern::UrlPatternInit::parse_constructor_string::<regex::Regex>(p, Some(base.clone()))
      .map_err(bad)?;
  urlpattern::UrlPattern::parse(init, Default::default()).map_err(bad)
}

/// Checks a rule as `addRoutes()` does: a condition names at least one
/// thing, `or` stands alone, patterns parse (TypeError otherwise).
pub fn check(route: &Route, base: &Url) -> Result<(), HostError> {
  check_condition(&route.condition, base)
}

fn check_condition(c: &Condition, base: &Url) -> Result<(), HostError> {
  let others = c.url_pattern.is_some()
    || c.request_method.is_some()
    || c.request_mode.is_some()
    || c.request_destination.is_some()
    || c.running_status.is_some()
    || c.not.is_some();
  if c.or.is_some() && others {
    return Err(HostError::type_error(
      "A condition with 'or' cannot have other members.",
    ));
  }
  if c.or.is_none() && !others {
    return Err(HostError::type_error(
      "A condition must have at least one member.",
    ));
  }
  if let Some(p) = &c.url_pattern {
    pattern(p, base)?;
  }
  if let Some(s) = &c.running_status {
    if s != "running" && s != "not-running" {
      return Err(HostError::type_error(format!(
        "Invalid runningStatus '{s}'"
      )));
    }
  }
  for sub in c.or.iter().flatten() {
    check_condition(sub, base)?;
  }
  if let Some(n) = &c.not {
    check_condition(n, base)?;
  }
  Ok(())
}

fn matches(c: &Condition, r: &Request, base: &Url) -> bool {
  if let Some(any) = &c.or {
    return any.iter().any(|sub| matches(sub, r, base));
  }
  if let Some(p) = &c.url_pattern {
    let hit = pattern(p, base)
      .ok()
      .and_then(|p| {
        p.test(urlpattern::UrlPatternMatchInput::Url(r.url.clone()))
          .ok()
      })
      .unwrap_or(false);
    if !hit {
      return false;
    }
  }
  if c
    .request_method
    .as_deref()
    .is_some_and(|m| !m.eq_ignore_ascii_case(r.method))
  {
    return false;
  }
  if c.request_mode.as_deref().is_some_and(|m| m != r.mode) {
    return false;
  }
  if c
    .request_destination
    .as_deref()
    .is_some_and(|d| d != r.destination)
  {
    return false;
  }
  if let Some(s) = &c.running_status {
    if (s == "running") != r.running {
      return false;
    }
  }
  if let Some(n) = &c.not {
    if matches(n, r, base) {
      return false;
    }
  }
  true
}

/// The source of the first route whose condition the request meets
/// ("Get Router Source").
pub fn find<'a>(routes: &'a [Route], r: &Request, base: &Url) -> Option<&'a Source> {
  routes
    .iter()
    .find(|route| matches(&route.condition, r, base))
    .map(|route| &route.source)
}

/// The routes from their stored JSON (none if it does not parse).
pub fn from_json(v: &Value) -> Vec<Route> {
  serde_json::from_value(v.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn the_first_matching_route_decides() {
    let base = Url::parse("https://a.test/app/sw.js").unwrap();
    let routes: Vec<Route> = serde_json::from_value(json!([
      {"condition": {"urlPattern": "/app/api/*", "requestMethod": "GET"}, "source": "network"},
      {"condition": {"or": [{"requestDestination": "document"}, {"urlPattern": "*.css"}]},
       "source": {"cacheName": "pages"}},
      {"condition": {"not": {"runningStatus": "running"}}, "source": "fetch-event"},
    ]))
    .unwrap();
    for r in &routes {
      check(r, &base).unwrap();
    }
    let url = |s: &str| Url::parse(s).unwrap();
    let req = |u: &'static str, method: &'static str, dest: &'static str, running: bool| {
      (u, method, dest, running)
    };
    let cases = [
      (
        req("https://a.test/app/api/x", "GET", "", true),
        Some(Source::Network),
      ),
      (req("https://a.test/app/api/x", "POST", "", true), None),
      (
        req("https://a.test/app/page", "GET", "document", true),
        Some(Source::CacheName("pages".into())),
      ),
      (
        req("https://a.test/app/a.css", "GET", "", true),
        Some(Source::CacheName("pages".into())),
      ),
      (
        req("https://a.test/app/other", "GET", "", false),
        Some(Source::FetchEvent),
      ),
    ];
    for ((u, method, dest, running), want) in cases {
      let u = url(u);
      let r = Request {
        url: &u,
        method,
        mode: "cors",
        destination: dest,
        running,
      };
      assert_eq!(find(&routes, &r, &base).cloned(), want, "{u}");
    }
  }

  #[test]
  fn bad_rules_are_type_errors() {
    let base = Url::parse("https://a.test/sw.js").unwrap();
    for bad in [
      json!({"condition": {}, "source": "network"}),
      json!({"condition": {"or": [], "requestMethod": "GET"}, "source": "network"}),
      json!({"condition": {"urlPattern": "https://a.test/(("}, "source": "network"}),
      json!({"condition": {"runningStatus": "maybe"}, "source": "network"}),
    ] {
      let route: Route = serde_json::from_value(bad.clone()).unwrap();
      assert_eq!(check(&route, &base).unwrap_err().name, "TypeError", "{bad}");
    }
    assert!(serde_json::from_value::<Route>(
      json!({"condition": {"urlPattern": "/x"}, "source": "nowhere"})
    )
    .is_err());
  }
}
