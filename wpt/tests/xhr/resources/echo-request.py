# The request as the server saw it: method, Content-Type, an X-Test header
# and the body, one per line.
def main(request, response):
    headers = [(b"Content-Type", b"text/plain;charset=utf-8"), (b"Cache-Control", b"no-store"),
               (b"X-Custom", b"one"), (b"x-custom", b"two")]
    lines = [request.method.encode(),
             request.headers.get(b"Content-Type", b"-"),
             request.headers.get(b"X-Test", b"-"),
             request.body or b""]
    return 200, headers, b"\n".join(lines)
