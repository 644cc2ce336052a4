# A worker whose script differs at every fetch: each update() finds a new
# version. It claims its clients when it activates, and calls
# skipWaiting() when told to.
import random


def main(request, response):
    body = (
        "// version %r\n" % random.random()
        + "self.addEventListener('activate', e => e.waitUntil(clients.claim()));\n"
        + "self.addEventListener('message', e => {\n"
        + "  if (e.data === 'skip') self.skipWaiting();\n"
        + "});\n"
    )
    headers = [(b"Content-Type", b"application/javascript"), (b"Cache-Control", b"no-store")]
    return 200, headers, body.encode()
