"""Redirects (302) to the URL in `location`."""


def main(request, response):
    location = request.GET.first(b"location")
    return 302, [(b"Location", location), (b"Cache-Control", b"no-store")], b""
