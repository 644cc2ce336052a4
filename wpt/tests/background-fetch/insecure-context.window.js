'use strict';

// A page served over http from a host that is not potentially trustworthy
// (web-platform.test) is not a secure context: the [SecureContext]
// interfaces and attributes of Service Workers, Cache Storage, Background
// Fetch and Web Crypto are not there at all.
// https://w3c.github.io/webappsec-secure-contexts/

test(() => {
  assert_equals(location.protocol, 'http:');
  assert_false(isSecureContext);
  assert_equals(self.origin, location.origin);
}, 'An http page of a non-loopback host is not a secure context');

test(() => {
  assert_false('serviceWorker' in navigator, 'navigator.serviceWorker');
  for (const name of ['ServiceWorker', 'ServiceWorkerRegistration',
                      'ServiceWorkerContainer', 'caches', 'Cache', 'CacheStorage',
                      'BackgroundFetchManager', 'BackgroundFetchRegistration',
                      'BackgroundFetchRecord', 'SubtleCrypto', 'CryptoKey']) {
    assert_false(name in self, name);
  }
  assert_false('subtle' in crypto, 'crypto.subtle');
  assert_false('randomUUID' in crypto, 'crypto.randomUUID');
}, '[SecureContext] members are not exposed');

test(() => {
  assert_equals(crypto.getRandomValues(new Uint8Array(8)).length, 8);
  assert_equals(typeof QuotaExceededError, 'function');
}, 'What is not [SecureContext] stays');
