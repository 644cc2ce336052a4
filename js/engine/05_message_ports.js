// MessagePorts that do not keep their realm busy. deno_web's port, like
// Deno's and Node's, keeps the event loop alive while it receives (its
// `onmessage` set, or `start()` called), so a page that asked its service
// worker something through a MessageChannel and kept the port would hold
// the run until `--timeout`. A browser has no such notion: a page lives as
// long as it is open. Here a receiving port is unref'd (Node's
// `port.unref()`, which deno_web implements), and every message posted or
// delivered is counted (`op_swh_port_activity`), so the browser's quiet
// check can tell a message on its way (`Browser::wait_quiet`); a realm
// that has used ports lets a receive complete before it reports idle
// (`PortTurns` in src/engine/realm.rs).
import { core } from "ext:core/mod.js";
import { op_swh_port_activity } from "ext:core/ops";

const messagePort = core.loadExtScript("ext:deno_web/13_message_port.js");

export function unrefMessagePorts() {
  const { MessagePort, nodeWorkerThreadCloseCb } = messagePort;
  const proto = MessagePort.prototype;
  // add/removeEventListener are on the class deno_web puts between
  // MessagePort and EventTarget (to keep MessagePort's own surface).
  const base = Object.getPrototypeOf(proto);
  const { postMessage: post, start: begin, unref, hasRef } = proto;
  const { addEventListener: listen, dispatchEvent: dispatch } = base;
  const noop = () => {};
  // deno_web unrefs each receive of a port that has Node's worker close
  // callback and no ref: give every port one, and drop the ref that a
  // "message" listener takes.
  const unrefPort = (port) => {
    const refed = hasRef.call(port); // a TypeError if it is not a port
    if (typeof port[nodeWorkerThreadCloseCb] !== "function") {
      port[nodeWorkerThreadCloseCb] = noop;
    }
    if (refed) unref.call(port);
  };
  Object.defineProperties(proto, {
    postMessage: {
      value: function postMessage(message, transfer = undefined) {
        const result = Reflect.apply(post, this, arguments);
        op_swh_port_activity(true);
        return result;
      },
    },
    start: {
      value: function start() {
        unrefPort(this);
        const result = Reflect.apply(begin, this, arguments);
        op_swh_port_activity(false);
        return result;
      },
    },
  });
  Object.defineProperties(base, {
    addEventListener: {
      value: function addEventListener(type, listener, options = undefined) {
        const result = Reflect.apply(listen, this, arguments);
        if (type === "message") unrefPort(this);
        return result;
      },
    },
    // Not an own method of that class before: an ordinary method now.
    dispatchEvent: {
      writable: true,
      configurable: true,
      value: function dispatchEvent(event) {
        if (event?.isTrusted && (event.type === "message" || event.type === "messageerror")) {
          op_swh_port_activity(true);
        }
        return Reflect.apply(dispatch, this, arguments);
      },
    },
  });
}
