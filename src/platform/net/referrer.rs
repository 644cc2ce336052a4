//! The `Referer` a request carries: Referrer Policy's "determine request's
//! referrer", with the request's referrer (the client by default) and
//! policy (default `strict-origin-when-cross-origin`), worked out again
//! for each redirect as Fetch's main fetch does.
//! <https://w3c.github.io/webappsec-referrer-policy/#determine-requests-referrer>

use url::Url;

use crate::platform::net::policy::is_potentially_trustworthy;

/// A referrer URL longer than this is cut to its origin.
/// ("Determine request's referrer", step 6.)
const MAX_LEN: usize = 4096;

/// The policy when the request names none.
/// ("Default referrer policy"; Fetch's "main fetch", step 8, uses the policy
/// container's when the request's is empty.)
const DEFAULT_POLICY: &str = "strict-origin-when-cross-origin";

/// The request's referrer, as `Request.referrer` gives it (`about:client`
/// for the client, `""` for none, else a URL), made concrete with the
/// client's URL; None for no referrer.
/// "Determine request's referrer", step 3: switch on the request's referrer
/// ("client": the client's URL; a URL: that URL). `""` is "no-referrer", for
/// which Fetch's "main fetch", step 9, does not call it.
pub fn source(referrer: Option<&str>, client: &str) -> Option<Url> {
  match referrer {
    None | Some("about:client") => Url::parse(client).ok(),
    Some("") => None,
    Some(url) => Url::parse(url).ok(),
  }
}

/// The referrer to send to `target`, from `source` under `policy` (a
/// policy token; empty or unknown means the default).
/// Referrer Policy, "determine request's referrer", steps 4-8 (step 7, the
/// user agent's own changes, makes none).
pub fn determine(source: &Url, policy: &str, target: &Url) -> Option<Url> {
  // Step 4: referrerURL.
  let url = strip(source, false)?;
  // Step 5: referrerOrigin.
  let origin = strip(source, true)?;
  // Step 6: a referrerURL longer than 4096 becomes referrerOrigin.
  let url = if url.as_str().len() > MAX_LEN {
    origin.clone()
  } else {
    url
  };
  let same_origin = url.origin() == target.origin();
  // "referrerURL is a potentially trustworthy URL and request's current URL
  // is not" (the strict policies and "no-referrer-when-downgrade").
  let downgrade = is_potentially_trustworthy(&url) && !is_potentially_trustworthy(target);
  // Step 8: the statements for the policy.
  match normalize(policy) {
    "no-referrer" => None,
    "no-referrer-when-downgrade" => (!downgrade).then_some(url),
    "origin" => Some(origin),
    "origin-when-cross-origin" => Some(if same_origin { url } else { origin }),
    "same-origin" => same_origin.then_some(url),
    "strict-origin" => (!downgrade).then_some(origin),
    "unsafe-url" => Some(url),
    // strict-origin-when-cross-origin
    _ if same_origin => Some(url),
    _ => (!downgrade).then_some(origin),
  }
}

/// The policy a redirect response's `Referrer-Policy` header sets, if it
/// names a known one (the last known token of the list wins).
/// Referrer Policy, "parse a referrer policy from a `Referrer-Policy`
/// header", steps 1-4, for "set request's referrer policy on redirect".
pub fn from_header(value: &str) -> Option<&'static str> {
  value
    .split(',')
    .filter_map(|t| known(t.trim().to_ascii_lowercase().as_str()))
    .next_back()
}

fn normalize(policy: &str) -> &'static str {
  known(policy).unwrap_or(DEFAULT_POLICY)
}

fn known(token: &str) -> Option<&'static str> {
  [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
  ]
  .into_iter()
  .find(|p| *p == token)
}

/// "Strip url for use as a referrer": no credentials, no fragment; with
/// `origin_only`, no path or query either. Local schemes give none.
/// Steps: 1-2 (no URL or a local scheme: no referrer; here any scheme but
/// http(s)), 3-4 (no username or password), 5 (no fragment), 6 (origin
/// only: no path, no query), 7 (return it).
fn strip(url: &Url, origin_only: bool) -> Option<Url> {
  if !matches!(url.scheme(), "http" | "https") {
    return None;
  }
  let mut u = url.clone();
  let _ = u.set_username("");
  let _ = u.set_password(None);
  u.set_fragment(None);
  if origin_only {
    u.set_path("/");
    u.set_query(None);
  }
  Some(u)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn u(s: &str) -> Url {
    Url::parse(s).unwrap()
  }

  fn det(policy: &str, target: &str) -> Option<String> {
    let src = u("https://user:pw@a.test/page?q=1#frag");
    determine(&src, policy, &u(target)).map(|u| u.to_string())
  }

  #[test]
  fn the_default_policy() {
    assert_eq!(
      det("", "https://a.test/x").as_deref(),
      Some("https://a.test/page?q=1")
    );
    assert_eq!(
      det("", "https://b.test/x").as_deref(),
      Some("https://a.test/")
    );
    assert_eq!(
      det("", "http://b.test/x"),
      None,
      "a downgrade sends nothing"
    );
    assert_eq!(
      det("bogus", "https://b.test/x").as_deref(),
      Some("https://a.test/")
    );
  }

  #[test]
  fn every_policy() {
    assert_eq!(det("no-referrer", "https://a.test/x"), None);
    assert_eq!(
      det("origin", "https://a.test/x").as_deref(),
      Some("https://a.test/")
    );
    assert_eq!(
      det("unsafe-url", "http://b.test/").as_deref(),
      Some("https://a.test/page?q=1")
    );
    assert_eq!(det("same-origin", "https://b.test/"), None);
    assert_eq!(
      det("same-origin", "https://a.test/").as_deref(),
      Some("https://a.test/page?q=1")
    );
    assert_eq!(det("strict-origin", "http://b.test/"), None);
    assert_eq!(
      det("strict-origin", "https://a.test/").as_deref(),
      Some("https://a.test/")
    );
    assert_eq!(det("no-referrer-when-downgrade", "http://a.test/"), None);
    assert_eq!(
      det("no-referrer-when-downgrade", "https://b.test/").as_deref(),
      Some("https://a.test/page?q=1")
    );
    assert_eq!(
      det("origin-when-cross-origin", "http://b.test/").as_deref(),
      Some("https://a.test/")
    );
  }

  #[test]
  fn sources_and_headers() {
    assert_eq!(source(Some(""), "https://a.test/"), None);
    assert_eq!(
      source(None, "https://a.test/p").unwrap().as_str(),
      "https://a.test/p"
    );
    assert_eq!(
      source(Some("about:client"), "https://a.test/p")
        .unwrap()
        .as_str(),
      "https://a.test/p"
    );
    assert_eq!(
      source(Some("https://c.test/r"), "https://a.test/")
        .unwrap()
        .as_str(),
      "https://c.test/r"
    );
    assert_eq!(from_header("no-referrer, bogus"), Some("no-referrer"));
    assert_eq!(from_header("origin, unsafe-url"), Some("unsafe-url"));
    assert_eq!(from_header("bogus"), None);
    let long = u(&format!("https://a.test/{}", "x".repeat(5000)));
    assert_eq!(
      determine(&long, "unsafe-url", &u("https://a.test/"))
        .unwrap()
        .as_str(),
      "https://a.test/"
    );
    assert_eq!(
      determine(&u("data:text/plain,x"), "unsafe-url", &u("https://a.test/")),
      None
    );
  }
}
