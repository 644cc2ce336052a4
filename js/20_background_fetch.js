// Background Fetch (WICG): filled in by the Background Fetch change.
export function installBackgroundFetch(_options) {}
export function backgroundFetchEventFor(_type, _init) {
  return null;
}
