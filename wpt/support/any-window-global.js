// swharness: the inline script of wpt serve's `.any.html` wrapper, as a file
// (served as /resources/swharness/any-window-global.js).
self.GLOBAL = {
  isWindow: function() { return true; },
  isWorker: function() { return false; },
  isShadowRealm: function() { return false; },
};
