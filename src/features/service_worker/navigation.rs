//! Navigations: a window loads a page. The navigation request (mode
//! `navigate`, destination `document`) goes through the worker whose scope
//! matches the URL (Service Workers, "Handle Fetch" for a non-subresource
//! request), or to the network; the HTML it gets is parsed with html5ever,
//! and the window it makes (the event's `resultingClientId`) runs its
//! scripts in document order, controlled from the start.

use scraper::{Html, Selector};
use serde_json::{json, Value};
use url::Url;

use super::clients::{self, ClientScript};
use super::fetch_event::{self, Navigated};
use super::registry::VersionId;
use crate::platform::browser::Browser;
use crate::platform::ipc::{HostError, RealmId};
use crate::platform::net::DocumentHop;

/// What a page's HTML holds for swharness: its title, its scripts in
/// document order (as `runPageScripts` steps), the policies of its
/// `<meta http-equiv="Content-Security-Policy">`, and the text of its body
/// (`document.body.textContent`; our document keeps no other element).
#[derive(Debug, Default, PartialEq)]
pub struct Page {
  pub title: Option<String>,
  pub steps: Vec<Value>,
  pub csp: Vec<String>,
  pub text: String,
}

/// Parses a page's HTML (html5ever, as a browser does: forgiving, in
/// document order); relative script URLs resolve against `url`.
pub fn parse_page(html: &str, url: &Url) -> Page {
  let doc = Html::parse_document(html);
  let mut page = Page::default();
  let Ok(selector) = Selector::parse("title, script, meta") else {
    return page;
  };
  for el in doc.select(&selector) {
    let e = el.value();
    match e.name() {
      "title" if page.title.is_none() => {
        page.title = Some(el.text().collect::<String>().trim().to_string());
      }
      "meta" => {
        let csp = e
          .attr("http-equiv")
          .is_some_and(|h| h.eq_ignore_ascii_case("content-security-policy"));
        if let (true, Some(policy)) = (csp, e.attr("content")) {
          page.csp.push(policy.to_string());
        }
      }
      "script" => {
        // HTML's "prepare the script element": the type decides.
        let kind = e.attr("type").unwrap_or("").trim().to_ascii_lowercase();
        let module = kind == "module";
        let classic = matches!(
          kind.as_str(),
          "" | "text/javascript" | "application/javascript" | "text/ecmascript"
        );
        if !module && !classic {
          continue;
        }
        let step = match e.attr("src") {
          Some(src) => match url.join(src) {
            Ok(u) => json!({"url": u.as_str(), "module": module}),
            // A bad URL: the script element fires error and runs nothing.
            Err(_) => continue,
          },
          None => json!({
            "source": el.text().collect::<String>(),
            "name": url.as_str(),
            "module": module,
          }),
        };
        page.steps.push(step);
      }
      _ => {}
    }
  }
  page.text = body_text(&doc);
  page
}

/// The text of the body's text nodes in document order, without what
/// `<script>` and `<style>` hold.
fn body_text(doc: &Html) -> String {
  let Ok(body) = Selector::parse("body") else {
    return String::new();
  };
  let Some(body) = doc.select(&body).next() else {
    return String::new();
  };
  let mut text = String::new();
  for node in body.descendants() {
    let Some(t) = node.value().as_text() else {
      continue;
    };
    let in_script = node.ancestors().any(|a| {
      a.value()
        .as_element()
        .is_some_and(|e| matches!(e.name(), "script" | "style"))
    });
    if !in_script {
      text.push_str(t);
    }
  }
  text
}

/// A document's `contentType`: the essence of its response's MIME type
/// (lower case, without parameters), `text/html` when it has none.
fn content_type_of(content_type: Option<&str>) -> String {
  let essence = crate::platform::net::mime_essence(content_type.unwrap_or(""));
  if essence.contains('/') {
    essence
  } else {
    "text/html".into()
  }
}

/// How a navigation came about (HTML's "history handling" and Fetch's
/// request flags): a new entry, a reload (the request's
/// `isReloadNavigation`), or a history traversal (`isHistoryNavigation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum NavigationType {
  #[default]
  Push,
  Reload,
  Traverse,
}

/// A form's submission with method POST (HTML, "form submission"): the
/// navigation request's body and its `Content-Type`.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FormPost {
  pub content_type: String,
  pub body: String,
}

/// Opens a window at `url` by navigating to it: the navigation request
/// goes through the controlling worker, if any, and the page it gets runs.
/// Returns the new client's id.
pub async fn open_page(browser: &Browser, url: Url) -> Result<String, HostError> {
  open_page_as(browser, url, NavigationType::Push, None).await
}

/// [`open_page`], as a navigation of `kind` (a reload sets the request's
/// `isReloadNavigation`).
pub(super) async fn open_page_as(
  browser: &Browser,
  url: Url,
  kind: NavigationType,
  post: Option<&FormPost>,
) -> Result<String, HostError> {
  let (id, update) = open_page_in(browser, url, None, kind, post).await?;
  if let Some(scope) = update {
    super::lifecycle::soft_update(browser, &scope);
  }
  Ok(id)
}

/// A top-level window navigates itself (`location.href = url`, `assign()`,
/// `replace()`, `reload()`): the page the navigation loads replaces it, as
/// in `WindowClient.navigate()`. The realm that asked ends on the way, so
/// the navigation is a task of its own; a navigation that fails leaves no
/// page, and says why on stderr and in the trace (`navigation-error`).
pub(super) fn navigate_window_self(
  browser: &Browser,
  id: String,
  realm: RealmId,
  url: Url,
  own_url: &Url,
  reload: bool,
  post: Option<FormPost>,
) {
  let kind = if reload {
    NavigationType::Reload
  } else {
    NavigationType::Push
  };
  browser.record_ui_action(json!({"action": "navigate", "client": id, "url": url.as_str()}));
  let busy = browser.busy();
  let b = browser.clone();
  let base = own_url.clone();
  tokio::spawn(async move {
    let _busy = busy;
    let replaced = clients::replace_window(
      &b,
      &id,
      Some(realm),
      url.clone(),
      &base,
      kind,
      post.as_ref(),
    )
    .await;
    if let Err(e) = replaced {
      b.trace(
        "navigation-error",
        json!({"url": url.as_str(), "error": e.message}),
      );
      eprintln!("swharness: {}", e.message);
    }
  });
}

/// [`open_page`], in an `<iframe>` of the client `parent` if given: the new
/// client's id, and the scope of the registration that controlled the
/// navigation, whose "Soft Update" (Handle Fetch, the last step for a
/// navigation) is the caller's to start.
pub(super) async fn open_page_in(
  browser: &Browser,
  url: Url,
  parent: Option<String>,
  kind: NavigationType,
  post: Option<&FormPost>,
) -> Result<(String, Option<String>), HostError> {
  let mut id = clients::new_client_id();
  let parent_url = parent
    .as_ref()
    .and_then(|p| super::with(browser, |s| s.clients.get(p).map(|c| c.url.clone())));
  let scope_of = |version: VersionId| {
    super::with(browser, |s| {
      s.registry.versions.get(&version).map(|v| v.scope.clone())
    })
  };
  // HTML's "navigate" follows redirects itself: each URL is a navigation
  // request of its own, through the worker whose scope it is in (each of
  // those registrations then checks for an update), and the document's
  // URL and controller are those of the last.
  let (mut url, mut post, mut hops) = (url, post, 0);
  let (fetched, controller) = loop {
    let controller = clients::controller_for(browser, &url);
    // A frame's navigation has its parent document as referrer, under the
    // default policy ("determine request's referrer").
    let referrer = parent_url
      .as_ref()
      .and_then(|source| crate::platform::net::referrer::determine(source, "", &url))
      .map(String::from)
      .unwrap_or_default();
    let network = || async {
      let referrer = (!referrer.is_empty()).then_some(referrer.as_str());
      let body = post.map(|p| (p.content_type.as_str(), p.body.as_bytes()));
      browser
        .opts()
        .net
        .fetch_document(&url, referrer, body)
        .await
    };
    let hop = match controller {
      Some(version) => {
        match fetch_event::navigate(browser, version, &url, &id, &referrer, kind, post).await {
          Navigated::Body(page) => DocumentHop::Page(page),
          Navigated::Fallback => network().await?,
          Navigated::Error(why) => {
            // Handle Fetch: a navigation's Soft Update runs whatever the
            // fetch event gave, a network error too (a broken worker is
            // then replaced by the next version).
            if let Some(scope) = scope_of(version) {
              super::lifecycle::soft_update(browser, &scope);
            }
            return Err(HostError::type_error(format!(
              "The navigation to '{url}' failed: {why}"
            )));
          }
        }
      }
      None => network().await?,
    };
    let (status, to) = match hop {
      DocumentHop::Page(page) => break (page, controller),
      DocumentHop::Redirect { status, to } => (status, to),
    };
    if let Some(scope) = controller.and_then(scope_of) {
      super::lifecycle::soft_update(browser, &scope);
    }
    hops += 1;
    if hops > 20 || !matches!(to.scheme(), "http" | "https") {
      return Err(HostError::type_error(format!(
        "The navigation to '{url}' failed: {}",
        if hops > 20 {
          "too many redirects".to_string()
        } else {
          format!("it redirects to {to}")
        }
      )));
    }
    // "HTTP-redirect fetch", step 12: a 303, or a 301 or 302 of a POST,
    // goes on as a GET without the body.
    if status == 303 || matches!(status, 301 | 302) {
      post = None;
    }
    // The client reserved for the navigation is for its origin: a redirect
    // to another one reserves a new client (HTML, "navigate"), so the
    // worker's `resultingClientId` never names a window of another origin.
    if to.origin() != url.origin() {
      id = clients::new_client_id();
    }
    url = to;
  };
  let html = String::from_utf8_lossy(&fetched.body);
  let page = parse_page(&html, &url);
  let update = controller.and_then(scope_of);
  let id = clients::open_client_as(
    browser,
    url,
    id,
    controller,
    ClientScript::Page {
      title: page.title,
      steps: page.steps,
      text: page.text,
      content_type: content_type_of(fetched.content_type.as_deref()),
    },
    page.csp,
    parent,
  )
  .await?;
  Ok((id, update))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_page_gives_its_title_scripts_in_order_and_csp() {
    let url = Url::parse("https://example.test/app/index.html").unwrap();
    let html = r#"<!doctype html><html><head>
      <title> The app </title>
      <meta http-equiv="Content-Security-Policy" content="connect-src 'self'">
      <script src="a.js"></script>
      <script type="module" src="/m.js"></script>
      <script>console.log(1 < 2)</script>
      <script type="text/template">not a script</script>
      </head><body><script type=module>import "./x.js";</script></body></html>"#;
    let page = parse_page(html, &url);
    assert_eq!(page.title.as_deref(), Some("The app"));
    assert_eq!(page.csp, ["connect-src 'self'"]);
    assert_eq!(
      page.steps,
      [
        json!({"url": "https://example.test/app/a.js", "module": false}),
        json!({"url": "https://example.test/m.js", "module": true}),
        json!({"source": "console.log(1 < 2)", "name": url.as_str(), "module": false}),
        json!({"source": "import \"./x.js\";", "name": url.as_str(), "module": true}),
      ]
    );
  }

  #[test]
  fn the_body_text_leaves_out_scripts_and_styles() {
    let url = Url::parse("https://example.test/").unwrap();
    let html = "<!doctype html><title>t</title><style>p {}</style>\
      <body><p>Here's a <b>simple</b></p><script>var x = 1;</script> page.\n</body>";
    assert_eq!(parse_page(html, &url).text, "Here's a simple page.\n");
    // Text that is not HTML (a text/plain frame) is the body's text too.
    assert_eq!(
      parse_page("a simple text file\n", &url).text,
      "a simple text file\n"
    );
  }

  #[test]
  fn broken_html_still_parses() {
    let url = Url::parse("https://example.test/").unwrap();
    let page = parse_page("<title>x<script>a()</scr", &url);
    assert_eq!(page.title.as_deref(), Some("x<script>a()</scr"));
    assert!(page.steps.is_empty());
  }
}
