"""A configurable response body for swharness's Background Fetch tests.

Query parameters (all optional):
  size=N       body length in bytes (default 1024); the bytes follow a fixed
               pattern (see pattern()), so that a test can check them
  vary=NAMES   send `Vary: NAMES`
  etag=E       send `ETag: "E"` and honour Range when If-Range matches;
               etag=per-request: the ETag changes with every request of key
  status=N     answer with this status (the body is still sent)
  stall=N      (with key) the first request for key sends N bytes, then
               waits until `action=release` for key (or until 30 s have
               passed) before sending the rest
  truncate=N   announce the whole length but close the connection after N
               bytes (a network error mid-body)
  delay=MS     sleep MS milliseconds between 8 KiB chunks
  key=UUID     stash key: every request is logged under it (method, Range,
               If-Range, request body length), and it names the stall
  action=log   (with key) answer the log as JSON; the log stays
  action=release (with key) let stalled responses of key continue
  action=info  answer {"size", "fnv"} for the body of `size`
"""
import json
import time

LOG_PATH = "/background-fetch/resources/body.py/log"
RELEASE_PATH = "/background-fetch/resources/body.py/release"
CHUNK = 8192


def pattern(size):
    return bytes(((i * 31) + (i >> 10)) & 0xFF for i in range(size))


def fnv1a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "%08x" % h


def stash_update(request, key, path, fn):
    stash = request.server.stash
    with stash.lock:
        value = stash.take(key, path)
        value = fn(value)
        stash.put(key, value, path)
        return value


def stash_peek(request, key, path):
    return stash_update(request, key, path, lambda v: v if v is not None else [])


def header(request, name):
    value = request.headers.get(name.encode("latin-1"))
    if value is None:
        return None
    return value.decode("latin-1") if isinstance(value, bytes) else value


def param(request, name, default=None):
    value = request.GET.first(name.encode("latin-1"), None)
    if value is None:
        return default
    return value.decode("latin-1") if isinstance(value, bytes) else value


def json_response(response, value):
    response.headers.set("Content-Type", "application/json")
    response.headers.set("Cache-Control", "no-store")
    response.content = json.dumps(value)


def released(request, key):
    return bool(stash_peek(request, key, RELEASE_PATH))


def main(request, response):
    key = param(request, "key")
    action = param(request, "action")
    size = int(param(request, "size", "1024"))

    if action == "log":
        return json_response(response, stash_peek(request, key, LOG_PATH))
    if action == "release":
        stash_update(request, key, RELEASE_PATH, lambda v: [True])
        return json_response(response, {"released": True})
    if action == "info":
        return json_response(response, {"size": size, "fnv": fnv1a(pattern(size))})

    entry = {
        "method": request.method,
        "range": header(request, "Range"),
        "ifRange": header(request, "If-Range"),
        "bodyLength": len(request.body or b""),
    }
    count = 0
    if key:
        count = len(stash_update(request, key, LOG_PATH, lambda v: (v or []) + [entry]))

    body = pattern(size)
    status = int(param(request, "status", "200"))
    etag = param(request, "etag")
    if etag == "per-request":
        etag = "r%d" % count
    stall = param(request, "stall")
    truncate = param(request, "truncate")
    delay = int(param(request, "delay", "0")) / 1000.0

    start = 0
    writer = response.writer
    quoted = '"%s"' % etag if etag else None
    range_header = entry["range"]
    if (quoted and status == 200 and range_header and range_header.startswith("bytes=")
            and entry["ifRange"] in (None, quoted)):
        first = range_header[len("bytes="):].split("-")[0]
        if first.isdigit() and int(first) < size:
            start = int(first)
    if start > 0:
        writer.write_status(206)
        writer.write_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
    else:
        writer.write_status(status)
    writer.write_header("Content-Type", "application/octet-stream")
    writer.write_header("Cache-Control", "no-store")
    writer.write_header("Content-Length", str(size - start))
    vary = param(request, "vary")
    if vary:
        writer.write_header("Vary", vary)
    if quoted:
        writer.write_header("ETag", quoted)
        writer.write_header("Accept-Ranges", "bytes")
    writer.end_headers()

    stop_at = int(truncate) if truncate is not None else size
    stall_at = int(stall) if stall is not None and count == 1 else None
    pos = start
    while pos < stop_at:
        if stall_at is not None and pos >= stall_at and key:
            deadline = time.time() + 30
            while not released(request, key) and time.time() < deadline:
                time.sleep(0.05)
            stall_at = None
        end = min(stop_at, pos + CHUNK)
        if stall_at is not None and pos < stall_at < end:
            end = stall_at
        if not writer.write(body[pos:end]):
            break
        pos = end
        if delay:
            time.sleep(delay)
    if pos < size:
        response.close_connection = True
