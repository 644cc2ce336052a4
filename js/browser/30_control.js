// `swharness`: the control object client realms get, standing in for the
// browser UI and the network: offline switch, clicking or cancelling a
// background fetch in the download UI, permissions, and the UI's state.
import { hostCall, hostCallSync } from "ext:swharness/ipc/01_host.js";

export function createControl() {
  return Object.freeze({
    setOnline(online) {
      return hostCall("browser.setOnline", { online: !!online });
    },
    clickBackgroundFetch(id) {
      return hostCall("backgroundFetch.click", { id: String(id) });
    },
    cancelBackgroundFetch(id) {
      return hostCall("backgroundFetch.cancel", { id: String(id) });
    },
    setPermission(name, state) {
      return hostCall("browser.setPermission", {
        name: String(name),
        state: String(state),
      });
    },
    uiState(id) {
      return hostCallSync("backgroundFetch.uiState", { id: String(id) });
    },
  });
}
