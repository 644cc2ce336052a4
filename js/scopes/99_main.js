// Entry point of the swharness extension: installs the shared Web globals
// and exposes the bootstrap the realm thread calls with the realm's info.
import {
  consoleMod,
  installWebGlobals,
} from "ext:swharness/engine/00_web_globals.js";
import {
  installDispatcher,
  installErrorBuilders,
  installExceptionReporting,
} from "ext:swharness/ipc/01_host.js";
import { bootstrapServiceWorker } from "ext:swharness/scopes/90_service_worker_scope.js";
import { bootstrapWindow } from "ext:swharness/scopes/91_window_scope.js";
import { bootstrapWorker } from "ext:swharness/scopes/92_worker_scope.js";

const key = Symbol.for("swharness.bootstrap");

// A runtime restored from the startup snapshot (QuickJS) comes back with
// some intrinsics' prototype links lost (TypeError's [[Prototype]] is
// Function.prototype instead of Error): put them back.
function repairIntrinsics() {
  const errors = [
    "EvalError",
    "RangeError",
    "ReferenceError",
    "SyntaxError",
    "TypeError",
    "URIError",
    "AggregateError",
  ];
  for (const name of errors) {
    const C = globalThis[name];
    if (typeof C !== "function") continue;
    if (Object.getPrototypeOf(C) !== Error) Object.setPrototypeOf(C, Error);
    if (Object.getPrototypeOf(C.prototype) !== Error.prototype) {
      Object.setPrototypeOf(C.prototype, Error.prototype);
    }
  }
}

function bootstrap(info) {
  delete globalThis[key];
  repairIntrinsics();
  installDispatcher();
  installErrorBuilders();
  const noColor = () => !info.color;
  consoleMod.setNoColorFns(noColor, noColor);
  installWebGlobals(info);
  if (info.kind === "serviceworker") bootstrapServiceWorker(info);
  else if (info.kind === "dedicatedworker" || info.kind === "sharedworker") {
    bootstrapWorker(info);
  }
  else bootstrapWindow(info);
  installExceptionReporting();
}

Object.defineProperty(globalThis, key, {
  value: bootstrap,
  configurable: true,
  enumerable: false,
  writable: false,
});
