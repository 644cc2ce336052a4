"""Redirects to the URL in `location`.

Query parameters:
  location=URL   where to (required)
  status=CODE    the redirect status (default 302)
  allow=ORIGIN   send Access-Control-Allow-Origin: ORIGIN with the redirect
"""


def main(request, response):
    location = request.GET.first(b"location")
    status = int(request.GET.first(b"status", b"302"))
    headers = [(b"Location", location), (b"Cache-Control", b"no-store")]
    allow = request.GET.first(b"allow", None)
    if allow:
        headers.append((b"Access-Control-Allow-Origin", allow))
    return status, headers, b""
