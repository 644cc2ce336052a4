//! The CORS protocol for Background Fetch downloads (and, through ops, for
//! a realm's own `fetch()`: `js/net/04_cors.js`), as Fetch runs it for
//! a request in `cors` mode: cross-origin requests carry `Origin`, those
//! that are not "simple" are preflighted with `OPTIONS`, and a response is
//! only kept if the server allows the origin. A failed check is a network
//! error: nothing of the response is stored.
//!
//! Spec: Fetch, "CORS protocol": "CORS check", "CORS-preflight fetch" and
//! the request-header definitions (<https://fetch.spec.whatwg.org/>).

use url::Url;

/// Whether `url` is cross-origin to the serialized origin `origin`.
pub fn is_cross_origin(origin: &str, url: &Url) -> bool {
  url.origin().ascii_serialization() != origin
}

/// Fetch's "CORS-safelisted method".
fn is_simple_method(method: &str) -> bool {
  matches!(method, "GET" | "HEAD" | "POST")
}

/// Fetch's CORS-safelisted request headers (the common cases).
/// (Fetch's "CORS-safelisted request-header": a value longer than 128 bytes
/// is not; `Content-Type` must be one of three MIME type essences.)
fn is_safelisted_header(name: &str, value: &str) -> bool {
  if value.len() > 128 {
    return false;
  }
  match name.to_ascii_lowercase().as_str() {
    "accept" | "accept-language" | "content-language" => true,
    "content-type" => {
      let essence = super::mime_essence(value);
      matches!(
        essence.as_str(),
        "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
      )
    }
    "range" => value.starts_with("bytes=") && !value.contains(','),
    _ => false,
  }
}

/// The request's non-safelisted header names (lowercase, sorted), and
/// whether a preflight is needed.
/// Fetch's "CORS-unsafe request-header names" (sorted, lowercase), and the
/// condition of "HTTP fetch", step 4.1 (there is no preflight cache here).
pub fn preflight_needed(method: &str, headers: &[(String, String)]) -> (bool, Vec<String>) {
  let mut names: Vec<String> = headers
    .iter()
    .filter(|(k, v)| !is_safelisted_header(k, v))
    .map(|(k, _)| k.to_ascii_lowercase())
    .collect();
  names.sort();
  names.dedup();
  (!is_simple_method(method) || !names.is_empty(), names)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
  headers
    .iter()
    .find(|(k, _)| k.eq_ignore_ascii_case(name))
    .map(|(_, v)| v.trim())
}

fn list(headers: &[(String, String)], name: &str) -> Vec<String> {
  header(headers, name)
    .unwrap_or("")
    .split(',')
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
    .collect()
}

/// Fetch's "CORS check" of a response (preflight or actual).
pub fn check_response(
  origin: &str,
  headers: &[(String, String)],
  credentials: bool,
) -> Result<(), String> {
  // Steps 1-2: no `Access-Control-Allow-Origin` is a failure.
  let allowed = header(headers, "access-control-allow-origin")
    .ok_or_else(|| "no Access-Control-Allow-Origin header".to_string())?;
  // Step 3: `*` when credentials mode is not "include".
  if allowed == "*" && !credentials {
    return Ok(());
  }
  // Step 4: otherwise it must be the request's origin, serialized.
  if allowed != origin {
    return Err(format!(
      "Access-Control-Allow-Origin '{allowed}' does not allow the origin '{origin}'"
    ));
  }
  // Steps 5-8: with credentials mode "include", only
  // `Access-Control-Allow-Credentials: true` passes.
  if credentials && header(headers, "access-control-allow-credentials") != Some("true") {
    return Err("credentials are not allowed (Access-Control-Allow-Credentials)".into());
  }
  Ok(())
}

/// Checks a preflight's response for `method` and the header names.
/// Fetch, "CORS-preflight fetch", steps 7-8.
pub fn check_preflight(
  origin: &str,
  status: u16,
  headers: &[(String, String)],
  method: &str,
  header_names: &[String],
  credentials: bool,
) -> Result<(), String> {
  // Step 7: the CORS check passes and the status is an ok status; else step 8,
  // a network error.
  if !(200..300).contains(&status) {
    return Err(format!("the preflight answered with status {status}"));
  }
  check_response(origin, headers, credentials)?;
  // Steps 7.1-7.2: the allowed methods and header names (7.3, a header that
  // does not parse, is not checked).
  let methods = list(headers, "access-control-allow-methods");
  let any = |l: &[String]| !credentials && l.iter().any(|m| m == "*");
  // Step 7.5: a method that is not CORS-safelisted must be listed, or `*`
  // without credentials. (Step 7.4, the use-CORS-preflight flag, has no use
  // here.)
  if !is_simple_method(method) && !any(&methods) && !methods.iter().any(|m| m == method) {
    return Err(format!(
      "the method {method} is not allowed by the preflight"
    ));
  }
  let allowed: Vec<String> = list(headers, "access-control-allow-headers")
    .into_iter()
    .map(|h| h.to_ascii_lowercase())
    .collect();
  // Step 7.7: each CORS-unsafe request-header name must be listed, or `*`
  // without credentials. Differs: step 7.6 (`Authorization` is not covered
  // by `*`) is not applied.
  for name in header_names {
    if !any(&allowed) && !allowed.contains(name) {
      return Err(format!(
        "the header '{name}' is not allowed by the preflight"
      ));
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  fn h(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list
      .iter()
      .map(|(k, v)| (k.to_string(), v.to_string()))
      .collect()
  }

  #[test]
  fn simple_requests_need_no_preflight() {
    assert_eq!(preflight_needed("GET", &[]), (false, vec![]));
    assert!(!preflight_needed("POST", &h(&[("Content-Type", "text/plain;charset=utf-8")])).0);
    let (needed, names) = preflight_needed("POST", &h(&[("Content-Type", "text/json")]));
    assert!(needed);
    assert_eq!(names, vec!["content-type"]);
    assert!(preflight_needed("PUT", &[]).0);
    assert_eq!(
      preflight_needed("GET", &h(&[("X-B", "1"), ("x-a", "2")])).1,
      vec!["x-a", "x-b"]
    );
  }

  #[test]
  fn response_checks() {
    let o = "https://a.test";
    assert!(check_response(o, &h(&[]), false).is_err());
    assert!(check_response(o, &h(&[("Access-Control-Allow-Origin", "*")]), false).is_ok());
    assert!(check_response(o, &h(&[("Access-Control-Allow-Origin", "*")]), true).is_err());
    assert!(check_response(o, &h(&[("access-control-allow-origin", o)]), false).is_ok());
    assert!(check_response(
      o,
      &h(&[("access-control-allow-origin", "https://b.test")]),
      false
    )
    .is_err());
    let cred = h(&[
      ("access-control-allow-origin", o),
      ("access-control-allow-credentials", "true"),
    ]);
    assert!(check_response(o, &cred, true).is_ok());
  }

  #[test]
  fn preflight_checks() {
    let o = "https://a.test";
    let ok = h(&[
      ("Access-Control-Allow-Origin", "*"),
      ("Access-Control-Allow-Methods", "PUT, DELETE"),
      ("Access-Control-Allow-Headers", "Content-Type"),
    ]);
    let names = vec!["content-type".to_string()];
    assert!(check_preflight(o, 200, &ok, "PUT", &names, false).is_ok());
    assert!(check_preflight(o, 200, &ok, "PATCH", &names, false).is_err());
    assert!(check_preflight(o, 404, &ok, "PUT", &names, false).is_err());
    assert!(check_preflight(o, 200, &ok, "PUT", &["x-y".into()], false).is_err());
    let star = h(&[
      ("Access-Control-Allow-Origin", "*"),
      ("Access-Control-Allow-Methods", "*"),
      ("Access-Control-Allow-Headers", "*"),
    ]);
    assert!(check_preflight(o, 204, &star, "PATCH", &["x-y".into()], false).is_ok());
  }
}
