// Clients, Client and WindowClient as the service worker sees them.
// Spec: Service Workers, the Client, WindowClient and Clients interfaces.
import {
  hostCall,
  serializeTransfer,
} from "ext:swharness/ipc/01_host.js";
import { illegal } from "ext:swharness/service_worker/11_service_worker.js";
import { core } from "ext:core/mod.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

export class Client {
  #info;
  constructor(key, info) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
    this.#info = info;
  }
  get url() {
    return this.#info.url;
  }
  get id() {
    return this.#info.id;
  }
  get type() {
    return this.#info.type;
  }
  get frameType() {
    return this.#info.frameType;
  }
  // Client.postMessage(message, options): step 3 serializes; step 4's delivery
  // to the client's message queue is the browser's.
  postMessage(message, options = undefined) {
    const data = serializeTransfer(message, options);
    hostCall("serviceWorker.postMessageToClient", { clientId: this.#info.id, data }).catch(
      () => {},
    );
  }
}
webidl.configureInterface(Client);

export class WindowClient extends Client {
  #info;
  constructor(key, info) {
    super(key, info);
    this.#info = info;
  }
  get visibilityState() {
    return this.#info.visibilityState;
  }
  get focused() {
    return this.#info.focused;
  }
  get ancestorOrigins() {
    return Object.freeze([]);
  }
  // focus(): not implemented as specified (no user activation check, no
  // focusing steps); it resolves with this client.
  async focus() {
    return this;
  }
  // WindowClient.navigate(url): the window navigates (through the worker
  // whose scope matches); resolves with the new window's client, or null
  // for another origin.
  async navigate(url) {
    const info = await hostCall("serviceWorker.clientsNavigate", {
      id: this.#info.id,
      url: String(url),
    });
    return info ? wrap(info) : null;
  }
}
webidl.configureInterface(WindowClient);

// "Create Window Client" (or "Create Client") from the browser's data.
function wrap(info) {
  if (!info) return undefined;
  return info.type === "window"
    ? new WindowClient(illegal, info)
    : new Client(illegal, info);
}

export class Clients {
  constructor(key) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
  }
  // Clients.get(id).
  async get(id) {
    return wrap(await hostCall("serviceWorker.clientsGet", { id: String(id) }));
  }
  // Clients.matchAll(options): ClientQueryOptions' type defaults to "window".
  async matchAll(options = {}) {
    const list = await hostCall("serviceWorker.clientsMatchAll", {
      includeUncontrolled: !!options?.includeUncontrolled,
      type: options?.type ?? "window",
    });
    return list.map(wrap);
  }
  // Clients.openWindow(url): null for a window of another origin.
  async openWindow(url) {
    const info = await hostCall("serviceWorker.clientsOpenWindow", { url: String(url) });
    return info ? wrap(info) : null;
  }
  // Clients.claim().
  async claim() {
    await hostCall("serviceWorker.clientsClaim");
  }
}
webidl.configureInterface(Clients);

export function createClients() {
  return new Clients(illegal);
}

export { wrap as wrapClient };
