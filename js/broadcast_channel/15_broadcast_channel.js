// BroadcastChannel (HTML, "Broadcasting to other browsing contexts"): a
// message goes to every other BroadcastChannel of the same name and origin,
// in this realm and in the others (the browser routes it:
// src/broadcast_channel/). An open channel does not keep a realm alive.
import { core } from "ext:core/mod.js";
import {
  DOMException,
  deserializeMessage,
  hostCall,
  onBrowserCommand,
  serializeMessage,
} from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");
const { EventTarget, MessageEvent, setIsTrusted, defineEventHandler } = core
  .loadExtScript("ext:deno_web/02_event.js");

const kClosed = Symbol("closed");

// This realm's open channels, in creation order.
const channels = [];

// Each receiving channel gets the message as a task of its own, in the
// order the channels were made ("postMessage(message)", step 7).
function deliver(source, name, data, origin) {
  for (const channel of channels) {
    if (channel === source || channel.name !== name) continue;
    setTimeout(() => {
      if (channel[kClosed]) return;
      let event;
      try {
        event = new MessageEvent("message", { data: deserializeMessage(data), origin });
      } catch {
        event = new MessageEvent("messageerror", { origin });
      }
      setIsTrusted(event, true);
      channel.dispatchEvent(event);
    }, 0);
  }
}

export class BroadcastChannel extends EventTarget {
  #name;
  [kClosed] = false;
  constructor(name) {
    const prefix = "Failed to construct 'BroadcastChannel'";
    webidl.requiredArguments(arguments.length, 1, prefix);
    super();
    this.#name = webidl.converters.DOMString(name, prefix, "Argument 1");
    channels.push(this);
  }
  get name() {
    return this.#name;
  }
  // postMessage(message): InvalidStateError once closed (step 2); the
  // message is serialized now (step 3: DataCloneError for what cannot be).
  postMessage(message) {
    webidl.requiredArguments(
      arguments.length,
      1,
      "Failed to execute 'postMessage' on 'BroadcastChannel'",
    );
    if (this[kClosed]) {
      throw new DOMException("The channel is closed.", "InvalidStateError");
    }
    let data;
    try {
      data = serializeMessage(message);
    } catch (e) {
      throw new DOMException(String(e?.message ?? e), "DataCloneError");
    }
    deliver(this, this.#name, data, globalThis.location.origin);
    hostCall("broadcastChannel.post", { name: this.#name, data }).catch(() => {});
  }
  // close(): no more messages, in either direction.
  close() {
    this[kClosed] = true;
    const i = channels.indexOf(this);
    if (i >= 0) channels.splice(i, 1);
  }
}
defineEventHandler(BroadcastChannel.prototype, "message");
defineEventHandler(BroadcastChannel.prototype, "messageerror");
webidl.configureInterface(BroadcastChannel);

onBrowserCommand("broadcastMessage", ({ name, data, origin }) => {
  deliver(null, name, data, origin);
});
