// Shared by the test pages and the service workers of swharness's own
// Background Fetch tests.
'use strict';

// FNV-1a (32 bit) of a byte array, as 8 hex digits (resources/body.py
// computes the same for action=info).
function bgfFnv1a(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return ('0000000' + h.toString(16)).slice(-8);
}

// The URL of resources/body.py with `params` as its query.
function bgfBodyUrl(params) {
  const query = Object.keys(params || {})
      .map(k => encodeURIComponent(k) + '=' + encodeURIComponent(params[k]))
      .join('&');
  return '/background-fetch/resources/body.py' + (query ? '?' + query : '');
}
