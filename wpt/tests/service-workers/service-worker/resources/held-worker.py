"""A service worker script whose update checks can be held back.

  key=UUID  the first request answers at once; later ones (update checks)
            wait until `hold.py?action=release&key=UUID`, or 10 s
The script is the same each time.
"""
import time

RELEASE_PATH = "/service-workers/service-worker/resources/hold.py/release"
COUNT_PATH = "/service-workers/service-worker/resources/held-worker.py/count"


def released(stash, key):
    with stash.lock:
        value = stash.take(key, RELEASE_PATH)
        stash.put(key, value or [], RELEASE_PATH)
    return bool(value)


def main(request, response):
    stash = request.server.stash
    key = request.GET.first(b"key").decode()
    with stash.lock:
        count = stash.take(key, COUNT_PATH) or 0
        stash.put(key, count + 1, COUNT_PATH)
    if count > 0:
        deadline = time.time() + 10
        while not released(stash, key) and time.time() < deadline:
            time.sleep(0.02)
    headers = [(b"Content-Type", b"text/javascript"), (b"Cache-Control", b"no-store")]
    return 200, headers, b"// the same script each time\n"
