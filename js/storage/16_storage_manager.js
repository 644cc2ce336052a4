// StorageManager (the Storage spec): `navigator.storage` in windows and
// workers of a secure context. The browser side (src/storage/manager.rs)
// sums the origin's usage across Cache Storage and Background Fetch.
import { core } from "ext:core/mod.js";
import { hostCall } from "ext:swharness/ipc/01_host.js";
const webidl = core.loadExtScript("ext:deno_webidl/00_webidl.js");

const illegal = Symbol("illegal");

export class StorageManager {
  constructor(key) {
    if (key !== illegal) throw new TypeError("Illegal constructor");
  }
  // estimate(): {usage, quota} in bytes.
  estimate() {
    return hostCall("storage.estimate");
  }
  persist() {
    return hostCall("storage.persist");
  }
  persisted() {
    return hostCall("storage.persisted");
  }
}
webidl.configureInterface(StorageManager);

export function createStorageManager() {
  return new StorageManager(illegal);
}
