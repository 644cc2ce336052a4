"""The network's answer, held back until the page lets it go.

  key=UUID        hold the answer (headers included) until `action=release`
                  for this key, or 10 s
  action=release  (with key) let the held answers of key go
  script=1        (with key) a service worker script: the first request of
                  the key answers at once (the registration's fetch), later
                  ones (update checks) are held; the script is the same
                  each time
The answer is "network:held" (or the script).
"""
import time

RELEASE_PATH = "/service-workers/service-worker/resources/hold.py/release"
COUNT_PATH = "/service-workers/service-worker/resources/hold.py/count"


def released(stash, key):
    with stash.lock:
        value = stash.take(key, RELEASE_PATH)
        stash.put(key, value or [], RELEASE_PATH)
    return bool(value)


def first_request(stash, key):
    with stash.lock:
        count = stash.take(key, COUNT_PATH) or 0
        stash.put(key, count + 1, COUNT_PATH)
    return count == 0


def main(request, response):
    stash = request.server.stash
    key = request.GET.first(b"key").decode()
    headers = [(b"Content-Type", b"text/plain"), (b"Cache-Control", b"no-store")]
    if request.GET.first(b"action", b"") == b"release":
        with stash.lock:
            stash.take(key, RELEASE_PATH)
            stash.put(key, [True], RELEASE_PATH)
        return 200, headers, b"released"
    script = request.GET.first(b"script", b"") == b"1"
    if not (script and first_request(stash, key)):
        deadline = time.time() + 10
        while not released(stash, key) and time.time() < deadline:
            time.sleep(0.02)
    if script:
        headers[0] = (b"Content-Type", b"text/javascript")
        return 200, headers, b"// the same script each time\n"
    return 200, headers, b"network:held"
