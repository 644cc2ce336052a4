//! Black-box tests of the service worker runtime through `swharness run`:
//! fetch interception, navigations, updates and exceptions in listeners.

mod support;

use std::process::Command;

use support::run::{fixture, run_files, swharness, trace_events, wait_for_trace};

#[test]
fn a_controlled_page_fetches_through_its_worker() {
  let dir = tempfile::tempdir().unwrap();
  let trace = dir.path().join("trace.jsonl");
  let run = swharness(&[
    "run",
    &fixture("fetch-event/sw.js"),
    "--client",
    &fixture("fetch-event/page.js"),
    "--trace",
    trace.to_str().unwrap(),
    "--timeout",
    "30",
  ]);
  // The listeners that threw count as uncaught errors: exit 1, but the run
  // went on to the end.
  assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[sw] second install listener\n",
    "[client 1] controlled: true\n",
    "[client 1] hello: from-sw\n",
    "[client 1] network: true\n",
    "[client 1] broken: TypeError\n",
    "[client 1] throws: 404\n",
  ]);
  let stderr = &run.stderr;
  assert!(
    stderr.contains("Uncaught Error: the first install listener throws"),
    "{stderr}"
  );
  assert!(
    stderr.contains("Uncaught Error: the fetch listener throws"),
    "{stderr}"
  );
  assert!(
    stderr.contains("The FetchEvent for \"http://127.0.0.1:")
      && stderr
        .contains("/broken\" resulted in a network error response: the promise was rejected"),
    "{stderr}"
  );
  // The trace has one fetch-event per request, with its outcome.
  let outcomes: Vec<(String, String)> = trace_events(&trace, "fetch-event")
    .iter()
    .map(|v| {
      let url = v["url"]
        .as_str()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
      (url, v["outcome"].as_str().unwrap_or("").to_string())
    })
    .collect();
  let expected: Vec<(String, String)> = [
    // The page's own module script, which the worker does not answer.
    ("page.js", "network-fallback"),
    ("hello", "respondWith"),
    ("page.js", "network-fallback"),
    ("broken", "network-error"),
    ("throws", "network-fallback"),
  ]
  .iter()
  .map(|(a, b)| (a.to_string(), b.to_string()))
  .collect();
  assert_eq!(outcomes, expected);
}

#[test]
fn html_pages_are_navigated_to_through_the_worker() {
  let dir = tempfile::tempdir().unwrap();
  let trace = dir.path().join("trace.jsonl");
  let run = swharness(&[
    "run",
    &fixture("navigation/sw.js"),
    "--client",
    &fixture("navigation/index.html"),
    "--client",
    &fixture("navigation/made.html"),
    "--client",
    &fixture("navigation/go.html"),
    "--trace",
    trace.to_str().unwrap(),
    "--timeout",
    "30",
  ]);
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    // The worker sees each navigation request.
    "[sw] navigate /index.html destination=document clientId=\"\" resulting=36\n",
    "[sw] navigate /made.html destination=document clientId=\"\" resulting=36\n",
    // The network's page: its title, classic scripts in order, the module
    // script after them, a subresource answered by its controller.
    "[client 1] inline sees classic ran Index page\n",
    "[client 1] module runs last: string\n",
    "[client 1] subresource: from-sw controlled: true\n",
    // The worker's page runs, in the client the navigation made.
    "[client 2] inline in Made by the worker resulting is me: true\n",
    // clients.openWindow() navigates too.
    "[sw] opened true window\n",
    // WindowClient.navigate(): a new client replaces the old one.
    "[sw] navigated true true true true\n",
  ]);
  // The worker's page ran three times: as a --client, in the window
  // openWindow() opened, and in the one navigate() made.
  let made = run
    .stdout
    .matches("] inline in Made by the worker resulting is me: true\n")
    .count();
  assert_eq!(made, 3, "{}", run.stdout);
  // The page's requests carry the client id its navigation made.
  let events = trace_events(&trace, "fetch-event");
  let ends = |suffix: &str| {
    events
      .iter()
      .find(|v| v["url"].as_str().unwrap_or("").ends_with(suffix))
      .unwrap_or_else(|| panic!("no fetch event for {suffix}"))
  };
  let navigation = ends("/index.html");
  assert_eq!(navigation["mode"], "navigate");
  assert_eq!(navigation["outcome"], "network-fallback");
  assert_eq!(ends("/hello")["client"], navigation["resultingClient"]);
  assert_eq!(ends("/made.html")["outcome"], "respondWith");
  // Each navigation the worker controlled checks for an update.
  assert_eq!(
    trace_events(&trace, "update-check").len(),
    5,
    "three pages, a window opened, a window navigated"
  );
}

#[test]
fn an_update_compares_the_imported_scripts_byte_for_byte() {
  let dir = tempfile::tempdir().unwrap();
  let app = dir.path().join("app");
  let state = dir.path().join("state");
  std::fs::create_dir_all(&app).unwrap();
  std::fs::write(
    app.join("sw.js"),
    "importScripts('helper.js');\nself.addEventListener('install', () => console.log('install', VERSION));\n",
  )
  .unwrap();
  let run = |trace: &str| {
    let run = swharness(&[
      "run",
      app.join("sw.js").to_str().unwrap(),
      "--state",
      state.to_str().unwrap(),
      "--trace",
      dir.path().join(trace).to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    run.stdout
  };
  std::fs::write(app.join("helper.js"), "var VERSION = 1;\n").unwrap();
  assert!(run("1.jsonl").contains("[sw] install 1\n"));
  // The same scripts: the registration stays as it is.
  let same = run("2.jsonl");
  assert!(!same.contains("install"), "{same}");
  // Only the imported script changed: a new worker installs, and it sees
  // the new script, while the old one imports what it was installed with.
  std::fs::write(app.join("helper.js"), "var VERSION = 2;\n").unwrap();
  let changed = run("3.jsonl");
  assert!(changed.contains("install 2\n"), "{changed}");
  let checks = trace_events(&dir.path().join("3.jsonl"), "update-check");
  assert_eq!(checks.len(), 1);
  assert_eq!(checks[0]["changed"], true);
}

#[test]
fn a_worker_without_a_fetch_listener_is_not_asked() {
  let dir = tempfile::tempdir().unwrap();
  // Twice: the second fetch takes the page's shortcut, which answers on
  // the page's own thread when no fetch event is needed.
  let page = "for (let i = 0; i < 2; i++) {\n  console.log('got', (await (await fetch('data.txt')).text()).trim());\n}\n";
  std::fs::write(dir.path().join("page.js"), page).unwrap();
  std::fs::write(dir.path().join("data.txt"), "network\n").unwrap();
  for (sw, expect, events) in [
    // Handle Fetch, step 16: no fetch listener, no fetch event.
    (
      "self.addEventListener('install', () => {});\n",
      "[client 1] got network\n",
      0,
    ),
    // An onfetch handler is a listener. It is asked for the page's
    // module script too, which it leaves to the network.
    (
      "self.onfetch = (e) => {\n  if (e.request.url.endsWith('data.txt')) e.respondWith(new Response('via onfetch'));\n};\n",
      "[client 1] got via onfetch\n",
      3,
    ),
  ] {
    std::fs::write(dir.path().join("sw.js"), sw).unwrap();
    let trace = dir.path().join("trace.jsonl");
    let run = swharness(&[
      "run",
      dir.path().join("sw.js").to_str().unwrap(),
      "--client",
      dir.path().join("page.js").to_str().unwrap(),
      "--trace",
      trace.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    run.assert_lines(&[expect]);
    assert_eq!(trace_events(&trace, "fetch-event").len(), events, "{sw}");
  }
}

#[test]
fn an_endless_page_from_the_worker_fails_the_navigation_instead_of_hanging() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    "self.addEventListener('fetch', (e) => {\n  if (e.request.mode !== 'navigate') return;\n  e.respondWith(new Response(new ReadableStream({\n    pull(c) { c.enqueue(new Uint8Array(1 << 20).fill(65)); },\n  })));\n});\n",
  )
  .unwrap();
  std::fs::write(dir.path().join("page.html"), "<title>never seen</title>\n").unwrap();
  let run = swharness(&[
    "run",
    dir.path().join("sw.js").to_str().unwrap(),
    "--client",
    dir.path().join("page.html").to_str().unwrap(),
    "--timeout",
    "60",
  ]);
  assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
  assert!(
    run
      .stderr
      .contains("failed: the page is larger than 64 MiB"),
    "{}",
    run.stderr
  );
}

#[test]
fn static_routes_are_kept_with_the_registration() {
  let dir = tempfile::tempdir().unwrap();
  std::fs::write(
    dir.path().join("sw.js"),
    "self.addEventListener('install', (e) => e.addRoutes({condition: {urlPattern: 'data.txt'}, source: 'network'}));\nself.addEventListener('fetch', (e) => {\n  if (e.request.destination !== 'script') e.respondWith(new Response('from-sw'));\n});\n",
  )
  .unwrap();
  std::fs::write(dir.path().join("data.txt"), "network\n").unwrap();
  std::fs::write(
    dir.path().join("page.js"),
    "console.log('got', (await (await fetch('data.txt')).text()).trim());\n",
  )
  .unwrap();
  let state = dir.path().join("state");
  for n in 1..=2 {
    let trace = dir.path().join(format!("{n}.jsonl"));
    let run = swharness(&[
      "run",
      dir.path().join("sw.js").to_str().unwrap(),
      "--client",
      dir.path().join("page.js").to_str().unwrap(),
      "--state",
      state.to_str().unwrap(),
      "--trace",
      trace.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    // The second run installs nothing: the route came back from --state.
    run.assert_lines(&["[client 1] got network\n"]);
    let routes = trace_events(&trace, "fetch-route");
    assert_eq!(routes.len(), 1, "run {n}");
    assert_eq!(routes[0]["outcome"], "network");
  }
}

/// Once its worker runs, a page's fetch goes straight to it, not through
/// the browser's thread. When the worker has been stopped (idle), that
/// way declines and the browser starts the worker again for the event.
/// The controlled page waits for a BroadcastChannel message from a page
/// out of the worker's scope, which waits for a flag module this test
/// writes once the trace shows the worker stopped (polling from the
/// controlled page would start the worker again).
#[test]
fn a_fetch_after_the_worker_stopped_starts_it_again() {
  let dir = tempfile::tempdir().unwrap();
  let app = dir.path().join("app");
  std::fs::create_dir(&app).unwrap();
  std::fs::write(
    app.join("sw.js"),
    r#"
let fetches = 0;
self.addEventListener("fetch", (e) => {
  if (e.request.url.endsWith("/count")) e.respondWith(new Response(`fetches=${++fetches}`));
});
"#,
  )
  .unwrap();
  std::fs::write(
    app.join("page.js"),
    r#"
const go = new Promise((resolve) => new BroadcastChannel("test").onmessage = resolve);
for (let i = 0; i < 3; i++) console.log(`before: ${await (await fetch("count")).text()}`);
console.log("FETCHED");
await go;
console.log(`after: ${await (await fetch("count")).text()}`);
"#,
  )
  .unwrap();
  std::fs::write(
    dir.path().join("outside.js"),
    r#"
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
for (let i = 0; !(await import(`./flag.js?${i}`)).stopped; i++) await sleep(20);
new BroadcastChannel("test").postMessage("go");
"#,
  )
  .unwrap();
  let flag = dir.path().join("flag.js");
  std::fs::write(&flag, "export const stopped = false;\n").unwrap();
  let trace = dir.path().join("trace.jsonl");
  let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
  let mut child = Command::new(env!("CARGO_BIN_EXE_swharness"))
    .args(["run", &path(&app.join("sw.js"))])
    .args(["--client", &path(&app.join("page.js"))])
    .args(["--client", &path(&dir.path().join("outside.js"))])
    .args([
      "--sw-idle-timeout",
      "0.2",
      "--timeout",
      "60",
      "--trace",
      &path(&trace),
    ])
    .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
    .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
    .spawn()
    .unwrap();
  wait_for_trace(&mut child, &trace, |t| {
    t.find("\"text\":\"FETCHED")
      .is_some_and(|i| t[i..].contains("\"kind\":\"worker-stopped\""))
  });
  support::run::replace_file(&flag, "export const stopped = true;\n");
  let status = child.wait().unwrap();
  let stdout = std::fs::read_to_string(dir.path().join("stdout")).unwrap();
  let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
  assert!(status.success(), "{stdout}\n{stderr}");
  for line in [
    "before: fetches=1\n",
    "before: fetches=2\n",
    "before: fetches=3\n",
    // A fresh realm: its counter starts again.
    "after: fetches=1\n",
  ] {
    assert!(
      stdout.contains(line),
      "{line:?} missing from:\n{stdout}\n{stderr}"
    );
  }
  // (The page's module script has its own fetch event.)
  let events: Vec<String> = trace_events(&trace, "fetch-event")
    .iter()
    .filter(|v| v["url"].as_str().is_some_and(|u| u.ends_with("/count")))
    .map(|v| v["outcome"].as_str().unwrap_or("").to_string())
    .collect();
  assert_eq!(events, ["respondWith"; 4], "one fetch-event each");
}

#[test]
fn ports_kept_open_do_not_hold_the_run_and_no_message_is_lost() {
  let dir = tempfile::tempdir().unwrap();
  // The worker answers each number on the port it was given with the next
  // one; the page answers back until 200. Neither closes its port, and
  // between two messages both realms have nothing else to do (the page
  // receives the odd numbers).
  let sw = "self.onmessage = (e) => {\n  const port = e.ports[0];\n  port.onmessage = (m) => port.postMessage(m.data + 1);\n};\n";
  let page = r#"await navigator.serviceWorker.register("sw.js");
const sw = (await navigator.serviceWorker.ready).active;
const channel = new MessageChannel();
channel.port1.onmessage = (e) => {
  if (e.data >= 200) console.log("last", e.data);
  else channel.port1.postMessage(e.data + 1);
};
sw.postMessage("start", [channel.port2]);
channel.port1.postMessage(0);
// A message to a port of this very page, sent as its script ends.
const own = new MessageChannel();
own.port1.addEventListener("message", (e) => console.log("own", e.data));
own.port1.start();
own.port2.postMessage("late");
"#;
  let run = run_files(dir.path(), &[("sw.js", sw), ("page.js", page)], "page.js");
  // Exit 3 would be the timeout.
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&["[client 1] own late\n", "[client 1] last 201\n"]);
}

#[test]
fn a_controlled_clients_scripts_go_through_its_worker() {
  let dir = tempfile::tempdir().unwrap();
  let sw = r#"self.addEventListener("fetch", (e) => {
  const path = new URL(e.request.url).pathname;
  const js = (text) => new Response(text, { headers: { "content-type": "text/javascript" } });
  if (path.endsWith(".js")) console.log("fetch", path, e.request.destination, e.request.mode);
  if (path.endsWith("/classic.js")) e.respondWith(js("console.log('classic: from-sw');"));
  if (path.endsWith("/dep.js")) e.respondWith(js("export const v = 'from-sw';"));
  if (path.endsWith("/imported.js")) e.respondWith(js("self.v = 'from-sw';"));
  if (path.endsWith("/missing.js")) e.respondWith(new Response("nope", { status: 404 }));
});
"#;
  let files = [
    ("sw.js", sw),
    (
      "index.html",
      "<!doctype html><title>t</title>\n<script src=\"classic.js\"></script>\n<script src=\"missing.js\"></script>\n<script type=\"module\" src=\"main.js\"></script>\n",
    ),
    ("classic.js", "console.log('classic: from-network');\n"),
    ("dep.js", "export const v = 'from-network';\n"),
    ("imported.js", "self.v = 'from-network';\n"),
    ("missing.js", "console.log('missing: from-network');\n"),
    (
      "main.js",
      "import { v } from './dep.js';\nconsole.log('static import:', v);\nconsole.log('dynamic import:', (await import('./dep.js?dynamic')).v);\nconst w = new Worker('worker.js');\nconsole.log('importScripts:', await new Promise((r) => (w.onmessage = (e) => r(e.data))));\n",
    ),
    ("worker.js", "importScripts('imported.js');\npostMessage(self.v);\n"),
  ];
  let run = run_files(dir.path(), &files, "index.html");
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[sw] fetch /classic.js script no-cors\n",
    "[client 1] classic: from-sw\n",
    "[sw] fetch /main.js script cors\n",
    "[client 1] static import: from-sw\n",
    "[client 1] dynamic import: from-sw\n",
    "[client 1] importScripts: from-sw\n",
  ]);
  // The worker's 404 is the script's failure: it does not run, and the
  // network's copy is not taken instead.
  assert!(
    !run.stdout.contains("missing: from-network"),
    "{}",
    run.stdout
  );
  assert!(
    run.stderr.contains("missing.js': HTTP status 404"),
    "{}",
    run.stderr
  );
}

#[test]
fn a_top_level_page_navigates_itself() {
  let dir = tempfile::tempdir().unwrap();
  // The worker makes page.html: it says whether its navigation was a
  // reload, and reloads itself when it was not.
  let sw = r#"self.addEventListener("fetch", (e) => {
  if (!e.request.url.includes("/page.html")) return;
  const reload = e.request.isReloadNavigation;
  const script = `console.log("page", ${reload}, location.search, !!navigator.serviceWorker.controller);` +
    (reload ? "" : "location.reload();");
  e.respondWith(new Response(`<!doctype html><title>p</title><script>${script}</script>`, {
    headers: { "content-type": "text/html" },
  }));
});
"#;
  let start = "<!doctype html><title>start</title>\n<script>console.log('start');\nwindow.location = 'page.html?x=1';</script>\n";
  let run = run_files(
    dir.path(),
    &[("sw.js", sw), ("start.html", start)],
    "start.html",
  );
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[client 1] start\n",
    "[client 2] page false ?x=1 true\n",
    "[client 3] page true ?x=1 true\n",
  ]);
}

#[test]
fn an_event_source_goes_through_the_worker_and_reconnects() {
  let dir = tempfile::tempdir().unwrap();
  // The first stream ends with an incomplete event (dropped); the second
  // connection carries the last event id it saw.
  let sw = r#"let connections = 0;
self.addEventListener("fetch", (e) => {
  if (!e.request.url.endsWith("/events")) return;
  const r = e.request;
  const body = ++connections === 1
    ? `retry: 10\r\n: a comment\r\ndata: ${r.mode} ${r.cache} ${r.credentials} ${r.headers.get("accept")}\r\n\r\nevent: custom\ndata: line1\ndata: line2\nid: 7\n\ndata: dropped`
    : `data: again ${r.headers.get("last-event-id")}\r\r`;
  e.respondWith(new Response(body, { headers: { "content-type": "text/event-stream" } }));
});
"#;
  let page = r#"const es = new EventSource("events");
console.log("readyState", es.readyState);
es.onopen = () => console.log("open", es.readyState);
es.onerror = () => console.log("error", es.readyState);
es.onmessage = (e) => {
  console.log("message", e.data, JSON.stringify(e.lastEventId), e.origin === location.origin);
  if (e.data.startsWith("again")) es.close();
};
es.addEventListener("custom", (e) => console.log("custom", JSON.stringify(e.data), e.lastEventId));
try {
  new EventSource("http://[bad");
} catch (e) {
  console.log("bad URL", e.name);
}
"#;
  let run = run_files(dir.path(), &[("sw.js", sw), ("page.js", page)], "page.js");
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  let lines: Vec<&str> = run.stdout.lines().collect();
  assert_eq!(
    lines,
    [
      "[client 1] readyState 0",
      "[client 1] bad URL SyntaxError",
      "[client 1] open 1",
      "[client 1] message cors no-store same-origin text/event-stream \"\" true",
      "[client 1] custom \"line1\\nline2\" 7",
      "[client 1] error 0",
      "[client 1] open 1",
      "[client 1] message again 7 \"7\" true",
    ]
  );
}

#[test]
fn a_synchronous_xhr_goes_through_the_worker() {
  let dir = tempfile::tempdir().unwrap();
  let sw = r#"self.addEventListener("fetch", (e) => {
  if (e.request.url.endsWith("/answered")) {
    e.waitUntil(e.request.text().then((t) => console.log("body", t, e.request.method, e.request.mode)));
    e.respondWith(new Response("from-sw", { status: 201, headers: { "x-from": "sw" } }));
  }
});
"#;
  let page = r#"for (const [method, path] of [["POST", "answered"], ["GET", "data.txt"]]) {
  const xhr = new XMLHttpRequest();
  xhr.open(method, path, false);
  xhr.send(method === "POST" ? "hello" : null);
  console.log(path, xhr.status, xhr.getResponseHeader("x-from"), xhr.responseText.trim());
}
"#;
  let run = run_files(
    dir.path(),
    &[("sw.js", sw), ("page.js", page), ("data.txt", "network\n")],
    "page.js",
  );
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  run.assert_lines(&[
    "[sw] body hello POST cors\n",
    "[client 1] answered 201 sw from-sw\n",
    "[client 1] data.txt 200 null network\n",
  ]);
}

#[test]
fn a_form_submission_navigates_through_the_worker() {
  let dir = tempfile::tempdir().unwrap();
  // The worker answers "echo" navigations with a page that logs what was
  // sent: the method, the content type and the body, or the query.
  let sw = r#"self.addEventListener("fetch", (e) => {
  if (e.request.mode !== "navigate" || !e.request.url.includes("/echo")) return;
  e.respondWith((async () => {
    const r = e.request;
    const said = `${r.method} ${r.headers.get("content-type")} ${await r.text()} ${new URL(r.url).search}`;
    return new Response(`<!doctype html><script>console.log(${JSON.stringify(said)}, location.pathname);</script>`, {
      headers: { "content-type": "text/html" },
    });
  })());
});
"#;
  let start = r#"<!doctype html><title>start</title>
<script>
// A GET form into a named iframe, then a POST form to this window.
const frame = document.createElement("iframe");
frame.name = "target-frame";
document.body.appendChild(frame);
const form = document.createElement("form");
const input = (name, value, type = "text") => {
  const i = document.createElement("input");
  i.name = name;
  i.value = value;
  i.type = type;
  form.appendChild(i);
};
input("a", "1 2");
input("b", "x&y");
input("unchecked", "no", "checkbox");
form.action = "echo";
form.target = "target-frame";
let loads = 0;
frame.onload = () => {
  if (++loads === 1) {
    // Then a multipart POST into the frame, then a POST to this window.
    form.method = "post";
    form.enctype = "multipart/form-data";
  } else {
    form.target = "";
    form.enctype = "";
  }
  form.submit();
};
document.body.appendChild(form);
form.submit();
</script>
"#;
  let run = run_files(
    dir.path(),
    &[("sw.js", sw), ("start.html", start)],
    "start.html",
  );
  assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
  // The multipart body has a part per entry (the console prints each of
  // its lines with the client's label).
  run.assert_lines(&[
    "[client 3] POST multipart/form-data; boundary=",
    "[client 3] Content-Disposition: form-data; name=\"a\"\n[client 3] \n[client 3] 1 2\n",
    "[client 3] Content-Disposition: form-data; name=\"b\"\n[client 3] \n[client 3] x&y\n",
  ]);
  run.assert_lines(&[
    "[client 2] GET null  ?a=1+2&b=x%26y /echo\n",
    "[client 4] POST application/x-www-form-urlencoded a=1+2&b=x%26y  /echo\n",
  ]);
}
