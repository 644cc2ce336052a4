//! Static routing (Service Workers, "static routing API":
//! `InstallEvent.addRoutes()`): rules a worker adds while it installs
//! decide, before any fetch event, where a request of its clients goes:
//! to the network, to Cache Storage, or to the fetch event. The browser
//! matches them, so a "network" route never starts the worker.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::platform::ipc::HostError;

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

/// A worker's static routes, with their URL patterns compiled once (when
/// they are added or loaded), not at each request.
#[derive(Default)]
pub struct Router {
  rules: Vec<Route>,
  patterns: HashMap<String, urlpattern::UrlPattern>,
}

impl Router {
  /// Adds rules as `addRoutes()` does: each condition names at least one
  /// thing, `or` stands alone, patterns parse (a TypeError otherwise, and
  /// then none of the rules is added).
  pub fn add(&mut self, rules: Vec<Route>, base: &Url) -> Result<(), HostError> {
    let mut patterns = HashMap::new();
    for rule in &rules {
      check_condition(&rule.condition, base, &mut patterns)?;
    }
    self.rules.extend(rules);
    self.patterns.extend(patterns);
    Ok(())
  }

  /// The routes kept with a registration (none if they do not parse).
  pub fn load(json: &str, base: &Url) -> Router {
    let mut router = Router::default();
    let rules = serde_json::from_str(json).unwrap_or_default();
    if router.add(rules, base).is_err() {
      return Router::default();
    }
    router
  }

  /// The routes, to keep with the registration.
  pub fn to_json(&self) -> String {
    serde_json::to_string(&self.rules).unwrap_or_else(|_| "[]".into())
  }

  pub fn is_empty(&self) -> bool {
    self.rules.is_empty()
  }

  /// The source of the first route whose condition the request meets
  /// ("Get Router Source").
  pub fn find(&self, r: &Request) -> Option<&Source> {
    self
      .rules
      .iter()
      .find(|route| self.matches(&route.condition, r))
      .map(|route| &route.source)
  }

  fn matches(&self, c: &Condition, r: &Request) -> bool {
    if let Some(any) = &c.or {
      return any.iter().any(|sub| self.matches(sub, r));
    }
    if let Some(p) = &c.url_pattern {
      let hit = self.patterns.get(p).is_some_and(|p| {
        p.test(urlpattern::UrlPatternMatchInput::Url(r.url.clone()))
          .unwrap_or(false)
      });
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
      if self.matches(n, r) {
        return false;
      }
    }
    true
  }
}

fn check_condition(
  c: &Condition,
  base: &Url,
  patterns: &mut HashMap<String, urlpattern::UrlPattern>,
) -> Result<(), HostError> {
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
    if !patterns.contains_key(p) {
      patterns.insert(p.clone(), pattern(p, base)?);
    }
  }
  if let Some(s) = &c.running_status {
    if s != "running" && s != "not-running" {
      return Err(HostError::type_error(format!(
        "Invalid runningStatus '{s}'"
      )));
    }
  }
  for sub in c.or.iter().flatten() {
    check_condition(sub, base, patterns)?;
  }
  if let Some(n) = &c.not {
    check_condition(n, base, patterns)?;
  }
  Ok(())
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
    let mut router = Router::default();
    router.add(routes, &base).unwrap();
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
      assert_eq!(router.find(&r).cloned(), want, "{u}");
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
      let err = Router::default().add(vec![route], &base).unwrap_err();
      assert_eq!(err.name, "TypeError", "{bad}");
    }
    assert!(serde_json::from_value::<Route>(
      json!({"condition": {"urlPattern": "/x"}, "source": "nowhere"})
    )
    .is_err());
  }
}
