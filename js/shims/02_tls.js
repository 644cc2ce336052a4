// deno_fetch's HTTP client module imports Deno's TLS helpers for
// `Deno.createHttpClient`, which this runtime does not expose.
(function () {
  function loadTlsKeyPair() {
    throw new TypeError("Custom TLS key pairs are not supported");
  }
  return { loadTlsKeyPair };
})();
