// The realm's link to the browser side: calls (async and sync), the
// dispatcher through which the browser calls in, errors as the platform
// throws them, and structured-clone payloads for messages.
import { core } from "ext:core/mod.js";
import {
  op_swh_host,
  op_swh_host_sync,
  op_swh_reply,
  op_swh_set_dispatcher,
} from "ext:core/ops";

const { DOMException } = core.loadExtScript(
  "ext:deno_web/01_dom_exception.js",
);

/** The QuotaExceededError interface (a DOMException with quota/requested). */
class QuotaExceededError extends DOMException {
  #quota;
  #requested;
  constructor(message = "", options = {}) {
    super(message, "QuotaExceededError");
    const quota = options?.quota;
    const requested = options?.requested;
    if (quota !== undefined && (!Number.isFinite(quota) || quota < 0)) {
      throw new RangeError("quota must be a non-negative finite number");
    }
    if (
      requested !== undefined && (!Number.isFinite(requested) || requested < 0)
    ) {
      throw new RangeError("requested must be a non-negative finite number");
    }
    if (quota !== undefined && requested !== undefined && requested < quota) {
      throw new RangeError("requested must not be less than quota");
    }
    this.#quota = quota ?? null;
    this.#requested = requested ?? null;
  }
  get quota() {
    return this.#quota;
  }
  get requested() {
    return this.#requested;
  }
}
Object.defineProperty(QuotaExceededError.prototype, Symbol.toStringTag, {
  value: "QuotaExceededError",
  configurable: true,
});

/** Builds the error the platform throws for a browser-side failure. */
export function makeError(err) {
  const { name, message } = err ?? {};
  switch (name) {
    case "TypeError":
      return new TypeError(message);
    case "RangeError":
      return new RangeError(message);
    case "SyntaxError":
      return new SyntaxError(message);
    case "Error":
      return new Error(message);
    case "QuotaExceededError":
      return new QuotaExceededError(message);
    default:
      return new DOMException(message, name);
  }
}

function unwrap(text) {
  const res = JSON.parse(text);
  if (res.error) throw makeError(res.error);
  return res.ok;
}

/** Calls the browser; the promise keeps the realm alive while pending. */
export async function hostCall(method, args = null) {
  return unwrap(await op_swh_host(method, JSON.stringify(args)));
}

/**
 * Calls the browser for something that may wait indefinitely (like
 * `ready`): the pending call does not keep the realm alive.
 */
export function hostCallUnref(method, args = null) {
  const p = op_swh_host(method, JSON.stringify(args));
  core.unrefOpPromise(p);
  return p.then(unwrap);
}

export function hostCallSync(method, args = null) {
  return unwrap(op_swh_host_sync(method, JSON.stringify(args)));
}

const handlers = new Map();

/** Registers the handler for browser commands of `kind`. */
export function onBrowserCommand(kind, fn) {
  handlers.set(kind, fn);
}

function encodeError(e) {
  if (e instanceof DOMException) return { name: e.name, message: e.message };
  if (e instanceof Error) {
    return { name: e.name || "Error", message: String(e.message) };
  }
  return { name: "Error", message: String(e) };
}

function reply(id, value) {
  if (id === 0) return;
  let text;
  try {
    text = JSON.stringify({ ok: value === undefined ? null : value });
  } catch (e) {
    text = JSON.stringify({ error: encodeError(e) });
  }
  op_swh_reply(id, text);
}

function dispatcher(kind, payloadJson, id) {
  const fn = handlers.get(kind);
  if (!fn) {
    if (id !== 0) {
      op_swh_reply(
        id,
        JSON.stringify({
          error: { name: "TypeError", message: `no handler for ${kind}` },
        }),
      );
    }
    return;
  }
  let result;
  try {
    result = fn(JSON.parse(payloadJson));
  } catch (e) {
    if (id !== 0) op_swh_reply(id, JSON.stringify({ error: encodeError(e) }));
    else reportError(e);
    return;
  }
  if (result && typeof result.then === "function") {
    result.then(
      (v) => reply(id, v),
      (e) => {
        if (id !== 0) {
          op_swh_reply(id, JSON.stringify({ error: encodeError(e) }));
        }
      },
    );
  } else {
    reply(id, result);
  }
}

/**
 * Hands the dispatcher to the realm. Called at bootstrap, not when this
 * module is evaluated: with a startup snapshot, module evaluation happened
 * in the runtime that made the snapshot, whose op state is gone.
 */
export function installDispatcher() {
  op_swh_set_dispatcher(dispatcher);
}

/** Serializes a message as the structured clone algorithm does. */
export function serializeMessage(value) {
  const bytes = core.serialize(value, { forStorage: false });
  return btoaBytes(bytes);
}

/** Base64 of a byte array (for bodies and messages sent as JSON). */
export function btoaBytes(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

export function deserializeMessage(data) {
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return core.deserialize(bytes, { forStorage: false });
}

export { DOMException, QuotaExceededError };
