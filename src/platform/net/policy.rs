//! The checks Fetch makes before a request leaves on behalf of a page, which
//! Background Fetch requests go through too: mixed content (an `https:`
//! page may not fetch from a non-trustworthy `http:` URL) and the page's
//! Content-Security-Policy `connect-src` (falling back to `default-src`).
//! A blocked request is a network error, not an exception in `fetch()`.
//!
//! These are Fetch's "main fetch", step 7: "should request be blocked due to
//! a bad port", "should fetching request be blocked as mixed content" (Mixed
//! Content) and "should request be blocked by Content Security Policy" (CSP).

use url::Url;

/// Potentially trustworthy per Secure Contexts: https/wss, loopback
/// addresses, `localhost` and its subdomains.
/// Secure Contexts, "Is url potentially trustworthy?" and "Is origin
/// potentially trustworthy?": steps 1 (an opaque origin is not), 3 (https,
/// wss), 4 (127.0.0.0/8, ::1) and 5 (localhost). Differs: `file:` (origin,
/// step 6) and `about:blank`, `data:` (url, steps 1-2) are not trustworthy here.
pub fn is_potentially_trustworthy(url: &Url) -> bool {
  match url.scheme() {
    "https" | "wss" => return true,
    "http" | "ws" => {}
    _ => return false,
  }
  match url.host() {
    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    Some(url::Host::Domain(d)) => {
      let d = d.trim_end_matches('.').to_ascii_lowercase();
      d == "localhost" || d.ends_with(".localhost")
    }
    None => false,
  }
}

/// Fetch's "bad port" list (the ports Chromium refuses too).
/// (Fetch's "bad port" list.)
pub const BAD_PORTS: &[u16] = &[
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
  103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
  512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
  6669, 6679, 6697, 10080,
];

/// Whether Fetch's "block bad port" refuses `url` (an http(s) URL with a
/// port on the list).
pub fn is_bad_port(url: &Url) -> bool {
  matches!(url.scheme(), "http" | "https") && url.port().is_some_and(|p| BAD_PORTS.contains(&p))
}

/// Why a request from `client` to `target` is blocked, if it is.
/// Mixed Content, "should fetching request be blocked as mixed content?":
/// allowed when the client does not prohibit mixed security contexts (step
/// 1.1: its origin is not potentially trustworthy) or the URL is potentially
/// trustworthy (1.2); blocked otherwise (2). Then CSP's `connect-src`.
pub fn blocked_reason(client: &Url, csp: &[String], target: &Url) -> Option<String> {
  if is_potentially_trustworthy(client) && !is_potentially_trustworthy(target) {
    return Some(format!(
      "Mixed Content: the page at '{client}' requested an insecure resource '{target}'"
    ));
  }
  csp
    .iter()
    .find_map(|policy| connect_src_violation(policy, client, target))
}

/// The directive of `policy` that blocks connecting to `target`, if any.
/// (CSP3, `connect-src`, with `default-src` as its fallback: "should request
/// be blocked by Content Security Policy?")
fn connect_src_violation(policy: &str, client: &Url, target: &Url) -> Option<String> {
  let directives: Vec<(String, Vec<&str>)> = policy
    .split(';')
    .filter_map(|d| {
      let mut words = d.split_ascii_whitespace();
      let name = words.next()?.to_ascii_lowercase();
      Some((name, words.collect()))
    })
    .collect();
  let find = |name: &str| directives.iter().find(|(n, _)| n == name);
  let (name, sources) = find("connect-src").or_else(|| find("default-src"))?;
  if sources.iter().any(|s| source_matches(s, client, target)) {
    return None;
  }
  Some(format!(
    "Refused to connect to '{target}' because it violates the Content Security Policy directive: \"{name} {}\"",
    sources.join(" ")
  ))
}

fn default_port(scheme: &str) -> Option<u16> {
  match scheme {
    "http" | "ws" => Some(80),
    "https" | "wss" => Some(443),
    _ => None,
  }
}

/// CSP3 "does url match expression in origin with redirect count", for the
/// expressions a connect-src list holds.
fn source_matches(expr: &str, client: &Url, target: &Url) -> bool {
  let e = expr.to_ascii_lowercase();
  let scheme = target.scheme();
  let network = matches!(scheme, "http" | "https" | "ws" | "wss");
  match e.as_str() {
    "'none'" => return false,
    "*" => return network || scheme == client.scheme(),
    "'self'" => {
      let same_host = target.host_str() == client.host_str();
      let same_port = target.port_or_known_default() == client.port_or_known_default();
      return (target.origin() == client.origin())
        || (same_host
          && same_port
          && matches!((client.scheme(), scheme), ("http", "https") | ("ws", "wss")));
    }
    _ if e.starts_with('\'') => return false,
    _ => {}
  }
  // scheme-source: "https:"
  if let Some(s) = e.strip_suffix(':') {
    if !s.contains('/') && !s.contains('.') {
      return scheme_ok(s, scheme);
    }
  }
  // host-source: [scheme "://"] host [":" port] [path]
  let (src_scheme, rest) = match e.split_once("://") {
    Some((s, r)) => (Some(s), r),
    None => (None, e.as_str()),
  };
  match src_scheme {
    Some(s) if !scheme_ok(s, scheme) => return false,
    None if !scheme_ok(client.scheme(), scheme) => return false,
    _ => {}
  }
  let (host_port, path) = match rest.find('/') {
    Some(i) => (&rest[..i], Some(&rest[i..])),
    None => (rest, None),
  };
  let (host, port) = match host_port.rsplit_once(':') {
    Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
    _ => (host_port, None),
  };
  let Some(target_host) = target.host_str().map(|h| h.to_ascii_lowercase()) else {
    return false;
  };
  let host_ok = if let Some(suffix) = host.strip_prefix("*.") {
    target_host.ends_with(&format!(".{suffix}"))
  } else {
    host == "*" || host == target_host
  };
  if !host_ok {
    return false;
  }
  let target_port = target.port_or_known_default();
  let port_ok = match port {
    Some("*") => true,
    Some(p) => p.parse::<u16>().ok() == target_port,
    None => {
      let expected = src_scheme.or(Some(client.scheme())).and_then(default_port);
      target_port == expected || (target_port == Some(443) && expected == Some(80))
    }
  };
  if !port_ok {
    return false;
  }
  match path {
    None | Some("/") | Some("") => true,
    Some(p) if p.ends_with('/') => target.path().starts_with(p),
    Some(p) => target.path() == p,
  }
}

/// A source scheme allows the same scheme and its secure upgrade.
/// (CSP3, "scheme-part match".)
fn scheme_ok(source: &str, scheme: &str) -> bool {
  source == scheme || matches!((source, scheme), ("http", "https") | ("ws", "wss"))
}

#[cfg(test)]
mod tests {
  use super::*;

  fn u(s: &str) -> Url {
    Url::parse(s).unwrap()
  }

  #[test]
  fn trustworthy_origins() {
    for t in [
      "https://a.test/",
      "http://127.0.0.1:9/",
      "http://[::1]/",
      "http://localhost/",
      "http://x.localhost/",
    ] {
      assert!(is_potentially_trustworthy(&u(t)), "{t}");
    }
    for t in ["http://a.test/", "http://10.0.0.1/", "file:///x", "data:,x"] {
      assert!(!is_potentially_trustworthy(&u(t)), "{t}");
    }
  }

  #[test]
  fn mixed_content() {
    let page = u("https://web-platform.test:8443/p.html");
    assert!(blocked_reason(&page, &[], &u("http://web-platform.test:8443/")).is_some());
    assert!(blocked_reason(&page, &[], &u("http://127.0.0.1/")).is_none());
    assert!(blocked_reason(&page, &[], &u("https://example.com/")).is_none());
    // An http page may fetch http.
    assert!(blocked_reason(&u("http://a.test/"), &[], &u("http://b.test/")).is_none());
  }

  #[test]
  fn connect_src() {
    let page = u("https://a.test:8443/dir/p.html");
    let blocks = |policy: &str, target: &str| {
      blocked_reason(&page, &[policy.to_string()], &u(target)).is_some()
    };
    assert!(blocks("connect-src 'none'", "https://a.test:8443/"));
    assert!(!blocks("img-src 'none'", "https://a.test:8443/"));
    assert!(blocks("default-src 'none'", "https://a.test:8443/"));
    assert!(!blocks(
      "default-src 'none'; connect-src 'self'",
      "https://a.test:8443/x"
    ));
    assert!(blocks("connect-src 'self'", "https://b.test:8443/x"));
    assert!(!blocks("connect-src https:", "https://b.test/x"));
    assert!(!blocks("connect-src *", "https://b.test/x"));
    assert!(!blocks("connect-src *.b.test", "https://www.b.test/x"));
    assert!(blocks("connect-src *.b.test", "https://b.test/x"));
    assert!(!blocks(
      "connect-src https://b.test:*",
      "https://b.test:9/x"
    ));
    assert!(blocks("connect-src https://b.test", "https://b.test:9/x"));
    assert!(!blocks(
      "connect-src https://b.test/api/",
      "https://b.test/api/v1"
    ));
    assert!(blocks(
      "connect-src https://b.test/api/",
      "https://b.test/other"
    ));
    assert!(blocks("connect-src", "https://a.test:8443/"));
  }
}
