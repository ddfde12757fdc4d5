"""Schemathesis hooks for CoLink's contract run (scripts/contract.sh).

Credentials: every operation is called as the owner (its token cached for ten minutes), except
the ones that end the caller's own sessions (`POST /auth/logout-all`), which get a fresh member
registered through an invite for each call, so the owner's token stays valid for the rest of the
run. The web app's cookie routes (`POST /auth/web/refresh`, `/auth/web/logout`) also get, for
each call, the cookies of a fresh web login of the owner and the matching `X-CSRF-Token`, so
their success path is reached too. The fixture (owner, invite, ids) comes from the JSON file
named by COLINK_CONTRACT_FIXTURE.
"""

import json
import os
import time
import urllib.request
import uuid

import schemathesis

FIXTURE = json.load(open(os.environ["COLINK_CONTRACT_FIXTURE"]))
BASE = FIXTURE["base"]

# Operations after which the caller's token no longer works.
SELF_REVOKING = {("POST", "/auth/logout-all")}
# Operations that take the web app's session cookies and CSRF header.
WEB_SESSION = {("POST", "/auth/web/refresh"), ("POST", "/auth/web/logout")}


def call(method, path, body=None, token=None):
    request = urllib.request.Request(BASE + path, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, data, timeout=30) as response:
        return json.loads(response.read() or b"null")


def login(username, password):
    return call("POST", "/auth/login", {"login": username, "password": password})["access_token"]


def web_login(username, password):
    """The cookies `POST /auth/web/login` sets, by name."""
    request = urllib.request.Request(BASE + "/auth/web/login", method="POST")
    request.add_header("content-type", "application/json")
    body = json.dumps({"login": username, "password": password}).encode()
    with urllib.request.urlopen(request, body, timeout=30) as response:
        cookies = response.headers.get_all("Set-Cookie") or []
    return dict(c.split(";", 1)[0].split("=", 1) for c in cookies)


def fresh_member():
    name = "m" + uuid.uuid4().hex[:12]
    password = "fresh member passphrase " + name
    call(
        "POST",
        "/auth/register",
        {
            "email": f"{name}@example.com",
            "username": name,
            "password": password,
            "invite_token": FIXTURE["invite_token"],
        },
    )
    return login(name, password)


@schemathesis.auth(refresh_interval=None)
class CoLinkAuth:
    owner_token = None
    owner_expires = 0.0

    def get(self, case, context):
        operation = (case.method.upper(), case.path)
        if operation in SELF_REVOKING:
            return fresh_member()
        if operation in WEB_SESSION:
            return web_login(FIXTURE["owner"], FIXTURE["password"])
        if self.owner_token is None or time.monotonic() > self.owner_expires:
            self.owner_token = login(FIXTURE["owner"], FIXTURE["password"])
            self.owner_expires = time.monotonic() + 600
        return self.owner_token

    def set(self, case, data, context):
        case.headers = case.headers or {}
        if isinstance(data, dict):
            case.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in data.items())
            case.headers["X-CSRF-Token"] = data["colink_csrf"]
            return
        case.headers["Authorization"] = f"Bearer {data}"
