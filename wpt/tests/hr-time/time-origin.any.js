// META: global=window,serviceworker
// META: title=performance.timeOrigin is this global's start on the wall clock
'use strict';

test(() => {
  assert_equals(typeof performance.timeOrigin, 'number');
  assert_true(Number.isFinite(performance.timeOrigin));
}, 'performance.timeOrigin is a finite number');

test(() => {
  // timeOrigin + now() is the current time; allow for the clocks' grain.
  const before = Date.now();
  const estimate = performance.timeOrigin + performance.now();
  const after = Date.now();
  assert_greater_than_equal(estimate, before - 5);
  assert_less_than_equal(estimate, after + 5);
}, 'performance.timeOrigin + performance.now() is the wall-clock time');

test(() => {
  assert_equals(performance.toJSON().timeOrigin, performance.timeOrigin);
}, 'performance.toJSON() has timeOrigin');
