"""swharness WPT server launcher (written to a temp dir by src/wpt/server.rs).

Runs wptserve (PyPI) the way `wpt serve` does, in one process:
  * 2 HTTP and 2 HTTPS servers on 127.0.0.1, ephemeral ports that are not
    fetch "bad ports";
  * wpt's configuration (browser host web-platform.test, alt host
    not-web-platform.test, the www/www1/www2/IDN subdomains) so `.sub.`
    substitution gives the same values as upstream;
  * wptserve's standard handlers: files with `.headers`, `.sub.`, `?pipe=`,
    `*.py` handlers, `*.asis`; a stash server for handlers that use it;
  * generated wrappers: *.window.html, *.any.html, *.any.serviceworker.html,
    *.any.worker.js (same HTML/JS as wpt serve);
  * swharness's own /resources/testharnessreport.js, testdriver-vendor.js and
    /resources/swharness/*, and optionally testharness.js & co. from a
    separate harness directory (npm `wpt-runner`'s testharness/ folder).

Usage: python3 serve.py CONFIG.json
Prints one JSON line on stdout once serving:
  {"http": [P1, P2], "https": [P3, P4], "domains": [...], "not_domains": [...]}
or {"error": "..."} on failure. Exits when stdin is closed or on SIGTERM.
"""

import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import traceback
import uuid


def fail(message):
  sys.stdout.write(json.dumps({"error": message}) + "\n")
  sys.stdout.flush()
  sys.exit(1)


try:
  from wptserve import handlers, stash
  from wptserve import config as wconfig
  from wptserve import server as wserver
  from wptserve.handlers import filesystem_path, load_headers, wrap_pipeline
  from wptserve.request import Server as RequestServer
  from wptserve.utils import HTTPException, get_port, is_bad_port
except ImportError as e:
  fail("cannot import wptserve (%s): install it with `python3 -m pip install wptserve`" % e)


# --- META parsing (as WPT's manifest/sourcefile.py) ---------------------------

def read_meta(path):
  """The leading `// META: key=value` lines of a .js test."""
  out = []
  try:
    with open(path, "rb") as f:
      for raw in f:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        s = line.lstrip()
        if not s.startswith("//"):
          break
        s = s[2:].lstrip()
        if not s.startswith("META:"):
          break
        s = s[5:].lstrip()
        if "=" not in s:
          break
        key, value = s.split("=", 1)
        if not all(c.isalnum() or c == "_" for c in key):
          break
        out.append((key, value))
  except OSError:
    raise HTTPException(404)
  return out


GLOBAL_LONGHAND = {
  "worker": {"dedicatedworker", "sharedworker", "serviceworker"},
  "worker-module": {"dedicatedworker-module", "sharedworker-module", "serviceworker-module"},
}
KNOWN_GLOBALS = {"window", "serviceworker", "serviceworker-module", "sharedworker",
                 "sharedworker-module", "dedicatedworker", "dedicatedworker-module",
                 "shadowrealm", "jsshell"}


def parse_globals(value):
  value = (value or "").strip()
  if not value:
    return {"window", "dedicatedworker"}
  out = set()
  for item in value.split(","):
    item = item.strip()
    if item in GLOBAL_LONGHAND:
      out |= GLOBAL_LONGHAND[item]
    elif item in KNOWN_GLOBALS:
      out.add(item)
  return out


def html_attr(value):
  return value.replace("&", "&amp;").replace('"', "&quot;")


def html_text(value):
  return value.replace("&", "&amp;").replace("<", "&lt;")


def js_string(value):
  return value.replace("\\", "\\\\").replace('"', '\\"')


GLOBAL_SCRIPT = """self.GLOBAL = {
  isWindow: function() { return %s; },
  isWorker: function() { return %s; },
  isShadowRealm: function() { return false; },
};"""


class Wrapper:
  """Generates the page (or worker script) wrapping a `.window.js`/`.any.js`."""

  # (request suffix, source suffix, suffix of the resource the wrapper loads)
  suffixes = ()
  global_type = None
  content_type = "text/html"

  def __init__(self, base_path=None, url_base="/"):
    self.base_path = base_path
    self.url_base = url_base

  def _replace(self, path, which):
    for item in self.suffixes:
      if path.endswith(item[0]):
        return path[:-len(item[0])] + item[which]
    return path

  def __call__(self, request, response):
    fs_path = self._replace(filesystem_path(self.base_path, request, self.url_base), 1)
    meta = read_meta(fs_path)
    if self.global_type is not None:
      declared = next((v for k, v in meta if k == "global"), "")
      if self.global_type not in parse_globals(declared):
        raise HTTPException(404, "This test cannot be loaded in %s mode" % self.global_type)
    headers = [("Content-Type", self.content_type)] + load_headers(request, fs_path)
    for name, value in headers:
      response.headers.set(name, value)
    path = self._replace(request.url_parts.path, 2)
    query = request.url_parts.query
    query = "?" + query if query else ""
    response.content = self.render(meta, path, query)
    wrap_pipeline(path, request, response)

  def head_lines(self, meta):
    lines = []
    for key, value in meta:
      if key == "timeout" and value == "long":
        lines.append('<meta name="timeout" content="long">')
      elif key == "title":
        lines.append("<title>%s</title>" % html_text(value))
    return "\n".join(lines)

  def script_tags(self, meta):
    return "\n".join('<script src="%s"></script>' % html_attr(v) for k, v in meta if k == "script")


HARNESS_TAGS = ('<script src="/resources/testharness.js"></script>\n'
                '<script src="/resources/testharnessreport.js"></script>\n')


class WindowWrapper(Wrapper):
  suffixes = ((".window.html", ".window.js", ".window.js"),)

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n" + HARNESS_TAGS +
            "%s\n<div id=log></div>\n"
            '<script src="%s"></script>\n') % (self.head_lines(meta), self.script_tags(meta), path)


class AnyWindowWrapper(Wrapper):
  suffixes = ((".any.html", ".any.js", ".any.js"),)
  global_type = "window"

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n"
            "<script>\n%s\n</script>\n" + HARNESS_TAGS +
            "%s\n<div id=log></div>\n"
            '<script src="%s"></script>\n') % (
              self.head_lines(meta), GLOBAL_SCRIPT % ("true", "false"),
              self.script_tags(meta), path)


class AnyServiceWorkerWrapper(Wrapper):
  suffixes = ((".any.serviceworker.html", ".any.js", ".any.worker.js"),)
  global_type = "serviceworker"

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n" + HARNESS_TAGS +
            "<div id=log></div>\n<script>\n"
            "(async function() {\n"
            "  const scope = 'does/not/exist';\n"
            "  let reg = await navigator.serviceWorker.getRegistration(scope);\n"
            "  if (reg) await reg.unregister();\n"
            '  reg = await navigator.serviceWorker.register("%s%s", {scope});\n'
            "  fetch_tests_from_worker(reg.installing);\n"
            "})();\n</script>\n") % (self.head_lines(meta), path, query)


class AnyDedicatedWorkerWrapper(Wrapper):
  suffixes = ((".any.worker.html", ".any.js", ".any.worker.js"),)
  global_type = "dedicatedworker"

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n" + HARNESS_TAGS +
            "<div id=log></div>\n<script>\n"
            'fetch_tests_from_worker(new Worker("%s%s"));\n'
            "</script>\n") % (self.head_lines(meta), path, query)


class AnySharedWorkerWrapper(Wrapper):
  suffixes = ((".any.sharedworker.html", ".any.js", ".any.worker.js"),)
  global_type = "sharedworker"

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n" + HARNESS_TAGS +
            "<div id=log></div>\n<script>\n"
            'fetch_tests_from_worker(new SharedWorker("%s%s"));\n'
            "</script>\n") % (self.head_lines(meta), path, query)


class DedicatedWorkerWrapper(Wrapper):
  """`x.worker.html`: runs the test `x.worker.js` in a dedicated worker."""
  suffixes = ((".worker.html", ".worker.js", ".worker.js"),)

  def render(self, meta, path, query):
    return ("<!doctype html>\n<meta charset=utf-8>\n%s\n" + HARNESS_TAGS +
            "<div id=log></div>\n<script>\n"
            'fetch_tests_from_worker(new Worker("%s%s"));\n'
            "</script>\n") % (self.head_lines(meta), path, query)


class AnyWorkerScript(Wrapper):
  """`x.any.worker.js`: the classic worker script for worker globals."""
  suffixes = ((".any.worker.js", ".any.js", ".any.js"),)
  content_type = "text/javascript"

  def render(self, meta, path, query):
    imports = []
    for key, value in meta:
      if key == "script":
        imports.append('importScripts("%s")' % js_string(value))
      elif key == "title":
        imports.append('self.META_TITLE = "%s";' % js_string(value))
    return ("\n%s\n"
            'importScripts("/resources/testharness.js");\n'
            "%s\n"
            'importScripts("%s");\n'
            "done();\n") % (GLOBAL_SCRIPT % ("false", "true"), "\n".join(imports), path)


def send_close_notify():
  """Make HTTPS connections end with a TLS close_notify.

  wptserve sends many responses without Content-Length, ended by closing the
  connection; Python's SSLSocket closes without close_notify, which strict
  TLS clients (rustls) report as a truncated body. Browsers tolerate it, so
  upstream never noticed."""
  orig = wserver.WebTestServer.shutdown_request

  def shutdown_request(self, request):
    if isinstance(request, ssl.SSLSocket):
      try:
        request.settimeout(2)
        request.unwrap()
      except Exception:
        pass
    orig(self, request)

  wserver.WebTestServer.shutdown_request = shutdown_request


def no_delay():
  """Send small writes at once (TCP_NODELAY) on every connection.

  wptserve writes a response's head and body separately; with Nagle's
  algorithm the body then waits for the client's delayed ACK of the head,
  and every request after the first on a kept-alive connection took ~40 ms
  instead of ~1 ms."""
  orig = wserver.WebTestServer.get_request

  def get_request(self):
    conn, addr = orig(self)
    try:
      conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
      pass
    return conn, addr

  wserver.WebTestServer.get_request = get_request


UNSERVED_SCHEMES = ("ws", "wss", "h2", "http-private", "http-public", "https-private",
                    "https-public", "webtransport-h3")


# --- server ------------------------------------------------------------------

def bind_server(use_ssl, cfg, routes, rewrites):
  for _ in range(50):
    kwargs = {}
    if use_ssl:
      kwargs = {"key_file": cfg["key_path"], "certificate": cfg["cert_path"]}
    httpd = wserver.WebTestHttpd(host=cfg["bind"], port=0, doc_root=cfg["doc_root"],
                                 routes=routes, rewrites=rewrites, use_ssl=use_ssl,
                                 bind_address=True, **kwargs)
    if not is_bad_port(httpd.port):
      return httpd
    httpd.httpd.server_close()
  raise RuntimeError("could not find a free port")


def build_routes(cfg):
  doc_root = cfg["doc_root"]
  support = cfg["support_dir"]
  routes = [
    ("GET", "/resources/testharnessreport.js",
     handlers.FileHandler(base_path=support, url_base="/resources/")),
    ("GET", "/resources/testdriver-vendor.js",
     handlers.FileHandler(base_path=support, url_base="/resources/")),
    ("GET", "/resources/swharness/*",
     handlers.FileHandler(base_path=support, url_base="/resources/swharness/")),
  ]
  harness = cfg.get("harness_dir")
  if harness:
    for dirpath, _dirs, files in os.walk(harness):
      for name in files:
        if not name.endswith(".js"):
          continue
        rel = os.path.relpath(os.path.join(dirpath, name), harness).replace(os.sep, "/")
        routes.append(("GET", "/resources/" + rel,
                       handlers.FileHandler(base_path=harness, url_base="/resources/")))
    # npm wpt-runner keeps webidl2 beside testharness.js; wpt serves it as
    # /resources/webidl2/lib/webidl2.js (and WebIDLParser.js, rewritten).
    if os.path.isfile(os.path.join(harness, "webidl2.js")):
      routes.append(("GET", "/resources/webidl2/lib/webidl2.js",
                     handlers.FileHandler(base_path=harness,
                                          url_base="/resources/webidl2/lib/")))
  routes += [
    ("*", "/_certs/*", handlers.ErrorHandler(404)),
    ("*", "/tools/*", handlers.ErrorHandler(404)),
    ("*", "/results/", handlers.ErrorHandler(404)),
  ]
  for suffix, cls in [("*.window.html", WindowWrapper),
                      ("*.any.html", AnyWindowWrapper),
                      ("*.any.serviceworker.html", AnyServiceWorkerWrapper),
                      ("*.any.worker.html", AnyDedicatedWorkerWrapper),
                      ("*.any.sharedworker.html", AnySharedWorkerWrapper),
                      ("*.worker.html", DedicatedWorkerWrapper),
                      ("*.any.worker.js", AnyWorkerScript)]:
    routes.append(("GET", suffix, cls(base_path=doc_root, url_base="/")))
  routes += [
    ("GET", "*.asis", handlers.AsIsHandler(base_path=doc_root, url_base="/")),
    ("*", "*.py", handlers.PythonScriptHandler(base_path=doc_root, url_base="/")),
    ("GET", "*", handlers.FileHandler(base_path=doc_root, url_base="/")),
  ]
  return routes


def main():
  if len(sys.argv) != 2:
    fail("usage: serve.py CONFIG.json")
  with open(sys.argv[1]) as f:
    cfg = json.load(f)
  cfg["doc_root"] = os.path.abspath(cfg["doc_root"])
  logging.basicConfig(level=getattr(logging, cfg.get("log_level", "INFO")),
                      stream=sys.stderr,
                      format="[%(asctime)s] %(levelname)s - %(message)s")
  logger = logging.getLogger("swharness-wpt")

  send_close_notify()
  no_delay()
  routes = build_routes(cfg)
  rewrites = [("GET", "/resources/WebIDLParser.js", "/resources/webidl2/lib/webidl2.js")]

  # Stash: for Python handlers using request.server.stash.
  stash_server = stash.StashServer((cfg["bind"], get_port(cfg["bind"])), authkey=str(uuid.uuid4()))
  stash_server.__enter__()

  servers = {"http": [], "https": []}
  for scheme in ("http", "https"):
    for _ in range(2):
      servers[scheme].append(bind_server(scheme == "https", cfg, routes, rewrites))
  ports = {scheme: [s.port for s in lst] for scheme, lst in servers.items()}
  # Ports of servers we do not run (WebSockets, HTTP/2, private-network
  # ones): reserved so that `{{ports[wss][0]}}` & co. in `.sub.` files still
  # substitute (as test-helpers.sub.js needs); connecting to them fails.
  for scheme in UNSERVED_SCHEMES:
    ports[scheme] = [get_port(cfg["bind"])]

  builder = wconfig.ConfigBuilder(
    logger,
    subdomains=set(cfg["subdomains"]),
    not_subdomains=set(cfg["not_subdomains"]),
    browser_host=cfg["browser_host"],
    alternate_hosts={"alt": cfg["alt_host"]},
    doc_root=cfg["doc_root"],
    server_host=cfg["bind"],
    ports=ports,
    check_subdomains=False,
    ssl={"type": "pregenerated", "encrypt_after_connect": False,
         "pregenerated": {"host_key_path": cfg["key_path"], "host_cert_path": cfg["cert_path"],
                          "ca_cert_path": cfg["ca_path"]}},
  )
  config = builder.__enter__()
  # Every request reads this class attribute (e.g. for `.sub.`).
  RequestServer.config = config

  for lst in servers.values():
    for s in lst:
      s.start()

  sys.stdout.write(json.dumps({
    "http": ports["http"],
    "https": ports["https"],
    "unserved": {k: ports[k] for k in UNSERVED_SCHEMES},
    "domains": sorted(config.domains_set),
    "not_domains": sorted(config.not_domains_set),
  }) + "\n")
  sys.stdout.flush()
  # Anything a handler prints goes to the log, not to the closed pipe.
  sys.stdout = sys.stderr

  done = threading.Event()

  def watch_stdin():
    try:
      while sys.stdin.buffer.read(4096):
        pass
    except Exception:
      pass
    done.set()

  threading.Thread(target=watch_stdin, daemon=True).start()
  signal.signal(signal.SIGTERM, lambda *_: done.set())
  try:
    while not done.wait(0.5):
      pass
  except KeyboardInterrupt:
    pass
  # The HTTP servers are not stopped one by one (each waits out its 0.5 s
  # poll): the process exits, and the runner kills its group.
  try:
    stash_server.__exit__(None, None, None)
  except Exception:
    pass
  os._exit(0)


if __name__ == "__main__":
  try:
    main()
  except SystemExit:
    raise
  except BaseException:
    fail(traceback.format_exc())
