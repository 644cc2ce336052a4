//! Sending a record's request as Fetch does: redirects are followed here,
//! not by the HTTP client, so that every hop gets Fetch's treatment: the
//! `Origin` it carries (`null` once a redirect chain has crossed origins
//! twice, Fetch's "tainted origin"), a CORS preflight where the hop is
//! cross-origin and the request not simple, a CORS check of each response
//! (redirects included), the method a 301/302/303 turns into, and the
//! request's redirect mode, and the `Referer` (`crate::platform::net::referrer`).
//! <https://fetch.spec.whatwg.org/#http-redirect-fetch>
//!
//! Step numbers below are those of the Fetch standard's "main fetch", "HTTP
//! fetch", "HTTP-redirect fetch" and "CORS-preflight fetch".

use std::collections::HashSet;

use bytes::Bytes;
use reqwest::Method;
use url::Url;

use super::types::RequestSpec;
use crate::platform::net::{self, cors};

/// Fetch's redirect limit ("HTTP-redirect fetch", step 7).
const MAX_REDIRECTS: usize = 20;

/// How sending a request ended.
pub(super) enum Sent {
  /// The final response (CORS-checked when CORS applies).
  Response(reqwest::Response),
  /// A network error that no retry changes: CORS, a refused preflight, a
  /// redirect Fetch does not follow.
  Refused(String),
  /// The connection failed (worth a retry, or offline).
  Failed(reqwest::Error),
}

/// What a request is sent with besides its own parts.
pub(super) struct SendOptions<'a> {
  pub body: &'a Bytes,
  /// Resume from this offset, if the validator still matches.
  pub range: Option<(u64, &'a str)>,
  /// Makes the body of each attempt (a 307/308 sends it again).
  pub upload: &'a (dyn Fn(Bytes) -> reqwest::Body + Sync),
  /// The browser's cookies, sent and kept as the credentials mode says.
  pub cookies: &'a crate::platform::net::cookies::CookieJar,
}

/// Sends `req` with `client` (which must not follow redirects), following
/// redirects as Fetch does. `preflighted` holds the URLs whose preflight
/// passed (a preflight cache for the retries of one record).
pub(super) async fn send(
  client: &reqwest::Client,
  req: &RequestSpec,
  opts: SendOptions<'_>,
  preflighted: &mut HashSet<String>,
) -> Sent {
  let Ok(mut url) = Url::parse(&req.url) else {
    return Sent::Refused(format!("invalid URL {}", req.url));
  };
  let mut method = Method::from_bytes(req.method.as_bytes()).unwrap_or(Method::GET);
  let mut headers = req.headers.clone();
  let mut body = Some(opts.body.clone()).filter(|b| !b.is_empty());
  let credentials = req.credentials == "include";
  // Fetch's response tainting: "cors" from the first cross-origin hop on.
  // ("main fetch", step 12, "otherwise" branch.)
  let mut cors_tainting = false;
  // Fetch: a request with a redirect-tainted origin serializes its origin
  // ("serializing a request origin") as `null`.
  let mut tainted_origin = false;
  // The referrer, worked out again at each hop from the previous one.
  // ("determine request's referrer", step 3: the client, none, or a URL.)
  let mut referrer =
    crate::platform::net::referrer::source(req.referrer.as_deref(), &req.client_url);
  let mut referrer_policy = req.referrer_policy.clone();
  for _ in 0..=MAX_REDIRECTS {
    let cross = !req.origin.is_empty() && cors::is_cross_origin(&req.origin, &url);
    if cross {
      // "Main fetch", step 12: a "same-origin" request to another origin is a
      // network error; any other mode gets response tainting "cors".
      if req.mode == "same-origin" {
        return Sent::Refused(format!("{url} is not same-origin"));
      }
      cors_tainting = true;
    }
    let origin = if tainted_origin {
      "null"
    } else {
      req.origin.as_str()
    };
    if cors_tainting {
      // "HTTP fetch", step 4.1: a CORS-preflight fetch when the method is not
      // CORS-safelisted or there are CORS-unsafe request-header names (the
      // `preflighted` set stands in for the CORS-preflight cache); 4.1.2: a
      // failed preflight is the response.
      let (needed, names) = cors::preflight_needed(method.as_str(), &headers);
      if needed && !preflighted.contains(url.as_str()) {
        match preflight(client, &url, origin, &method, &names, credentials).await {
          Err(e) => return Sent::Failed(e),
          Ok(Err(why)) => return Sent::Refused(why),
          Ok(Ok(())) => {
            preflighted.insert(url.to_string());
          }
        }
      }
    }
    // "Main fetch", step 9: the referrer is "determine request's referrer"
    // (Referrer Policy), again for each hop ("HTTP-redirect fetch", step 22).
    referrer =
      referrer.and_then(|r| crate::platform::net::referrer::determine(&r, &referrer_policy, &url));
    let mut builder = client.request(method.clone(), url.clone());
    if let Some(r) = &referrer {
      builder = builder.header(reqwest::header::REFERER, r.as_str());
    }
    // Fetch appends `Origin` to CORS requests and to any that is not a
    // GET or HEAD.
    // (Fetch, "append a request `Origin` header".)
    let unsafe_method = method != Method::GET && method != Method::HEAD;
    if !req.origin.is_empty() && (cors_tainting || unsafe_method) {
      builder = builder.header("Origin", origin);
    }
    // `Cookie` is the browser's (a forbidden request-header name).
    for (k, v) in headers
      .iter()
      .filter(|(k, _)| !k.eq_ignore_ascii_case("cookie"))
    {
      builder = builder.header(k, v);
    }
    // "HTTP-network-or-cache fetch", step 8.5: includeCredentials.
    let with_cookies =
      req.credentials == "include" || (req.credentials == "same-origin" && !cors_tainting);
    let client_url = Url::parse(&req.client_url).ok();
    let cookie_cx = crate::platform::net::cookies::Context {
      initiator: client_url.as_ref(),
      top_level_get: false,
    };
    if with_cookies {
      if let Some(cookie) = opts.cookies.header_for(&url, cookie_cx) {
        builder = builder.header(reqwest::header::COOKIE, cookie);
      }
    }
    if let Some(b) = &body {
      builder = builder
        .header(reqwest::header::CONTENT_LENGTH, b.len())
        .body((opts.upload)(b.clone()));
    }
    // Background Fetch, "complete a record", step 8: add a range header.
    if let Some((from, validator)) = opts.range {
      builder = builder
        .header("Range", format!("bytes={from}-"))
        .header("If-Range", validator);
    }
    let resp = match builder.send().await {
      Ok(r) => r,
      Err(e) => return Sent::Failed(e),
    };
    if with_cookies {
      let set = resp.headers().get_all(reqwest::header::SET_COOKIE);
      opts
        .cookies
        .store_from(&url, set.iter().filter_map(|v| v.to_str().ok()), cookie_cx);
    }
    if cors_tainting {
      let pairs = super::download::header_pairs(&resp);
      // "HTTP fetch", step 4.4: with response tainting "cors", a failed "CORS
      // check" is a network error (redirects included).
      if let Err(why) = cors::check_response(origin, &pairs, credentials) {
        return Sent::Refused(why);
      }
    }
    let status = resp.status();
    let location = resp
      .headers()
      .get(reqwest::header::LOCATION)
      .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    // "HTTP fetch", step 6: a redirect status; "HTTP-redirect fetch", steps
    // 3-4: no `Location`, no redirect.
    let Some(location) = location.filter(|_| net::is_redirect_status(status.as_u16())) else {
      return Sent::Response(resp);
    };
    // `manual` is followed: a record cannot hold an opaque-redirect
    // response (README, Background Fetch).
    // "HTTP fetch", step 6.3: redirect mode "error" is a network error.
    if req.redirect == "error" {
      return Sent::Refused(format!(
        "{url} redirected, and the redirect mode is 'error'"
      ));
    }
    // "HTTP-redirect fetch", steps 3 and 5: locationURL; failure is a network
    // error.
    let Ok(next) = url.join(&location) else {
      return Sent::Refused(format!("{url} redirected to an invalid URL {location}"));
    };
    // Step 6: not an HTTP(S) scheme.
    if !matches!(next.scheme(), "http" | "https") {
      return Sent::Refused(format!("{url} redirected to {next}, not HTTP(S)"));
    }
    // The checks the first URL went through apply to each redirect.
    // ("HTTP-redirect fetch", step 22, runs "main fetch" again: its step 7.)
    if crate::platform::net::policy::is_bad_port(&next) {
      return Sent::Refused(format!("{url} redirected to {next}, a blocked port"));
    }
    if let Some(why) = Url::parse(&req.client_url)
      .ok()
      .and_then(|client| crate::platform::net::policy::blocked_reason(&client, &req.csp, &next))
    {
      return Sent::Refused(format!("{url} redirected: {why}"));
    }
    // Steps 9-10: a URL with credentials after a cross-origin hop (mode "cors"),
    // or with response tainting "cors", is a network error.
    let has_credentials = !next.username().is_empty() || next.password().is_some();
    let next_cross = !req.origin.is_empty() && cors::is_cross_origin(&req.origin, &next);
    if has_credentials && (cors_tainting || (req.mode == "cors" && next_cross)) {
      return Sent::Refused(format!("{url} redirected to a URL with credentials"));
    }
    // Step 19: "set request's referrer policy on redirect" (Referrer Policy).
    if let Some(policy) = resp
      .headers()
      .get("referrer-policy")
      .and_then(|v| v.to_str().ok())
      .and_then(crate::platform::net::referrer::from_header)
    {
      referrer_policy = policy.to_string();
    }
    // Step 12: 301/302 with POST, or 303 with neither GET nor HEAD, turn into
    // a GET without a body (12.1) and without request-body headers (12.2).
    if net::redirect_turns_into_get(status.as_u16(), &method) {
      method = Method::GET;
      body = None;
      headers.retain(|(k, _)| !net::is_request_body_header(k));
    }
    // Step 13: crossing origins drops the CORS non-wildcard request-header
    // names (`Authorization`).
    let hop_cross = cors::is_cross_origin(&url.origin().ascii_serialization(), &next);
    if hop_cross {
      headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
      // A redirect from an origin other than the request's to yet another.
      if cross {
        tainted_origin = true;
      }
    }
    // Step 18: the next URL; step 22: "main fetch" again (the next pass).
    url = next;
  }
  Sent::Refused(format!("more than {MAX_REDIRECTS} redirects"))
}

/// Sends the `OPTIONS` preflight: Err on a network error, Ok(Err) when the
/// server does not allow the request.
/// Fetch, "CORS-preflight fetch": steps 1-3 (an `OPTIONS` request with
/// `Access-Control-Request-Method`), 4-5 (`Access-Control-Request-Headers`,
/// the CORS-unsafe request-header names), 6 (fetch it), 7-8 (the checks, in
/// `cors::check_preflight`). No `Accept: */*` (step 2) is set here.
async fn preflight(
  client: &reqwest::Client,
  url: &Url,
  origin: &str,
  method: &Method,
  header_names: &[String],
  credentials: bool,
) -> Result<Result<(), String>, reqwest::Error> {
  let mut builder = client
    .request(Method::OPTIONS, url.clone())
    .header("Origin", origin)
    .header("Access-Control-Request-Method", method.as_str());
  if !header_names.is_empty() {
    builder = builder.header("Access-Control-Request-Headers", header_names.join(","));
  }
  let resp = builder.send().await?;
  let headers = super::download::header_pairs(&resp);
  Ok(cors::check_preflight(
    origin,
    resp.status().as_u16(),
    &headers,
    method.as_str(),
    header_names,
    credentials,
  ))
}
