// Service-worker helpers for swharness's own Background Fetch tests. Load
// after ../resources/bgf-common.js.
'use strict';

// Posts `msg` to every window of the origin (the test pages are not
// controlled: their scopes are elsewhere).
async function bgfBroadcast(msg) {
  const list = await clients.matchAll({includeUncontrolled: true, type: 'window'});
  for (const c of list) c.postMessage(msg);
}

// The attributes of a BackgroundFetchRegistration, as a plain object.
function bgfSnapshot(reg) {
  return {
    id: reg.id,
    uploadTotal: reg.uploadTotal,
    uploaded: reg.uploaded,
    downloadTotal: reg.downloadTotal,
    downloaded: reg.downloaded,
    result: reg.result,
    failureReason: reg.failureReason,
    recordsAvailable: reg.recordsAvailable,
  };
}

// A record as a plain object: request URL and method, and the response's
// status, length and checksum (or the name of the error responseReady or
// reading the body rejected with).
async function bgfDescribeRecord(record) {
  const out = {url: record.request.url, method: record.request.method};
  try {
    const response = await record.responseReady;
    out.status = response.status;
    const bytes = new Uint8Array(await response.arrayBuffer());
    out.length = bytes.length;
    out.fnv = bgfFnv1a(bytes);
  } catch (e) {
    out.error = e.name;
  }
  return out;
}

function bgfTimeout(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}
