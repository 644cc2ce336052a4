'use strict';

// HTML, document.currentScript: the <script> element whose classic script is
// running (this file's, as wptserve's wrapper loads it), null otherwise.

const during = document.currentScript;

test(() => {
  assert_not_equals(during, null);
  assert_equals(during.localName, 'script');
  assert_true(during.src.endsWith('/html/dom/current-script.window.js'), during.src);
}, 'currentScript is the running script element');

promise_test(async () => {
  await Promise.resolve();
  assert_equals(document.currentScript, null, 'after the script has run');
  const inline = document.createElement('script');
  inline.textContent = 'window.seenInline = document.currentScript;';
  document.body.appendChild(inline);
  assert_equals(window.seenInline, inline, 'an inserted inline script');
  assert_equals(document.currentScript, null, 'and null again after it');
}, 'currentScript is null between scripts and is an inserted inline script while it runs');
