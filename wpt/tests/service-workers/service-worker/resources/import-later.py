"""A script a worker imports: its first fetch for a key is a fixed script,
later ones depend on `then`:

  key=UUID   counts the fetches
  then=404   a 404
  then=new   a script that differs each time
"""


def main(request, response):
    stash = request.server.stash
    key = request.GET.first(b"key").decode()
    with stash.lock:
        count = (stash.take(key) or 0) + 1
        stash.put(key, count)
    headers = [(b"Content-Type", b"application/javascript"), (b"Cache-Control", b"no-store")]
    then = request.GET.first(b"then", b"")
    if count > 1 and then == b"404":
        return 404, [(b"Content-Type", b"text/plain")], b"gone"
    if count > 1 and then == b"new":
        return 200, headers, b"// fetch %d\n" % count
    return 200, headers, b"// the first fetch\n"
