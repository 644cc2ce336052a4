"""Answers a TCP port on 127.0.0.1 that nothing listens on (it was bound and
released just now), as text."""
import socket


def main(request, response):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    response.headers.set("Content-Type", "text/plain")
    response.headers.set("Cache-Control", "no-store")
    response.content = str(port)
