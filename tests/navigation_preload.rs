//! Navigation preload (Service Workers, NavigationPreloadManager and
//! `preloadResponse`) against a server that records what it is sent: the
//! navigation request goes to the network with the header the worker set,
//! and the worker answers with that response.

mod support;

use support::fault_server::*;

const SW: &str = r#"
self.addEventListener("activate", (e) => e.waitUntil((async () => {
  const np = self.registration.navigationPreload;
  console.log("same object", np === self.registration.navigationPreload);
  await np.enable();
  await np.setHeaderValue("hello-preload");
  const st = await np.getState();
  console.log("state", st.enabled, st.headerValue);
  let bad = "none";
  try {
    await np.setHeaderValue("a\nb");
  } catch (err) {
    bad = err.name;
  }
  console.log("bad header", bad);
})()));
self.addEventListener("fetch", (e) => {
  if (e.request.mode !== "navigate") return;
  e.respondWith((async () => {
    const r = await e.preloadResponse;
    console.log("preload", r ? r.status : "none", r ? (await r.clone().text()).includes("Preloaded") : false);
    return r;
  })());
});
"#;

const PAGE: &str =
  "<!doctype html><title>Preloaded</title><script>console.log('page ran', document.title)</script>";

#[tokio::test]
async fn a_navigation_preload_reaches_the_worker_with_its_header() {
  let server = FaultServer::start().await;
  let js = |body: &str| Route {
    headers: vec![("Content-Type".into(), "application/javascript".into())],
    ..Route::ok(body)
  };
  server.add("/app/sw.js", js(SW));
  server.add(
    "/app/index.html",
    Route {
      headers: vec![("Content-Type".into(), "text/html".into())],
      ..Route::ok(PAGE)
    },
  );
  let state = tempfile::tempdir().unwrap();
  let run = || async {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_swharness"))
      .args([
        "run",
        &server.url("/app/sw.js"),
        "--client",
        &server.url("/app/index.html"),
        "--state",
        state.path().to_str().unwrap(),
        "--timeout",
        "30",
      ])
      .output()
      .await
      .unwrap()
  };
  let out = run().await;
  let stdout = String::from_utf8_lossy(&out.stdout);
  assert!(
    out.status.success(),
    "stdout: {stdout}\nstderr: {}",
    String::from_utf8_lossy(&out.stderr)
  );
  for line in [
    "[sw] same object true\n",
    "[sw] state true hello-preload\n",
    "[sw] bad header TypeError\n",
    "[sw] preload 200 true\n",
    "[client 1] page ran Preloaded\n",
  ] {
    assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
  }
  // One request for the page: the preload, with the header; the worker
  // answered with its response.
  let page = server.requests_to("/app/index.html");
  assert_eq!(page.len(), 1, "{page:?}");
  assert_eq!(
    page[0].header("Service-Worker-Navigation-Preload"),
    Some("hello-preload")
  );
  // The state is kept with the registration: the next run (no activate
  // event) preloads with the same header.
  let again = run().await;
  assert!(again.status.success());
  let again = String::from_utf8_lossy(&again.stdout);
  assert!(again.contains("[sw] preload 200 true\n"), "{again}");
  let page = server.requests_to("/app/index.html");
  assert_eq!(page.len(), 2, "{page:?}");
  assert_eq!(
    page[1].header("Service-Worker-Navigation-Preload"),
    Some("hello-preload")
  );
}
