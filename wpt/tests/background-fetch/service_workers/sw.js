// The service worker of swharness's own Background Fetch tests. What it does
// for a fetch depends on the fetch's id:
//   every final event (success, fail, abort): reports the registration, its
//     records (status, length, checksum), getIds() and get(id) as seen from
//     the event, as a message of the event's type;
//   id starting with 'ui-': calls updateUI({title: 'Updated <id>'}) twice and
//     reports both outcomes in `ui`;
//   id starting with 'match-': runs match()/matchAll() queries, see
//     matchQueries();
//   id containing 'hold': keeps the event alive (after reporting) until the
//     page sends {type: 'release', id};
//   backgroundfetchclick: reports the event; for an id starting with 'open-'
//     also opens ../resources/opened.html.
// Messages from the page: {type: 'release', id} and {type: 'after', id},
// which waits until the final event has ended and its registration says
// recordsAvailable false, then reports what match(), matchAll() and
// updateUI() do then, and updateUI() of an untrusted event (reply type
// 'after-reply').
'use strict';
importScripts('../resources/bgf-common.js', 'sw-common.js');

const finalEvents = new Map();
const ended = new Map();
const holds = new Map();

function tagsOf(records) {
  if (records === undefined) return 'undefined';
  if (!Array.isArray(records)) records = [records];
  return records.map(r => r.request.method + ' ' +
      new URL(r.request.url).searchParams.get('tag')).join(',');
}

async function matchQueries(reg) {
  const a = bgfBodyUrl({size: 10, tag: 'a'});
  const c = bgfBodyUrl({size: 30, tag: 'c'});
  const q = {};
  async function run(name, f) {
    try {
      q[name] = tagsOf(await f());
    } catch (e) {
      q[name] = 'threw ' + e.name;
    }
  }
  await run('matchAll()', () => reg.matchAll());
  await run('match(a)', () => reg.match(a));
  await run('match(Request a)', () => reg.match(new Request(a)));
  await run('match(a#fragment)', () => reg.match(a + '#fragment'));
  await run('match(a&x=1)', () => reg.match(a + '&x=1'));
  await run('match(a&x=1, ignoreSearch)', () => reg.match(a + '&x=1', {ignoreSearch: true}));
  await run('matchAll(a&x=1, ignoreSearch)',
      () => reg.matchAll(a + '&x=1', {ignoreSearch: true}));
  await run('matchAll(c)', () => reg.matchAll(c));
  await run('matchAll(c, ignoreMethod)', () => reg.matchAll(c, {ignoreMethod: true}));
  await run('matchAll(a&x=1, ignoreSearch+ignoreMethod)',
      () => reg.matchAll(a + '&x=1', {ignoreSearch: true, ignoreMethod: true}));
  await run('match(missing)', () => reg.match(bgfBodyUrl({size: 10, tag: 'missing'})));
  return q;
}

async function updateUIOutcome(event, options) {
  try {
    const r = await event.updateUI(options);
    return r === undefined ? 'resolved' : 'resolved with ' + r;
  } catch (e) {
    return e.name;
  }
}

function onFinalEvent(event) {
  const reg = event.registration;
  const id = reg.id;
  finalEvents.set(id, event);
  const work = (async () => {
    const msg = {
      type: event.type,
      id,
      reg: bgfSnapshot(reg),
      sameRegistration: event.registration === reg,
      isBackgroundFetchEvent: event instanceof BackgroundFetchEvent,
      isUpdateUIEvent: event instanceof BackgroundFetchUpdateUIEvent,
    };
    if (id.startsWith('ui-')) {
      msg.ui = [
        await updateUIOutcome(event, {title: 'Updated ' + id}),
        await updateUIOutcome(event, {title: 'Again ' + id}),
      ];
    }
    if (id.startsWith('match-')) msg.match = await matchQueries(reg);
    msg.records = await Promise.all((await reg.matchAll()).map(bgfDescribeRecord));
    msg.getIds = await self.registration.backgroundFetch.getIds();
    const got = await self.registration.backgroundFetch.get(id);
    msg.get = got === undefined ? 'undefined' : (got === reg ? 'same' : 'other');
    const hold = id.includes('hold') ?
        new Promise(resolve => holds.set(id, resolve)) : null;
    await bgfBroadcast(msg);
    if (hold) await hold;
  })();
  event.waitUntil(work);
  // Ended: the lifetime promise settled, and a task has run since.
  ended.set(id, work.then(() => bgfTimeout(0), () => bgfTimeout(0)));
}

self.addEventListener('backgroundfetchsuccess', onFinalEvent);
self.addEventListener('backgroundfetchfail', onFinalEvent);
self.addEventListener('backgroundfetchabort', onFinalEvent);

self.addEventListener('backgroundfetchclick', event => {
  const reg = event.registration;
  event.waitUntil((async () => {
    const msg = {
      type: event.type,
      id: reg.id,
      reg: bgfSnapshot(reg),
      isBackgroundFetchEvent: event instanceof BackgroundFetchEvent,
      isUpdateUIEvent: event instanceof BackgroundFetchUpdateUIEvent,
    };
    if (reg.id.startsWith('open-')) {
      try {
        const client = await clients.openWindow('../resources/opened.html');
        msg.opened = client ? client.url : null;
        const all = await clients.matchAll({includeUncontrolled: true, type: 'window'});
        msg.openedListed = all.some(c => client && c.url === client.url);
      } catch (e) {
        msg.opened = 'threw ' + e.name;
      }
    }
    await bgfBroadcast(msg);
  })());
});

self.addEventListener('message', event => {
  const data = event.data || {};
  if (data.type === 'release') {
    const resolve = holds.get(data.id);
    if (resolve) resolve();
    return;
  }
  if (data.type === 'after') {
    event.waitUntil((async () => {
      const ev = finalEvents.get(data.id);
      const reply = {type: 'after-reply', id: data.id};
      if (!ev) {
        reply.error = 'no final event for ' + data.id;
      } else {
        await ended.get(data.id);
        const reg = ev.registration;
        // The records available flag is unset in parallel once the event
        // has ended; the page's test timeout bounds this wait.
        while (reg.recordsAvailable) await bgfTimeout(10);
        reply.recordsAvailable = reg.recordsAvailable;
        for (const [name, f] of [['match', () => reg.match(bgfBodyUrl({}))],
                                 ['matchAll', () => reg.matchAll()]]) {
          try {
            await f();
            reply[name] = 'resolved';
          } catch (e) {
            reply[name] = e.name;
          }
        }
        reply.updateUI = typeof ev.updateUI === 'function' ?
            await updateUIOutcome(ev, {title: 'Late'}) : 'no updateUI';
        reply.untrustedUpdateUI = await updateUIOutcome(
            new BackgroundFetchUpdateUIEvent(ev.type, {registration: reg}), {title: 'Untrusted'});
      }
      await bgfBroadcast(reply);
    })());
  }
});
