// Assembles the Web platform globals shared by every realm (service worker
// and window client) from Deno's extension crates. deno_web and deno_fetch
// load their scripts lazily; this module pulls them in and exposes the
// globals listed in deno_web's README with the usual property attributes.
import { core, internals } from "ext:core/mod.js";
import { op_swh_console } from "ext:core/ops";
import { offlineAwareFetch } from "ext:swharness/net/03_network.js";
import { corsFetch } from "ext:swharness/net/04_cors.js";
import { unrefMessagePorts } from "ext:swharness/engine/05_message_ports.js";

const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const url = core.loadExtScript("ext:deno_web/00_url.js");
const consoleMod = core.loadExtScript("ext:deno_web/01_console.js");
const { DOMException } = core.loadExtScript("ext:deno_web/01_dom_exception.js");
const event = core.loadExtScript("ext:deno_web/02_event.js");
const structuredCloneMod = core.loadExtScript(
  "ext:deno_web/02_structured_clone.js",
);
const timers = core.loadExtScript("ext:deno_web/02_timers.js");
const abortSignal = core.loadExtScript("ext:deno_web/03_abort_signal.js");
const base64 = core.loadExtScript("ext:deno_web/05_base64.js");
const streams = core.loadExtScript("ext:deno_web/06_streams.js");
const encoding = core.loadExtScript("ext:deno_web/08_text_encoding.js");
const file = core.loadExtScript("ext:deno_web/09_file.js");
const fileReader = core.loadExtScript("ext:deno_web/10_filereader.js");
const location = core.loadExtScript("ext:deno_web/12_location.js");
const messagePort = core.loadExtScript("ext:deno_web/13_message_port.js");
const performance = core.loadExtScript("ext:deno_web/15_performance.js");
const compression = core.loadExtScript("ext:deno_web/14_compression.js");
const cryptoMod = core.loadExtScript("ext:deno_crypto/00_crypto.js");

// deno_fetch expects Deno's telemetry module; tracing is never enabled here.
if (!internals.__telemetry) {
  const noop = () => {};
  internals.__telemetry = {
    TRACING_ENABLED: false,
    PROPAGATORS: [],
    builtinTracer: () => ({ startSpan: () => ({ end: noop }) }),
    ContextManager: { active: () => undefined },
    DID_NOT_ENTER: {},
    enterSpan: () => ({}),
    exitSpan: noop,
  };
}
if (!internals.__telemetryUtil) {
  internals.__telemetryUtil = {
    updateSpanFromClientResponse: () => {},
    updateSpanFromError: () => {},
    updateSpanFromRequest: () => {},
  };
}
const headers = core.loadExtScript("ext:deno_fetch/20_headers.js");
const formData = core.loadExtScript("ext:deno_fetch/21_formdata.js");
const request = core.loadExtScript("ext:deno_fetch/23_request.js");
const response = core.loadExtScript("ext:deno_fetch/23_response.js");
const fetchMod = core.loadExtScript("ext:deno_fetch/26_fetch.js");

const LEVELS = { 0: "debug", 1: "info", 2: "warn", 3: "error", 4: "error" };
function printer(msg, level) {
  op_swh_console(level ?? 1, msg);
}

function nonEnumerable(value) {
  return { value, writable: true, enumerable: false, configurable: true };
}
function writable(value) {
  return { value, writable: true, enumerable: true, configurable: true };
}

const webGlobals = {
  AbortController: nonEnumerable(abortSignal.AbortController),
  AbortSignal: nonEnumerable(abortSignal.AbortSignal),
  Blob: nonEnumerable(file.Blob),
  ByteLengthQueuingStrategy: nonEnumerable(streams.ByteLengthQueuingStrategy),
  CloseEvent: nonEnumerable(event.CloseEvent),
  CompressionStream: nonEnumerable(compression.CompressionStream),
  CountQueuingStrategy: nonEnumerable(streams.CountQueuingStrategy),
  Crypto: nonEnumerable(cryptoMod.Crypto),
  CryptoKey: nonEnumerable(cryptoMod.CryptoKey),
  CustomEvent: nonEnumerable(event.CustomEvent),
  DOMException: nonEnumerable(DOMException),
  DecompressionStream: nonEnumerable(compression.DecompressionStream),
  ErrorEvent: nonEnumerable(event.ErrorEvent),
  Event: nonEnumerable(event.Event),
  EventTarget: nonEnumerable(event.EventTarget),
  File: nonEnumerable(file.File),
  FileReader: nonEnumerable(fileReader.FileReader),
  FormData: nonEnumerable(formData.FormData),
  Headers: nonEnumerable(headers.Headers),
  MessageChannel: nonEnumerable(messagePort.MessageChannel),
  MessageEvent: nonEnumerable(event.MessageEvent),
  MessagePort: nonEnumerable(messagePort.MessagePort),
  Performance: nonEnumerable(performance.Performance),
  PerformanceEntry: nonEnumerable(performance.PerformanceEntry),
  PerformanceMark: nonEnumerable(performance.PerformanceMark),
  PerformanceMeasure: nonEnumerable(performance.PerformanceMeasure),
  ProgressEvent: nonEnumerable(event.ProgressEvent),
  PromiseRejectionEvent: nonEnumerable(event.PromiseRejectionEvent),
  ReadableByteStreamController: nonEnumerable(
    streams.ReadableByteStreamController,
  ),
  ReadableStream: nonEnumerable(streams.ReadableStream),
  ReadableStreamBYOBReader: nonEnumerable(streams.ReadableStreamBYOBReader),
  ReadableStreamBYOBRequest: nonEnumerable(streams.ReadableStreamBYOBRequest),
  ReadableStreamDefaultController: nonEnumerable(
    streams.ReadableStreamDefaultController,
  ),
  ReadableStreamDefaultReader: nonEnumerable(
    streams.ReadableStreamDefaultReader,
  ),
  Request: nonEnumerable(request.Request),
  SubtleCrypto: nonEnumerable(cryptoMod.SubtleCrypto),
  Response: nonEnumerable(response.Response),
  TextDecoder: nonEnumerable(encoding.TextDecoder),
  TextDecoderStream: nonEnumerable(encoding.TextDecoderStream),
  TextEncoder: nonEnumerable(encoding.TextEncoder),
  TextEncoderStream: nonEnumerable(encoding.TextEncoderStream),
  TransformStream: nonEnumerable(streams.TransformStream),
  TransformStreamDefaultController: nonEnumerable(
    streams.TransformStreamDefaultController,
  ),
  URL: nonEnumerable(url.URL),
  URLSearchParams: nonEnumerable(url.URLSearchParams),
  WritableStream: nonEnumerable(streams.WritableStream),
  WritableStreamDefaultController: nonEnumerable(
    streams.WritableStreamDefaultController,
  ),
  WritableStreamDefaultWriter: nonEnumerable(
    streams.WritableStreamDefaultWriter,
  ),
  atob: writable(base64.atob),
  btoa: writable(base64.btoa),
  clearInterval: writable(timers.clearInterval),
  clearTimeout: writable(timers.clearTimeout),
  console: nonEnumerable(new consoleMod.Console(printer)),
  // WindowOrWorkerGlobalScope's [SameObject] readonly attribute. The
  // engine makes the object on first use (it cannot be in a snapshot).
  crypto: {
    get: function crypto() {
      return cryptoMod.crypto;
    },
    enumerable: true,
    configurable: true,
  },
  fetch: writable(corsFetch(offlineAwareFetch(fetchMod.fetch))),
  performance: writable(performance.performance),
  reportError: writable(event.reportError),
  setInterval: writable(timers.setInterval),
  setTimeout: writable(timers.setTimeout),
  structuredClone: writable(messagePort.structuredClone),
};

/**
 * Installs the shared Web globals on `globalThis`, with the realm's
 * `origin` and `isSecureContext` (WindowOrWorkerGlobalScope) from `info`.
 */
export function installWebGlobals(info) {
  // HR Time: performance.timeOrigin, this realm's start on the wall clock
  // (the snapshot was made in another process, so it is set here).
  performance.setTimeOrigin();
  Object.defineProperties(globalThis, webGlobals);
  unrefMessagePorts();
  if (info.secureContext !== true) {
    // [SecureContext] members of Web Crypto are not there at all.
    delete globalThis.CryptoKey;
    delete globalThis.SubtleCrypto;
    delete cryptoMod.Crypto.prototype.subtle;
    delete cryptoMod.Crypto.prototype.randomUUID;
  }
  const serializedOrigin = new url.URL(info.url).origin;
  Object.defineProperties(globalThis, {
    origin: {
      get: function origin() {
        return serializedOrigin;
      },
      enumerable: true,
      configurable: true,
    },
    isSecureContext: {
      get: function isSecureContext() {
        return info.secureContext === true;
      },
      enumerable: true,
      configurable: true,
    },
  });
  event.saveGlobalThisReference(globalThis);
  event.setEventTargetData(globalThis);
}

export {
  abortSignal,
  consoleMod,
  DOMException,
  event,
  fetchMod,
  headers,
  LEVELS,
  location,
  request,
  response,
  streams,
  webidl,
};
