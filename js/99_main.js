// Entry point of the swharness extension: installs the shared Web globals
// and exposes the bootstrap the realm thread calls with the realm's info.
import { installWebGlobals } from "ext:swharness/00_web_globals.js";
import { installDispatcher } from "ext:swharness/01_host.js";
import { bootstrapServiceWorker } from "ext:swharness/90_service_worker_scope.js";
import { bootstrapWindow } from "ext:swharness/91_window_scope.js";

const key = Symbol.for("swharness.bootstrap");

function bootstrap(info) {
  delete globalThis[key];
  installDispatcher();
  installWebGlobals();
  if (info.kind === "serviceworker") bootstrapServiceWorker(info);
  else bootstrapWindow(info);
}

Object.defineProperty(globalThis, key, {
  value: bootstrap,
  configurable: true,
  enumerable: false,
  writable: false,
});
