"""The security headers of every HTML page the services serve (the dashboard, its sign-in page,
/docs): everything the page loads comes from this origin; no inline script can run (inline
styles may: the dashboard's stock bars, Swagger UI's widgets); forms post only here; no other
site may frame it."""
from __future__ import annotations

from werkzeug.wrappers import Response

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def hardened(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response
