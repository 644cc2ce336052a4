//! The browser's cookie jar: what `Set-Cookie` stores and `Cookie` sends,
//! for every request the browser makes for a page or a worker (their
//! `fetch()`, navigations, scripts, Background Fetch downloads), and
//! `document.cookie`.
//!
//! RFC 6265 (domain and path matching, expiry, `Secure`, `HttpOnly`) is
//! the `cookie_store` crate's; this module adds what Chromium adds:
//! - `SameSite` (RFC 6265bis), Lax when the cookie does not say: a
//!   cross-site request sends (and its response sets) only `SameSite=None`
//!   cookies, except that a top-level navigation by GET also sends Lax
//!   ones. `SameSite=None` without `Secure` is refused.
//! - Sites are compared by host: equal hosts, or equal last two labels of
//!   a domain name (`www1.web-platform.test` and `web-platform.test` are
//!   one site). There is no public suffix list: nothing here serves
//!   `co.uk`-style hosts.
//! - Whether a request carries cookies at all is Fetch's business (its
//!   credentials mode); callers ask only when it does.
//!
//! One jar per browser (per `swharness run`, per WPT page). With a state
//! directory, persistent cookies (those with `Expires` or `Max-Age`) are
//! kept in `cookies.json` there, rewritten whole (a new file renamed over
//! the old) each time one changes, so a crash leaves the old or the new
//! jar, never half of one.

use std::path::PathBuf;
use std::sync::Mutex;

use cookie_store::{CookieStore, RawCookie};
use url::Url;

/// Whose request it is, for `SameSite`.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
  /// The URL of the page or worker that makes the request (for a
  /// navigation, the page that starts it), or None for the browser's own
  /// (a navigation typed in, a top-level `--client`): same-site.
  pub initiator: Option<&'a Url>,
  /// A top-level navigation by GET: Lax cookies go even cross-site.
  pub top_level_get: bool,
}

impl Context<'_> {
  /// The browser's own request: same-site.
  pub const BROWSER: Context<'static> = Context {
    initiator: None,
    top_level_get: true,
  };
}

#[derive(Default)]
pub struct CookieJar {
  store: Mutex<CookieStore>,
  /// Where persistent cookies are kept, if anywhere.
  file: Mutex<Option<PathBuf>>,
}

impl CookieJar {
  /// Keeps persistent cookies in `path` from now on, starting from those
  /// it holds. A file that cannot be read as a jar is an error (it is not
  /// overwritten).
  pub fn persist_in(&self, path: PathBuf) -> anyhow::Result<()> {
    match std::fs::File::open(&path) {
      Ok(f) => {
        let loaded = cookie_store::serde::json::load(std::io::BufReader::new(f))
          .map_err(|e| anyhow::anyhow!("the cookie jar {} is corrupt: {e}", path.display()))?;
        *self.store.lock().unwrap_or_else(|e| e.into_inner()) = loaded;
      }
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
      Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
    *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(path);
    Ok(())
  }

  /// The `Cookie` header for a request to `url`, if any cookie goes.
  pub fn header_for(&self, url: &Url, cx: Context<'_>) -> Option<String> {
    let same_site = is_same_site(cx.initiator, url);
    let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
    let pairs: Vec<String> = store
      .matches(url)
      .into_iter()
      .filter(|c| sendable(c.same_site(), same_site, cx.top_level_get))
      .map(|c| format!("{}={}", c.name(), c.value()))
      .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
  }

  /// Stores the cookies of a response from `url` (its `Set-Cookie` values).
  pub fn store_from<'v>(
    &self,
    url: &Url,
    values: impl IntoIterator<Item = &'v str>,
    cx: Context<'_>,
  ) {
    let same_site = is_same_site(cx.initiator, url);
    let mut changed = false;
    {
      let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
      for value in values {
        let Ok(cookie) = RawCookie::parse(value.to_string()) else {
          continue;
        };
        if acceptable(&cookie, same_site, cx.top_level_get)
          && store.insert_raw(&cookie, url).is_ok()
        {
          changed |= cookie.expires().is_some() || cookie.max_age().is_some();
        }
      }
    }
    if changed {
      self.save();
    }
  }

  /// `document.cookie` of a document at `url`: its cookies that scripts
  /// may see (not `HttpOnly`), as `a=1; b=2`.
  pub fn document_cookie(&self, url: &Url) -> String {
    let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
    store
      .matches(url)
      .into_iter()
      .filter(|c| c.http_only() != Some(true))
      .map(|c| format!("{}={}", c.name(), c.value()))
      .collect::<Vec<_>>()
      .join("; ")
  }

  /// `document.cookie = text` in a document at `url`: one cookie, which
  /// may not be (nor replace) an `HttpOnly` one.
  pub fn set_document_cookie(&self, url: &Url, text: &str) {
    let Ok(cookie) = RawCookie::parse(text.to_string()) else {
      return;
    };
    if cookie.http_only() == Some(true) || !acceptable(&cookie, true, true) {
      return;
    }
    let persistent = cookie.expires().is_some() || cookie.max_age().is_some();
    {
      let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
      let domain = cookie
        .domain()
        .map(|d| d.trim_start_matches('.').to_string());
      let host = url.host_str().unwrap_or("").to_string();
      let path = cookie.path().unwrap_or("/").to_string();
      let existing = store.get(domain.as_deref().unwrap_or(&host), &path, cookie.name());
      if existing.is_some_and(|c| c.http_only() == Some(true)) {
        return;
      }
      if store.insert_raw(&cookie, url).is_err() {
        return;
      }
    }
    if persistent {
      self.save();
    }
  }

  /// Rewrites the file of persistent cookies, if there is one. A failure
  /// is reported, not fatal: the cookies stay in memory.
  fn save(&self) {
    let Some(path) = self.file.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
      return;
    };
    let mut text = Vec::new();
    {
      let store = self.store.lock().unwrap_or_else(|e| e.into_inner());
      if let Err(e) = cookie_store::serde::json::save(&store, &mut text) {
        eprintln!("swharness: the cookie jar could not be saved: {e}");
        return;
      }
    }
    let tmp = path.with_extension("json.tmp");
    if let Err(e) = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &path)) {
      eprintln!(
        "swharness: the cookie jar could not be saved in {}: {e}",
        path.display()
      );
    }
  }
}

/// Whether a cookie of `same_site` policy goes with a request.
fn sendable(policy: Option<cookie::SameSite>, same_site: bool, top_level_get: bool) -> bool {
  use cookie::SameSite;
  same_site
    || match policy {
      Some(SameSite::None) => true,
      Some(SameSite::Strict) => false,
      Some(SameSite::Lax) | None => top_level_get,
    }
}

/// Whether a response may set `cookie`: `SameSite=None` needs `Secure`,
/// and a cross-site response sets only what a cross-site request would send.
fn acceptable(cookie: &RawCookie<'_>, same_site: bool, top_level_get: bool) -> bool {
  if cookie.same_site() == Some(cookie::SameSite::None) && cookie.secure() != Some(true) {
    return false;
  }
  sendable(cookie.same_site(), same_site, top_level_get)
}

/// Whether `url` is same-site with the initiator (the browser's own
/// requests are).
fn is_same_site(initiator: Option<&Url>, url: &Url) -> bool {
  let Some(initiator) = initiator else {
    return true;
  };
  match (initiator.host(), url.host()) {
    (Some(a), Some(b)) => site_of(&a) == site_of(&b),
    // Opaque hosts (data:, about:) are no site: cross-site.
    _ => false,
  }
}

/// A host's site: an IP address or a one-label name is its own; a domain
/// name's is its last two labels.
fn site_of(host: &url::Host<&str>) -> String {
  match host {
    url::Host::Domain(d) => {
      let labels: Vec<&str> = d.trim_end_matches('.').rsplitn(3, '.').collect();
      match labels.as_slice() {
        [tld, name, ..] => format!("{name}.{tld}"),
        _ => d.to_string(),
      }
    }
    other => other.to_string(),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
  }

  #[test]
  fn sites_are_compared_by_the_last_two_labels() {
    let a = url("https://www1.web-platform.test/x");
    let b = url("https://web-platform.test/y");
    let c = url("https://not-web-platform.test/y");
    assert!(is_same_site(Some(&a), &b));
    assert!(!is_same_site(Some(&a), &c));
    assert!(!is_same_site(
      Some(&url("http://127.0.0.1:1/")),
      &url("http://localhost:1/")
    ));
    assert!(is_same_site(None, &c));
  }

  #[test]
  fn cross_site_requests_send_only_none_cookies_but_lax_on_top_level_gets() {
    let jar = CookieJar::default();
    let site = url("https://a.test/");
    jar.store_from(
      &site,
      [
        "lax=1",
        "strict=2; SameSite=Strict",
        "none=3; SameSite=None; Secure",
        "insecure=4; SameSite=None",
      ],
      Context::BROWSER,
    );
    let other = url("https://b.test/");
    let cross = Context {
      initiator: Some(&other),
      top_level_get: false,
    };
    assert_eq!(jar.header_for(&site, cross).as_deref(), Some("none=3"));
    let nav = Context {
      top_level_get: true,
      ..cross
    };
    let mut sent: Vec<String> = jar
      .header_for(&site, nav)
      .unwrap()
      .split("; ")
      .map(String::from)
      .collect();
    sent.sort();
    assert_eq!(sent, ["lax=1", "none=3"]);
    assert_eq!(
      jar
        .header_for(&site, Context::BROWSER)
        .unwrap()
        .split("; ")
        .count(),
      3
    );
  }

  #[test]
  fn document_cookie_hides_and_keeps_http_only_cookies() {
    let jar = CookieJar::default();
    let page = url("http://127.0.0.1:8000/app/");
    jar.store_from(
      &page,
      ["session=s; HttpOnly; Path=/", "theme=dark; Path=/"],
      Context::BROWSER,
    );
    assert_eq!(jar.document_cookie(&page), "theme=dark");
    jar.set_document_cookie(&page, "session=forged; Path=/");
    jar.set_document_cookie(&page, "lang=en");
    let header = jar.header_for(&page, Context::BROWSER).unwrap();
    assert!(
      header.contains("session=s") && header.contains("lang=en"),
      "{header}"
    );
  }

  #[test]
  fn persistent_cookies_survive_in_the_file_and_session_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookies.json");
    let page = url("http://127.0.0.1:8000/");
    {
      let jar = CookieJar::default();
      jar.persist_in(path.clone()).unwrap();
      jar.store_from(
        &page,
        ["kept=1; Max-Age=3600", "session=2"],
        Context::BROWSER,
      );
    }
    let jar = CookieJar::default();
    jar.persist_in(path.clone()).unwrap();
    assert_eq!(
      jar.header_for(&page, Context::BROWSER).as_deref(),
      Some("kept=1")
    );
    std::fs::write(&path, "not json").unwrap();
    let err = CookieJar::default().persist_in(path).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
  }
}
