#!/usr/bin/env node
// Runs upstream web-platform-tests IndexedDB files against fake-indexeddb (the in-memory JS
// IndexedDB from npm) in Node, so its pass rate can be set beside swharness's on the same files.
//
//   node benches/fake_indexeddb_wpt.mjs --wpt-root /work/wpt-upstream [--json OUT] [PATH_PREFIX...]
//
// Default prefix: IndexedDB/. Other options: --timeout MS (harness timeout, default 10000; files with
// `META: timeout=long` get 3x), -j N (files run in parallel, default 2), --lenient-dom-exception.
//
// fake-indexeddb throws subclasses of DOMException (DataError extends DOMException, ...), so
// testharness's assert_throws_dom fails them with "threw an exception from the wrong global" even
// when name and code are right. fake-indexeddb's own WPT runner relaxes that check; with
// --lenient-dom-exception we do the equivalent (the subclasses report DOMException as their
// `constructor`), to see what else fails. The default is the stock, strict check.
//
// fake-indexeddb is never committed: it is installed with `npm install fake-indexeddb` into
// .npm-deps/ (not part of the repository); testharness.js is the one swharness uses
// (.wpt-deps/node_modules/wpt-runner/testharness/).
//
// Each file runs in its own child process (this script with --child), in that process's main realm
// (so fake-indexeddb, the tests and structuredClone share one set of built-ins), with a hard kill
// if it hangs. `.any.js` files run once, as their window variant, but without a `document`, so
// testharness uses its shell environment and `'document' in self` guards skip DOM-only subtests.
// The Node-side emulation of the page (the "shim") is in installShims(); see its comments for
// what it adds on top of Node 20 and fake-indexeddb's `auto` entry point.

import { fork } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

const SELF = fileURLToPath(import.meta.url);
const REPO = resolve(dirname(SELF), "..");
const HARNESS = join(REPO, ".wpt-deps/node_modules/wpt-runner/testharness/testharness.js");
const FAKE_IDB = join(REPO, ".npm-deps/node_modules/fake-indexeddb");
const TEST_STATUS = ["PASS", "FAIL", "TIMEOUT", "NOTRUN", "PRECONDITION_FAILED"];
const HARNESS_STATUS = ["OK", "ERROR", "TIMEOUT", "PRECONDITION_FAILED"];
// `META: global=` values a plain Node realm can stand in for (WPT's names and aliases).
const EMULABLE = new Set(["window", "worker", "dedicatedworker", "sharedworker", "serviceworker", "jsshell"]);

// ---- test file parsing (shared by parent and child) ----

function readMeta(code) {
  const meta = { global: null, scripts: [], title: null, timeout: null };
  for (const line of code.split("\n")) {
    const m = /^\/\/\s*META:\s*(\w+)=(.*)$/.exec(line.trim());
    if (!m) { if (line.trim() && !line.trim().startsWith("//")) break; continue; }
    const [, key, value] = m;
    if (key === "global") meta.global = value.split(",").map((s) => s.trim());
    else if (key === "script") meta.scripts.push(value.trim());
    else if (key === "title") meta.title = value.trim();
    else if (key === "timeout") meta.timeout = value.trim();
  }
  return meta;
}

// A script URL as a page at `rel` would resolve it, mapped into the WPT root.
const resolveSrc = (root, rel, src) =>
  src.startsWith("/") ? join(root, src) : resolve(root, dirname(rel), src);

const decodeEntities = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

// -> { kind, title, long, runnable, scripts: [{file, code}] } (scripts only when load=true)
function describe(root, rel, load) {
  const path = join(root, rel);
  const text = readFileSync(path, "utf8");
  const out = { title: null, long: false, runnable: true, scripts: [] };
  const add = (file, code) => load && out.scripts.push({ file, code: code ?? readFileSync(file, "utf8") });
  if (rel.endsWith(".any.js")) {
    const meta = readMeta(text);
    const globals = meta.global ?? ["window", "dedicatedworker"];
    out.runnable = globals.some((g) => EMULABLE.has(g));
    out.title = meta.title;
    out.long = meta.timeout === "long";
    for (const s of meta.scripts) add(resolveSrc(root, rel, s));
    add(path, text);
  } else {
    out.runnable = /testharness\.js/.test(text);
    const title = /<title>([\s\S]*?)<\/title>/i.exec(text);
    out.title = title ? decodeEntities(title[1].trim()) : null;
    out.long = /<meta\s+name=["']?timeout["']?\s+content=["']?long/i.test(text);
    let n = 0;
    for (const m of text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
      const src = /\bsrc\s*=\s*["']?([^"'\s>]+)/i.exec(m[1]);
      if (!src) add(`${path}#inline-${++n}`, m[2]);
      else if (!/(^|\/)testharness(report)?\.js$/.test(src[1])) add(resolveSrc(root, rel, src[1]));
    }
  }
  return out;
}

// ---- child: one test file in this process ----

function installShims(rel, title) {
  const g = globalThis;
  g.self = g;
  // wptserve serves foo.any.js as foo.any.html (window variant); subset-tests.js reads location.search.
  g.location = new URL(`http://web-platform.test:8000/${rel.replace(/\.any\.js$/, ".any.html")}`);
  // What wptserve's .any.js wrapper defines for the window variant.
  g.GLOBAL = { isWindow: () => true, isWorker: () => false, isShadowRealm: () => false };
  if (title) g.META_TITLE = title;
  // The realm's Event is the class fake-indexeddb's events derive from (its own runner does the
  // same), so `e instanceof Event` holds and tests can dispatch events they construct.
  g.Event = Object.getPrototypeOf(g.IDBVersionChangeEvent);
  // Node can always make SharedArrayBuffers; upstream serves the SAB pages with COOP/COEP.
  g.crossOriginIsolated = true;
  // window.postMessage(v, '*') structured-clones v (tests use it to probe cloneability).
  g.postMessage = (message) => void structuredClone(message);
  // Node 20's structuredClone turns a File into a plain Blob; keep a top-level File a File.
  const nodeClone = g.structuredClone;
  g.structuredClone = (v, opts) => v instanceof File
    ? new File([v], v.name, { type: v.type, lastModified: v.lastModified })
    : nodeClone(v, opts);
  // Node 20 has no FileReader; the tests use readAsArrayBuffer/readAsText with onload/onloadend.
  g.FileReader = class FileReader {
    readyState = 0; result = null; error = null; onload = null; onloadend = null; onerror = null;
    #read(blob, how) {
      this.readyState = 1;
      blob[how]().then((r) => { this.result = r; }, (e) => { this.error = e; }).then(() => {
        this.readyState = 2;
        const ev = { type: this.error ? "error" : "load", target: this };
        (this.error ? this.onerror : this.onload)?.call(this, ev);
        this.onloadend?.call(this, { ...ev, type: "loadend" });
      });
    }
    readAsArrayBuffer(blob) { this.#read(blob, "arrayBuffer"); }
    readAsText(blob) { this.#read(blob, "text"); }
  };
  // A window's "error"/"unhandledrejection" events, which testharness listens for: fed from
  // script load errors and Node's uncaught exceptions / unhandled rejections.
  const listeners = { error: [], unhandledrejection: [] };
  g.addEventListener = (type, fn) => listeners[type]?.push(fn);
  g.removeEventListener = (type, fn) => {
    const l = listeners[type]; const i = l ? l.indexOf(fn) : -1; if (i >= 0) l.splice(i, 1);
  };
  const fire = (type, ev) => {
    if (!listeners[type].length) {
      process.send({ type: "done", status: "ERROR", message: `${type} before testharness: ${ev.message ?? ev.reason}`, subtests: [] }, () => process.exit(0));
      return;
    }
    for (const fn of [...listeners[type]]) fn(ev);
  };
  const reportError = (error) =>
    fire("error", { type: "error", error, message: String(error?.message ?? error), filename: "", lineno: 0, colno: 0 });
  process.on("uncaughtException", reportError);
  process.on("unhandledRejection", (reason) => fire("unhandledrejection", { type: "unhandledrejection", reason }));
  return reportError;
}

async function child(root, rel, harnessMs, lenient) {
  await import(pathToFileURL(join(FAKE_IDB, "auto/index.mjs")).href);
  if (lenient) {
    const errors = await import(pathToFileURL(join(FAKE_IDB, "build/esm/lib/errors.js")).href);
    for (const E of Object.values(errors))
      if (E.prototype instanceof DOMException)
        Object.defineProperty(E.prototype, "constructor", { value: DOMException, writable: true, configurable: true });
  }
  const info = describe(root, rel, true);
  const reportError = installShims(rel, info.title);
  vm.runInThisContext(readFileSync(HARNESS, "utf8"), { filename: HARNESS });
  const send = (msg, then) => process.send(msg, then);
  const timer = setTimeout(() => globalThis.timeout(), harnessMs); // testharness's own timeout()
  globalThis.add_result_callback((t) =>
    send({ type: "result", name: t.name, status: TEST_STATUS[t.status], message: t.message ?? null }));
  globalThis.add_completion_callback((tests, status) => {
    clearTimeout(timer);
    const subtests = tests.map((t) => ({ name: t.name, status: TEST_STATUS[t.status], message: t.message ?? null }));
    send({ type: "done", status: HARNESS_STATUS[status.status], message: status.message ?? null, subtests },
      () => process.exit(0));
  });
  for (const { file, code } of info.scripts) {
    try {
      vm.runInThisContext(code, { filename: file });
    } catch (e) {
      reportError(e); // as a browser would: report it, then run the next <script>
    }
  }
}

// ---- parent: find files, run them, report ----

function findFiles(root, prefixes) {
  const files = new Set();
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) { if (name !== "resources" && !name.startsWith(".")) walk(p); continue; }
      if (/\.any\.js$|\.html?$/.test(name) && !/-manual\./.test(name)) files.add(relative(root, p));
    }
  };
  for (const prefix of prefixes) {
    const start = prefix.endsWith("/") ? prefix : dirname(prefix);
    if (existsSync(join(root, start))) walk(join(root, start));
  }
  return [...files].filter((f) => prefixes.some((p) => f.startsWith(p))).sort();
}

function runFile(root, rel, harnessMs, lenient) {
  return new Promise((done) => {
    const started = Date.now();
    const partial = new Map();
    let stderr = "";
    let result = null;
    const proc = fork(SELF, ["--child", root, rel, String(harnessMs), lenient ? "lenient" : "strict"], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
    proc.stderr.on("data", (d) => { stderr = (stderr + d).slice(-2000); });
    const killer = setTimeout(() => {
      result = { status: "TIMEOUT", message: `killed after ${harnessMs + 10000} ms`, subtests: [...partial.values()] };
      proc.kill("SIGKILL");
    }, harnessMs + 10000);
    proc.on("message", (m) => {
      if (m.type === "result") partial.set(m.name, { name: m.name, status: m.status, message: m.message });
      else if (m.type === "done" && !result) result = { status: m.status, message: m.message, subtests: m.subtests };
    });
    proc.on("exit", (code, signal) => {
      clearTimeout(killer);
      result ??= { status: "ERROR", message: `child exited (${signal ?? code}): ${stderr.trim()}`, subtests: [...partial.values()] };
      done({ ...result, ms: Date.now() - started });
    });
  });
}

const groupOf = (rel) => {
  const name = basename(rel);
  return name.startsWith("idb") ? name.split(/[-_.]/)[0] : "other";
};

async function main(argv) {
  let root = null, json = null, timeoutMs = 10000, jobs = 2, lenient = false;
  const prefixes = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--wpt-root") root = resolve(argv[++i]);
    else if (a === "--json") json = argv[++i];
    else if (a === "--timeout") timeoutMs = Number(argv[++i]);
    else if (a === "--lenient-dom-exception") lenient = true;
    else if (a === "-j") jobs = Math.max(1, Number(argv[++i]));
    else if (a.startsWith("-")) throw new Error(`unknown option ${a}`);
    else prefixes.push(a);
  }
  if (!root) throw new Error("usage: fake_indexeddb_wpt.mjs --wpt-root DIR [--json OUT] [PATH_PREFIX...]");
  for (const need of [HARNESS, join(FAKE_IDB, "auto/index.mjs")])
    if (!existsSync(need)) throw new Error(`missing ${need} (npm install into .wpt-deps/ or .npm-deps/)`);
  const version = JSON.parse(readFileSync(join(FAKE_IDB, "package.json"), "utf8")).version;

  const started = Date.now();
  const files = findFiles(root, prefixes.length ? prefixes : ["IndexedDB/"]);
  const queue = files.map((rel) => ({ rel, info: describe(root, rel, false) })).filter((f) => f.info.runnable);
  const results = {};
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const { rel, info } = queue[next++];
      results[rel] = await runFile(root, rel, info.long ? timeoutMs * 3 : timeoutMs, lenient);
      process.stderr.write(`${results[rel].status.padEnd(8)} ${rel} (${results[rel].ms} ms)\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));
  const wall = Date.now() - started;

  const ordered = Object.fromEntries(queue.map(({ rel }) => [rel, results[rel]]));
  const groups = new Map();
  let passed = 0, total = 0;
  for (const [rel, r] of Object.entries(ordered)) {
    const g = groups.get(groupOf(rel)) ?? { files: 0, passed: 0, total: 0 };
    const p = r.subtests.filter((s) => s.status === "PASS").length;
    g.files++; g.passed += p; g.total += r.subtests.length;
    groups.set(groupOf(rel), g);
    passed += p; total += r.subtests.length;
  }
  const pct = (p, t) => (t ? ((100 * p) / t).toFixed(1) : "-").padStart(5);
  console.log(`fake-indexeddb ${version}, Node ${process.version}, upstream WPT at ${root}` +
    (lenient ? ", DOMException subclasses accepted (--lenient-dom-exception)" : ""));
  console.log(`${"group".padEnd(22)} ${"files".padStart(5)} ${"passed/total".padStart(13)}     %`);
  for (const [name, g] of [...groups].sort(([a], [b]) => a.localeCompare(b)))
    console.log(`${name.padEnd(22)} ${String(g.files).padStart(5)} ${`${g.passed}/${g.total}`.padStart(13)} ${pct(g.passed, g.total)}`);
  const notOk = Object.entries(ordered).filter(([, r]) => r.status !== "OK");
  if (notOk.length) {
    console.log(`\nfiles whose harness status is not OK:`);
    for (const [rel, r] of notOk) console.log(`  ${r.status.padEnd(8)} ${rel}: ${String(r.message ?? "").split("\n")[0].slice(0, 160)}`);
  }
  const skipped = files.length - queue.length;
  if (skipped) console.log(`\n(${skipped} file(s) skipped: no window/worker global or no testharness)`);
  console.log(`\nfake-indexeddb: ${passed}/${total} subtests passed in ${queue.length} files (${wall} ms)`);
  if (json) writeFileSync(json, JSON.stringify(ordered, null, 1) + "\n");
}

if (process.argv[2] === "--child") {
  await child(process.argv[3], process.argv[4], Number(process.argv[5]), process.argv[6] === "lenient");
} else {
  await main(process.argv.slice(2)).catch((e) => { console.error(e.message); process.exit(2); });
}
