//! Cookies, through `swharness run` against a local server
//! (`support::fault_server`) that serves the worker and the page itself,
//! sets cookies and records the `Cookie` header of each request: a
//! page's and its worker's `fetch()`, `document.cookie`, a navigation's
//! redirect, a Background Fetch download, the credentials modes, and the
//! jar kept in `--state`.

mod support;

use support::fault_server::{FaultServer, Route};

/// A response of `content_type` with these `Set-Cookie` values.
fn route(content_type: &str, body: &str, set_cookies: &[&str]) -> Route {
  let mut headers = vec![("Content-Type".to_string(), content_type.to_string())];
  headers.extend(
    set_cookies
      .iter()
      .map(|c| ("Set-Cookie".to_string(), c.to_string())),
  );
  Route {
    body: body.as_bytes().to_vec(),
    headers,
    cors: false,
    ..Route::default()
  }
}

fn js(body: &str) -> Route {
  route("text/javascript", body, &[])
}

/// Runs `swharness ARGS`: its exit code, stdout and stderr.
async fn run(args: &[&str]) -> (Option<i32>, String, String) {
  let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(args)
    .output()
    .await
    .expect("the binary runs");
  (
    out.status.code(),
    String::from_utf8_lossy(&out.stdout).into_owned(),
    String::from_utf8_lossy(&out.stderr).into_owned(),
  )
}

/// The `Cookie` header of each request to `/whoami`, by its `from`.
fn cookies_sent(server: &FaultServer) -> Vec<(String, String)> {
  server
    .requests()
    .into_iter()
    .filter(|r| r.path.starts_with("/whoami"))
    .map(|r| {
      let from = r.path.split("from=").nth(1).unwrap_or("").to_string();
      (from, r.header("cookie").unwrap_or("").to_string())
    })
    .collect()
}

fn sorted(header: &str) -> Vec<&str> {
  let mut v: Vec<&str> = header.split("; ").filter(|s| !s.is_empty()).collect();
  v.sort();
  v
}

#[tokio::test]
async fn a_page_its_worker_and_its_downloads_send_what_responses_set() {
  let server = FaultServer::start().await;
  server.add("/whoami", route("text/plain", "ok", &[]));
  server.add(
    "/login",
    route(
      "text/plain",
      "welcome",
      &["sid=s1; Path=/; HttpOnly", "lang=en; Path=/"],
    ),
  );
  server.add(
    "/sw.js",
    js(
      r#"
self.addEventListener("fetch", (e) => {
  if (e.request.url.endsWith("/via-worker")) e.respondWith(fetch("/whoami?from=worker"));
});
"#,
    ),
  );
  server.add(
    "/page.js",
    js(
      r#"
await fetch("/login");
console.log("document.cookie:", document.cookie);
document.cookie = "theme=dark; Path=/";
document.cookie = "sid=forged; Path=/";
await fetch("/whoami?from=page");
await fetch("/whoami?from=omit", { credentials: "omit" });
await fetch("via-worker");
const reg = await navigator.serviceWorker.ready;
const f = await reg.backgroundFetch.fetch("c", ["/whoami?from=download"]);
await new Promise((resolve) => {
  f.addEventListener("progress", () => f.result && resolve());
  if (f.result) resolve();
});
console.log("download:", f.result);
"#,
    ),
  );
  let (code, out, err) = run(&[
    "run",
    &server.url("/sw.js"),
    "--client",
    &server.url("/page.js"),
    "--timeout",
    "60",
  ])
  .await;
  assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
  // An HttpOnly cookie is not the page's to read, nor to replace.
  assert!(out.contains("document.cookie: lang=en\n"), "{out}");
  assert!(out.contains("download: success"), "{out}");
  let sent = cookies_sent(&server);
  let of = |from: &str| {
    sent
      .iter()
      .find(|(f, _)| f == from)
      .map(|(_, c)| c.clone())
      .unwrap_or_else(|| panic!("no request from {from}: {sent:?}"))
  };
  assert_eq!(sorted(&of("page")), ["lang=en", "sid=s1", "theme=dark"]);
  assert_eq!(of("omit"), "");
  assert_eq!(sorted(&of("worker")), ["lang=en", "sid=s1", "theme=dark"]);
  assert_eq!(sorted(&of("download")), ["lang=en", "sid=s1", "theme=dark"]);
}

#[tokio::test]
async fn a_navigation_keeps_the_cookie_its_redirect_set_and_lands_on_its_target() {
  let server = FaultServer::start().await;
  server.add("/whoami", route("text/plain", "ok", &[]));
  server.add("/sw.js", js(""));
  let mut start = route("text/plain", "", &["nav=1; Path=/"]);
  start.status = 302;
  start.headers.push(("Location".into(), "/page.html".into()));
  server.add("/start.html", start);
  server.add(
    "/page.html",
    route(
      "text/html",
      r#"<!DOCTYPE html><script type="module">
await fetch("/whoami?from=page");
console.log("loaded", location.pathname);
</script>"#,
      &[],
    ),
  );
  let (code, out, err) = run(&[
    "run",
    &server.url("/sw.js"),
    "--client",
    &server.url("/start.html"),
    "--timeout",
    "60",
  ])
  .await;
  assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
  // The document is the redirect's target.
  assert!(out.contains("loaded /page.html"), "{out}");
  let page = server
    .requests_to("/page.html")
    .pop()
    .expect("the redirect was followed");
  assert_eq!(page.header("cookie"), Some("nav=1"));
  assert_eq!(
    cookies_sent(&server),
    [("page".to_string(), "nav=1".to_string())]
  );
}

#[tokio::test]
async fn persistent_cookies_outlive_the_run_in_its_state_directory() {
  let server = FaultServer::start().await;
  let state = tempfile::tempdir().unwrap();
  let state_dir = state.path().to_string_lossy().into_owned();
  server.add("/whoami", route("text/plain", "ok", &[]));
  server.add(
    "/set",
    route(
      "text/plain",
      "ok",
      &["kept=1; Path=/; Max-Age=3600", "session=1; Path=/"],
    ),
  );
  server.add("/sw.js", js(""));
  server.add(
    "/first.js",
    js(r#"await fetch("/set"); console.log("set");"#),
  );
  server.add(
    "/second.js",
    js(r#"await fetch("/whoami?from=second"); console.log("asked");"#),
  );
  let args = |client: &str| {
    vec![
      "run".to_string(),
      server.url("/sw.js"),
      "--client".into(),
      server.url(client),
      "--state".into(),
      state_dir.clone(),
      "--timeout".into(),
      "60".into(),
    ]
  };
  let first = args("/first.js");
  let (code, out, err) = run(&first.iter().map(String::as_str).collect::<Vec<_>>()).await;
  assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
  let second = args("/second.js");
  let second: Vec<&str> = second.iter().map(String::as_str).collect();
  let (code, out, err) = run(&second).await;
  assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
  // The session cookie ended with the first run.
  assert_eq!(
    cookies_sent(&server),
    [("second".to_string(), "kept=1".to_string())]
  );

  // A jar that is not one is an error, and stays as it was.
  let jar = state.path().join("cookies.json");
  std::fs::write(&jar, "{not a jar").unwrap();
  let (code, out, err) = run(&second).await;
  assert_eq!(code, Some(1), "stdout:\n{out}\nstderr:\n{err}");
  assert!(
    err.contains("the cookie jar") && err.contains("is corrupt"),
    "{err}"
  );
  assert_eq!(std::fs::read_to_string(&jar).unwrap(), "{not a jar");
}
