"""Bearer-token protection for admin routes; the token comes from ADMIN_TOKEN in the environment."""
from __future__ import annotations

import functools
import hmac

from flask import request

from api_common.app import settings_of
from api_common.errors import error_response


def admin_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        expected = settings_of().admin_token
        if not expected:
            return error_response(403, "Admin routes are disabled: set ADMIN_TOKEN to enable them.")
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
            response = error_response(401, "A valid admin bearer token is required.")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return view(*args, **kwargs)
    return wrapper
