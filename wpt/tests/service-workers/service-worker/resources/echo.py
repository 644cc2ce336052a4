# The network's answer: the method and the body it received.
def main(request, response):
    body = request.body or b""
    headers = [(b"Content-Type", b"text/plain"), (b"Cache-Control", b"no-store")]
    return 200, headers, b"network:" + request.method.encode() + b":" + body
