"""CSRF protection by double submit: a random token in an HttpOnly cookie and in every form, compared on POST.

A cross-site page can make the browser send the cookie (SameSite=Lax already blocks most of that) but cannot
read it to put it in the form. An Origin header naming another site is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request

COOKIE = "shop_csrf"
FIELD = "csrf_token"


def token_for(request: Request) -> str:
    existing = request.cookies.get(COOKIE, "")
    if 20 <= len(existing) <= 100 and existing.replace("-", "").replace("_", "").isalnum():
        return existing
    return secrets.token_urlsafe(32)


def valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(COOKIE)
    if not cookie or not submitted:
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
        if urlsplit(origin).netloc.lower() != host.lower():
            return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())
