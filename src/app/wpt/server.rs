//! The WPT server: `wptserve` (PyPI) run by a small launcher (`serve.py`),
//! with a certificate authority and host certificate made with `openssl`
//! (`certs`).
//!
//! Serves the WPT root on 127.0.0.1 with two HTTP and two HTTPS ports (as
//! `wpt serve`: `{{ports[http][1]}}` etc. work), `.sub.` substitution with
//! wpt's host names, `.headers` files, Python handlers, the generated
//! `.window.html`/`.any.html`/`.any.serviceworker.html`/`.any.worker.js`
//! wrappers, and swharness's own `testharnessreport.js`/`testdriver-vendor.js`.
//! The host names are not in /etc/hosts: the runner hands
//! [`WptServer::host_overrides`] and the CA ([`WptServer::ca_pem_path`]) to
//! our network stack.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::manifest::Scheme;

const SERVE_PY: &str = include_str!("serve.py");
/// Our JS files (sources in `wpt/support/`), written next to the launcher
/// under the names the runner serves them by (our report and testdriver
/// vendor files take the place of WPT's; they are not upstream's).
const SUPPORT_FILES: &[(&str, &str)] = &[
  (
    "testharnessreport.js",
    include_str!("../../../wpt/support/swharness-report.js"),
  ),
  (
    "testdriver-vendor.js",
    include_str!("../../../wpt/support/automation.js"),
  ),
  (
    "any-window-global.js",
    include_str!("../../../wpt/support/any-window-global.js"),
  ),
  (
    "any-serviceworker-bootstrap.js",
    include_str!("../../../wpt/support/any-serviceworker-bootstrap.js"),
  ),
  (
    "any-dedicatedworker-bootstrap.js",
    include_str!("../../../wpt/support/any-dedicatedworker-bootstrap.js"),
  ),
  (
    "any-sharedworker-bootstrap.js",
    include_str!("../../../wpt/support/any-sharedworker-bootstrap.js"),
  ),
];

/// wpt's `browser_host`.
pub const BROWSER_HOST: &str = "web-platform.test";
/// wpt's `alternate_hosts.alt`.
pub const ALT_HOST: &str = "not-web-platform.test";
/// wpt's subdomains (before taking the product of depth 2).
pub const SUBDOMAINS: &[&str] = &["www", "www1", "www2", "天気の良い日", "élève"];
pub const NOT_SUBDOMAINS: &[&str] = &["nonexistent"];
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What an executor needs to reach the server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
  /// PEM of the CA that signed the server certificate: trust it for https.
  pub ca_pem_path: PathBuf,
  /// base64 SHA-256 of the server certificate's public key (SPKI), for a
  /// browser that trusts it by `--ignore-certificate-errors-spki-list`.
  pub cert_spki_sha256: String,
  /// Every WPT host name → 127.0.0.1 (port 0: the URL's port, or the
  /// scheme's default, is used).
  pub host_overrides: Vec<(String, SocketAddr)>,
  pub http_ports: Vec<u16>,
  pub https_ports: Vec<u16>,
  /// Host names that resolve to the server (wpt's `domains_set`).
  pub domains: Vec<String>,
}

impl ServerInfo {
  /// `http(s)://web-platform.test:PORT/` on the first port of the scheme.
  pub fn origin(&self, scheme: Scheme) -> url::Url {
    let port = match scheme {
      Scheme::Http => self.http_ports[0],
      Scheme::Https => self.https_ports[0],
    };
    url::Url::parse(&format!("{}://{BROWSER_HOST}:{port}/", scheme.as_str())).expect("valid origin")
  }

  /// Full URL of an absolute URL path (with optional query).
  pub fn url(&self, scheme: Scheme, path: &str) -> Result<url::Url> {
    self
      .origin(scheme)
      .join(path)
      .with_context(|| format!("bad URL path {path}"))
  }
}

#[derive(Debug, Clone)]
pub struct ServerOptions {
  pub doc_root: PathBuf,
  /// A directory whose `.js` files are served under `/resources/` ahead of
  /// the WPT root: npm `wpt-runner`'s `testharness/` folder
  /// (testharness.js, idlharness.js, webidl2/lib/webidl2.js).
  pub harness_dir: Option<PathBuf>,
  /// Python interpreter (default `$SWHARNESS_PYTHON` or `python3`).
  pub python: String,
  /// Where the server's log goes (default: `server.log` in its temp dir,
  /// or `$SWHARNESS_WPT_SERVER_LOG`).
  pub log_file: Option<PathBuf>,
  pub startup_timeout: Duration,
}

impl ServerOptions {
  pub fn new(doc_root: impl Into<PathBuf>) -> Self {
    ServerOptions {
      doc_root: doc_root.into(),
      harness_dir: None,
      python: std::env::var("SWHARNESS_PYTHON").unwrap_or_else(|_| "python3".to_string()),
      log_file: std::env::var_os("SWHARNESS_WPT_SERVER_LOG").map(PathBuf::from),
      startup_timeout: Duration::from_secs(60),
    }
  }
}

/// A running server; stopped (its whole process group) on drop.
pub struct WptServer {
  child: Option<tokio::process::Child>,
  stdin: Option<tokio::process::ChildStdin>,
  pgid: Option<u32>,
  info: ServerInfo,
  log_path: PathBuf,
  _dir: tempfile::TempDir,
}

#[derive(Deserialize)]
struct Ready {
  #[serde(default)]
  error: Option<String>,
  #[serde(default)]
  http: Vec<u16>,
  #[serde(default)]
  https: Vec<u16>,
  #[serde(default)]
  domains: Vec<String>,
}

/// IDNA (punycode) form of a host label list, as Python's `encode("idna")`.
fn idna(host: &str) -> String {
  match url::Url::parse(&format!("http://{host}/")) {
    Ok(u) => u.host_str().unwrap_or(host).to_string(),
    Err(_) => host.to_string(),
  }
}

fn product_depth2(base: &[&str]) -> Vec<String> {
  let mut out: Vec<String> = base.iter().map(|s| s.to_string()).collect();
  for a in base {
    for b in base {
      out.push(format!("{a}.{b}"));
    }
  }
  out
}

/// wpt's `domains_set`: both hosts and every subdomain (IDNA-encoded).
pub fn wpt_domains() -> Vec<String> {
  let mut out = Vec::new();
  for host in [BROWSER_HOST, ALT_HOST] {
    out.push(host.to_string());
    for sub in product_depth2(SUBDOMAINS) {
      out.push(idna(&format!("{sub}.{host}")));
    }
  }
  out.sort();
  out.dedup();
  out
}

impl WptServer {
  pub async fn start(opts: ServerOptions) -> Result<WptServer> {
    let doc_root = std::fs::canonicalize(&opts.doc_root)
      .with_context(|| format!("WPT root {} not found", opts.doc_root.display()))?;
    check_python(&opts.python).await?;
    let dir = tempfile::Builder::new()
      .prefix("swharness-wpt-")
      .tempdir()?;
    let support = dir.path().join("support");
    std::fs::create_dir_all(&support)?;
    for (name, text) in SUPPORT_FILES {
      std::fs::write(support.join(name), text)?;
    }
    let launcher = dir.path().join("serve.py");
    std::fs::write(&launcher, SERVE_PY)?;
    let domains = wpt_domains();
    let certs = super::certs::make_certs(&dir.path().join("certs"), &domains).await?;

    let harness_dir = match &opts.harness_dir {
      Some(d) if d.is_dir() => Some(std::fs::canonicalize(d)?),
      Some(d) => bail!("harness directory {} not found", d.display()),
      None => None,
    };
    let config = serde_json::json!({
      "doc_root": doc_root,
      "support_dir": support,
      "harness_dir": harness_dir,
      "bind": "127.0.0.1",
      "browser_host": BROWSER_HOST,
      "alt_host": ALT_HOST,
      "subdomains": product_depth2(SUBDOMAINS),
      "not_subdomains": product_depth2(NOT_SUBDOMAINS),
      "key_path": certs.key,
      "cert_path": certs.cert,
      "ca_path": certs.ca,
      "log_level": "INFO",
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;

    let log_path = opts
      .log_file
      .clone()
      .unwrap_or_else(|| dir.path().join("server.log"));
    let log =
      File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = tokio::process::Command::new(&opts.python);
    cmd
      .arg(&launcher)
      .arg(&config_path)
      .current_dir(dir.path())
      .env("PYTHONDONTWRITEBYTECODE", "1")
      .env("PYTHONUNBUFFERED", "1")
      .stdin(Stdio::piped())
      .stdout(Stdio::piped())
      .stderr(Stdio::from(log))
      .process_group(0)
      .kill_on_drop(true);
    let mut child = cmd
      .spawn()
      .with_context(|| format!("starting {}", opts.python))?;
    let pgid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut server = WptServer {
      child: Some(child),
      stdin,
      pgid,
      info: ServerInfo {
        ca_pem_path: certs.ca.clone(),
        cert_spki_sha256: certs.spki_sha256.clone(),
        host_overrides: Vec::new(),
        http_ports: Vec::new(),
        https_ports: Vec::new(),
        domains: Vec::new(),
      },
      log_path: log_path.clone(),
      _dir: dir,
    };

    let mut line = String::new();
    let read = tokio::time::timeout(
      opts.startup_timeout,
      BufReader::new(stdout).read_line(&mut line),
    )
    .await;
    let log_tail = || super::log_tail(&log_path, 20);
    match read {
      Err(_) => bail!(
        "the WPT server did not start within {:?}; log:\n{}",
        opts.startup_timeout,
        log_tail()
      ),
      Ok(Err(e)) => bail!("reading the WPT server's output: {e}"),
      Ok(Ok(0)) => bail!("the WPT server exited during startup; log:\n{}", log_tail()),
      Ok(Ok(_)) => {}
    }
    let ready: Ready = serde_json::from_str(line.trim())
      .with_context(|| format!("unexpected output from the WPT server: {line:?}"))?;
    if let Some(err) = ready.error {
      bail!("the WPT server failed to start: {err}");
    }
    if ready.http.len() < 2 || ready.https.len() < 2 {
      bail!(
        "the WPT server reported ports {:?} / {:?}",
        ready.http,
        ready.https
      );
    }
    // Port 0: a URL without a port goes to the scheme's default port
    // (where nothing listens), as it would on a real network.
    let overrides = ready
      .domains
      .iter()
      .map(|host| (host.clone(), SocketAddr::new(LOOPBACK, 0)))
      .collect();
    server.info.host_overrides = overrides;
    server.info.http_ports = ready.http;
    server.info.https_ports = ready.https;
    server.info.domains = ready.domains;
    Ok(server)
  }

  pub fn info(&self) -> ServerInfo {
    self.info.clone()
  }

  pub fn host_overrides(&self) -> Vec<(String, SocketAddr)> {
    self.info.host_overrides.clone()
  }

  pub fn ca_pem_path(&self) -> &Path {
    &self.info.ca_pem_path
  }

  pub fn log_path(&self) -> &Path {
    &self.log_path
  }

  pub fn url(&self, scheme: Scheme, path: &str) -> Result<url::Url> {
    self.info.url(scheme, path)
  }

  /// Stops the server: closes its stdin (the launcher then shuts down),
  /// waits briefly, then kills what is left of its process group.
  pub fn stop(&mut self) {
    self.stdin.take();
    let Some(mut child) = self.child.take() else {
      return;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
      match child.try_wait() {
        Ok(Some(_)) | Err(_) => break,
        Ok(None) => std::thread::sleep(Duration::from_millis(20)),
      }
    }
    if let Some(pgid) = self.pgid.take() {
      // The stash server is a child process of the launcher, in its group.
      let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    }
    let _ = child.start_kill();
    let _ = child.try_wait();
  }
}

impl Drop for WptServer {
  fn drop(&mut self) {
    self.stop();
  }
}

async fn check_python(python: &str) -> Result<()> {
  let out = tokio::process::Command::new(python)
    .args([
      "-c",
      "import wptserve, sys; sys.stdout.write(sys.version.split()[0])",
    ])
    .stdin(Stdio::null())
    .output()
    .await;
  match out {
    Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
      "{python} not found: `swharness wpt` runs the WPT server with Python 3 and wptserve \
       (install python3, then `python3 -m pip install wptserve`; `./x setup` does this)"
    ),
    Err(e) => bail!("running {python}: {e}"),
    Ok(o) if !o.status.success() => bail!(
      "wptserve is not installed for {python}: run `{python} -m pip install wptserve` \
       (`./x setup` does this)\n{}",
      String::from_utf8_lossy(&o.stderr).trim()
    ),
    Ok(_) => Ok(()),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn domains_match_wpt() {
    let d = wpt_domains();
    assert_eq!(d.len(), 2 * (1 + 5 + 25));
    for h in [
      "web-platform.test",
      "www.web-platform.test",
      "www1.web-platform.test",
      "www2.web-platform.test",
      "www.www2.web-platform.test",
      "not-web-platform.test",
      "www1.not-web-platform.test",
      "xn--n8j6ds53lwwkrqhv28a.web-platform.test",
      "www.xn--lve-6lad.web-platform.test",
    ] {
      assert!(d.iter().any(|x| x == h), "{h} missing");
    }
    assert!(!d.iter().any(|x| x.starts_with("nonexistent")));
  }
}

/// Real-server tests: they need python3 with wptserve (`./x setup`), openssl
/// and curl.
#[cfg(test)]
pub(crate) mod live_tests {
  use super::*;

  /// Fetches a URL with curl through the server's host overrides and CA.
  /// Returns (status, headers lowercased, body).
  pub(crate) fn curl(info: &ServerInfo, url: &url::Url) -> (u16, String, String) {
    let host = url.host_str().unwrap();
    let port = url.port().unwrap();
    let out = std::process::Command::new("curl")
      .args(["-sS", "--max-time", "20", "-D", "-", "--cacert"])
      .arg(&info.ca_pem_path)
      .arg("--resolve")
      .arg(format!("{host}:{port}:127.0.0.1"))
      .arg(url.as_str())
      .output()
      .expect("curl");
    assert!(
      out.status.success(),
      "curl {url}: {}",
      String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
  }

  pub(crate) fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (p, body) in files {
      let full = root.join(p);
      std::fs::create_dir_all(full.parent().unwrap()).unwrap();
      std::fs::write(full, body).unwrap();
    }
  }

  #[tokio::test]
  async fn serves_a_wpt_tree() {
    let root = tempfile::tempdir().unwrap();
    let harness = tempfile::tempdir().unwrap();
    write_tree(
      root.path(),
      &[
        ("common/info.sub.js", "var H='{{host}}', P='{{ports[https][0]}}', P2='{{ports[http][1]}}', W='{{domains[www1]}}', A='{{hosts[alt][]}}';"),
        ("common/ws.sub.js", "var WSS='{{ports[wss][0]}}';"),
        ("d/stash.py", "def main(request, response):\n    key = b'123e4567-e89b-12d3-a456-426614174000'\n    if request.GET.first(b'op') == b'put':\n        request.server.stash.put(key, b'stored')\n        print('handler output goes to the log')\n        return b'ok'\n    return request.server.stash.take(key) or b'empty'\n"),
        ("d/plain.txt", "hello"),
        ("d/plain.txt.headers", "X-Test: yes\nContent-Type: text/x-swharness\n"),
        ("d/echo.py", "def main(request, response):\n    return [(b'Content-Type', b'text/plain')], b'py:' + request.GET.first(b'x', b'none')\n"),
        ("d/a.https.window.js", "// META: title=Hello & <you>\n// META: timeout=long\n// META: script=/common/info.sub.js\ntest(() => {});\n"),
        ("d/b.any.js", "// META: global=window,serviceworker\n// META: script=helper.js\ntest(() => {});\n"),
        ("d/c.any.js", "test(() => {});\n"),
        ("resources/testharness.js", "// upstream copy in the root\n"),
      ],
    );
    write_tree(
      harness.path(),
      &[
        ("testharness.js", "// from harness dir\n"),
        ("webidl2/lib/webidl2.js", "// webidl2\n"),
      ],
    );
    let mut opts = ServerOptions::new(root.path());
    opts.harness_dir = Some(harness.path().to_path_buf());
    let server = WptServer::start(opts).await.expect("server starts");
    let info = server.info();
    assert_eq!(info.http_ports.len(), 2);
    assert_eq!(info.https_ports.len(), 2);
    assert!(info.domains.iter().any(|d| d == "www2.web-platform.test"));
    assert!(info
      .host_overrides
      .iter()
      .any(|(h, a)| h == "not-web-platform.test" && a.ip().is_loopback() && a.port() == 0));

    let info2 = info.clone();
    tokio::task::spawn_blocking(move || {
      let info = info2;
      let https = |p: &str| info.url(Scheme::Https, p).unwrap();
      let http = |p: &str| info.url(Scheme::Http, p).unwrap();

      let (s, _, body) = curl(&info, &https("/common/info.sub.js"));
      assert_eq!(s, 200);
      assert_eq!(
        body,
        format!(
          "var H='web-platform.test', P='{}', P2='{}', W='www1.web-platform.test', A='not-web-platform.test';",
          info.https_ports[0], info.http_ports[1]
        )
      );
      // Other hosts and the second HTTPS port work with the same certificate.
      let other = url::Url::parse(&format!("https://www1.not-web-platform.test:{}/d/plain.txt", info.https_ports[1])).unwrap();
      let (s, head, body) = curl(&info, &other);
      assert_eq!((s, body.as_str()), (200, "hello"));
      assert!(head.contains("x-test: yes"), "{head}");
      assert!(head.contains("content-type: text/x-swharness"), "{head}");
      let (s, _, body) = curl(&info, &https("/common/ws.sub.js"));
      assert_eq!(s, 200);
      assert!(body.starts_with("var WSS='") && body.len() > 12, "{body}");
      assert_eq!(curl(&info, &http("/d/stash.py?op=put")).2, "ok");
      assert_eq!(curl(&info, &https("/d/stash.py?op=take")).2, "stored");
      assert_eq!(curl(&info, &https("/d/stash.py?op=take")).2, "empty");
      let (s, _, body) = curl(&info, &http("/d/echo.py?x=42"));
      assert_eq!((s, body.as_str()), (200, "py:42"));

      let (s, head, body) = curl(&info, &https("/d/a.https.window.html"));
      assert_eq!(s, 200);
      assert!(head.contains("content-type: text/html"), "{head}");
      assert_eq!(
        body,
        "<!doctype html>\n<meta charset=utf-8>\n<title>Hello &amp; &lt;you></title>\n<meta name=\"timeout\" content=\"long\">\n\
         <script src=\"/resources/testharness.js\"></script>\n<script src=\"/resources/testharnessreport.js\"></script>\n\
         <script src=\"/common/info.sub.js\"></script>\n<div id=log></div>\n<script src=\"/d/a.https.window.js\"></script>\n"
      );
      let (s, _, body) = curl(&info, &https("/d/b.any.html"));
      assert_eq!(s, 200);
      assert!(body.contains("isWindow: function() { return true; }"), "{body}");
      assert!(body.contains("<script src=\"helper.js\"></script>\n<div id=log></div>\n<script src=\"/d/b.any.js\"></script>"), "{body}");
      let (s, _, body) = curl(&info, &https("/d/b.any.serviceworker.html"));
      assert_eq!(s, 200);
      assert!(body.contains("navigator.serviceWorker.register(\"/d/b.any.worker.js\", {scope});"), "{body}");
      let (s, head, body) = curl(&info, &https("/d/b.any.worker.js"));
      assert_eq!(s, 200);
      assert!(head.contains("content-type: text/javascript"), "{head}");
      assert!(body.contains("importScripts(\"/resources/testharness.js\");\nimportScripts(\"helper.js\")\nimportScripts(\"/d/b.any.js\");\ndone();\n"), "{body}");
      // c.any.js has no serviceworker global.
      assert_eq!(curl(&info, &https("/d/c.any.serviceworker.html")).0, 404);

      // Our support files and the harness dir.
      let (s, _, body) = curl(&info, &https("/resources/testharnessreport.js"));
      assert_eq!(s, 200);
      assert!(body.contains("__swharnessWptReport"));
      assert!(curl(&info, &https("/resources/testdriver-vendor.js")).2.contains("setPermission"));
      assert!(curl(&info, &https("/resources/swharness/any-serviceworker-bootstrap.js")).2.contains("fetch_tests_from_worker"));
      assert_eq!(curl(&info, &https("/resources/testharness.js")).2, "// from harness dir\n");
      assert_eq!(curl(&info, &https("/resources/WebIDLParser.js")).2, "// webidl2\n");
      assert_eq!(curl(&info, &https("/missing.txt")).0, 404);
    })
    .await
    .unwrap();

    // Stopping kills the process group.
    let pgid = server.pgid.unwrap();
    drop(server);
    let alive = std::process::Command::new("kill")
      .args(["-0", "--", &format!("-{pgid}")])
      .stderr(Stdio::null())
      .status()
      .unwrap();
    assert!(!alive.success(), "process group {pgid} still alive");
  }
}
