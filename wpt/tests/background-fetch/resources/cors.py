"""A cross-origin resource for swharness's CORS tests.

Query parameters:
  allow=ORIGIN   send Access-Control-Allow-Origin: ORIGIN ('*' or an origin);
                 without it, no CORS header is sent
  methods=LIST   Access-Control-Allow-Methods for a preflight
  headers=LIST   Access-Control-Allow-Headers for a preflight
  key=UUID       log every request (method, Origin, Referer, the
                 preflight's Access-Control-Request-* headers) under this
                 stash key
  action=log     (with key) answer the log as JSON (with `allow`, readable
                 across origins)
The body is "cors ok" for every method but OPTIONS (an empty 204).
"""
import json

LOG_PATH = "/background-fetch/resources/cors.py/log"


def header(request, name):
    value = request.headers.get(name)
    return value.decode("latin-1") if value is not None else None


def main(request, response):
    q = request.GET
    key = q.first(b"key", None)
    key = key.decode() if key else None
    action = q.first(b"action", b"").decode()
    if key and action == "log":
        stash = request.server.stash
        with stash.lock:
            log = stash.take(key, LOG_PATH) or []
            stash.put(key, log, LOG_PATH)
        headers = [(b"Content-Type", b"application/json")]
        allow = q.first(b"allow", None)
        if allow:
            headers.append((b"Access-Control-Allow-Origin", allow))
        return 200, headers, json.dumps(log)
    if key:
        stash = request.server.stash
        entry = {
            "method": request.method,
            "origin": header(request, b"origin"),
            "referer": header(request, b"referer"),
            "requestMethod": header(request, b"access-control-request-method"),
            "requestHeaders": header(request, b"access-control-request-headers"),
        }
        with stash.lock:
            log = stash.take(key, LOG_PATH) or []
            log.append(entry)
            stash.put(key, log, LOG_PATH)
    headers = [(b"Content-Type", b"text/plain")]
    allow = q.first(b"allow", None)
    if allow:
        headers.append((b"Access-Control-Allow-Origin", allow))
    if request.method == "OPTIONS":
        for name, value in ((b"methods", b"Access-Control-Allow-Methods"),
                            (b"headers", b"Access-Control-Allow-Headers")):
            v = q.first(name, None)
            if v:
                headers.append((value, v))
        return 204, headers, b""
    return 200, headers, b"cors ok"
