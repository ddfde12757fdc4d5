"""Create the contract run's fixture on a fresh CoLink server, and the schemathesis config.

Usage: fixture.py BASE_URL SETUP_TOKEN OUT_DIR
Writes OUT_DIR/fixture.json (for hooks.py) and OUT_DIR/schemathesis.toml: the owner, a channel
with a message, a thread reply and a reaction, a second member, and an invite for fresh users.
Non-destructive operations get the real ids as their path parameters, so schemathesis exercises
the handlers behind the 404 with its generated bodies and queries; destructive ones (archive,
delete, suspend…) keep generated ids.
"""

import json
import sys
import urllib.request

base, setup_token, out = sys.argv[1], sys.argv[2], sys.argv[3]
OWNER, PASSWORD = "owner", "contract owner passphrase 1"


def call(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, data, timeout=30) as response:
        return json.loads(response.read() or b"null")


done = call(
    "POST",
    "/setup",
    {
        "setup_token": setup_token,
        "email": "owner@example.com",
        "username": OWNER,
        "password": PASSWORD,
        "workspace_name": "Contract",
    },
)
token = done["tokens"]["access_token"]
workspace = done["workspace"]["id"]
invite = call("POST", f"/workspaces/{workspace}/invites", {"max_uses": 100000}, token)
member_name = "member"
call(
    "POST",
    "/auth/register",
    {
        "email": "member@example.com",
        "username": member_name,
        "password": "contract member passphrase 1",
        "invite_token": invite["token"],
    },
)
member = call("GET", "/users?q=member", token=token)["items"][0]["id"]
channel = call("POST", "/channels", {"name": "contract", "is_private": False}, token)["id"]
call("POST", f"/channels/{channel}/members", {"user_id": member}, token)
message = call("POST", f"/channels/{channel}/messages", {"content": "hello @member"}, token)["id"]
call("POST", f"/messages/{message}/threads", {"content": "a reply"}, token)
call("POST", f"/messages/{message}/reactions", {"emoji": "thumbsup"}, token)

json.dump(
    {
        "base": base,
        "owner": OWNER,
        "password": PASSWORD,
        "invite_token": invite["token"],
    },
    open(f"{out}/fixture.json", "w"),
)

pinned = {
    "GET /users/{id}": {"id": member},
    "GET /admin/users/{id}": {"id": member},
    "GET /workspaces/{id}": {"id": workspace},
    "POST /workspaces/{id}/invites": {"id": workspace},
    "GET /channels/{id}": {"id": channel},
    "PUT /channels/{id}": {"id": channel},
    "POST /channels/{id}/join": {"id": channel},
    "GET /channels/{id}/members": {"id": channel},
    "POST /channels/{id}/members": {"id": channel},
    "POST /channels/{id}/read": {"id": channel},
    "GET /channels/{id}/pins": {"id": channel},
    "POST /channels/{id}/messages": {"id": channel},
    "GET /channels/{id}/messages": {"id": channel},
    "PUT /messages/{id}": {"id": message},
    "POST /messages/{id}/threads": {"id": message},
    "GET /messages/{id}/thread": {"id": message},
    "POST /messages/{id}/reactions": {"id": message},
    "POST /messages/{id}/pin": {"id": message},
    "PUT /messages/{id}/follow": {"id": message},
    "POST /messages/{id}/follow": {"id": message},
    "POST /messages/{id}/thread/read": {"id": message},
}
# Where a schema-valid request can still be refused with 400, because the value is opaque or
# its rule is not a schema's to say: a cursor that did not come from `next_cursor`, a token or
# code that was never issued, a password too easy to guess (zxcvbn).
OPAQUE = {
    "GET /channels": "cursor",
    "GET /channels/{id}/members": "cursor",
    "GET /channels/{id}/pins": "cursor",
    "GET /conversations": "cursor",
    "GET /dms": "cursor",
    "GET /users": "cursor",
    "GET /admin/users": "cursor",
    "GET /admin/audit": "cursor",
    "GET /admin/moderation/queue": "cursor",
    "GET /admin/channels": "cursor",
    "GET /messages/{id}/thread": "cursor",
    "GET /threads": "cursor",
    "POST /setup": "password strength",
    "POST /auth/register": "password strength",
    "POST /auth/password-reset/confirm": "reset token, password strength",
    "POST /auth/email/verify": "verification token",
    "POST /auth/login/totp": "one-time code",
    "POST /auth/web/login/totp": "one-time code",
    "POST /auth/totp/confirm": "one-time code",
    "DELETE /auth/totp": "one-time code",
    "GET /channels/{id}/files": "cursor",
    "POST /files/upload-url": "content type not on the allowlist; 413 over the size limit",
    "POST /files/uploads": "content type not on the allowlist, chunk count; 413 over the size limit",
    "POST /admin/moderation/rules": "a regex that does not parse or compiles too big",
    "PUT /admin/settings/{key}": "a value the configuration itself refuses (any JSON is schema-valid)",
}
# Statuses besides 400 that a schema-valid request may get for the reason given above, or
# (operations not in OPAQUE) besides the usual ones: a message may be refused with 422
# `content_blocked` because the run itself adds moderation rules whose patterns it then sends.
OPAQUE_EXTRA = {
    "POST /files/upload-url": ["413"],
    "POST /files/uploads": ["413"],
    "POST /channels/{id}/messages": ["422"],
    "POST /messages/{id}/threads": ["422"],
    "PUT /messages/{id}": ["422"],
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

with open(f"{out}/schemathesis.toml", "w") as config:
    # Stateful links from Location headers only: dependency analysis guesses from field names,
    # and takes a message's `client_id` ("0") for the id of `/admin/clients/{id}` (a UUID).
    config.write('[phases.stateful.inference]\nalgorithms = ["location-headers"]\n\n')
    for name in sorted(set(pinned) | set(OPAQUE) | set(OPAQUE_EXTRA)):
        config.write(f'[[operations]]\ninclude-name = "{name}"\n')
        if name in pinned:
            values = ", ".join(f'"path.{k}" = "{v}"' for k, v in pinned[name].items())
            config.write(f"parameters = {{ {values} }}\n")
        if name in OPAQUE or name in OPAQUE_EXTRA:
            opaque = ["400"] if name in OPAQUE else []
            statuses = ", ".join(f'"{s}"' for s in [*opaque, *OPAQUE_EXTRA.get(name, []), *ACCEPTED])
            if name in OPAQUE:
                config.write(f"# 400: {OPAQUE[name]}\n")
            config.write("[operations.checks.positive_data_acceptance]\n")
            config.write(f"expected-statuses = [{statuses}]\n")
        config.write("\n")
