"""The network's answer, held back until the page lets it go.

  key=UUID        hold the answer (headers included) until `action=release`
                  for this key, or 10 s
  action=release  (with key) let the held answers of key go
The answer is "network:held".
"""
import time

RELEASE_PATH = "/service-workers/service-worker/resources/hold.py/release"


def released(stash, key):
    with stash.lock:
        value = stash.take(key, RELEASE_PATH)
        stash.put(key, value or [], RELEASE_PATH)
    return bool(value)


def main(request, response):
    stash = request.server.stash
    key = request.GET.first(b"key").decode()
    headers = [(b"Content-Type", b"text/plain"), (b"Cache-Control", b"no-store")]
    if request.GET.first(b"action", b"") == b"release":
        with stash.lock:
            stash.take(key, RELEASE_PATH)
            stash.put(key, [True], RELEASE_PATH)
        return 200, headers, b"released"
    deadline = time.time() + 10
    while not released(stash, key) and time.time() < deadline:
        time.sleep(0.02)
    return 200, headers, b"network:held"
