#!/usr/bin/env python3
"""A CoLink webhook receiver: checks each delivery's signature and prints its event.

Usage:
    COLINK_WEBHOOK_SECRET='the webhook secret' python3 receiver.py [--port 8000]

It first prints {"listening": "http://127.0.0.1:8000/"}, then each verified event as one JSON
line on standard output:
    {"delivery": "<event id>", "type": "message.created", "event": {...}}
and answered 204. A request whose signature does not match, or whose timestamp is more than
five minutes away from now (a replay), is answered 401 and reported on standard error. An
event delivered again (the same X-CoLink-Delivery, after a retry) is answered 204 and not
printed twice. Python's standard library only: copy it and put your bot's logic in `handle`.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20  # CoLink's events are far smaller
TOLERANCE_SECONDS = 300
REMEMBERED = 10_000


def expected_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def handle(event: dict) -> None:
    """Your bot's work. This one prints the event."""
    line = {"delivery": event["id"], "type": event["type"], "event": event}
    print(json.dumps(line), flush=True)


class Receiver(BaseHTTPRequestHandler):
    secret = b""
    seen: "OrderedDict[str, None]" = OrderedDict()

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "too large")
        body = self.rfile.read(length)
        timestamp = self.headers.get("X-CoLink-Timestamp", "")
        signature = self.headers.get("X-CoLink-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return self.answer(401, "missing or stale timestamp")
        if not hmac.compare_digest(expected_signature(self.secret, timestamp, body), signature):
            return self.answer(401, "bad signature")
        delivery = self.headers.get("X-CoLink-Delivery", "")
        if delivery in self.seen:
            return self.answer(204)
        try:
            event = json.loads(body)
        except ValueError:
            return self.answer(400, "not JSON")
        handle(event)
        self.seen[delivery] = None
        if len(self.seen) > REMEMBERED:
            self.seen.popitem(last=False)
        self.answer(204)

    def answer(self, status: int, problem: str = "") -> None:
        if problem:
            print(f"refused: {problem}", file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet: stdout carries the events
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    args = parser.parse_args()
    secret = os.environ.get("COLINK_WEBHOOK_SECRET", "")
    if len(secret) < 16:
        sys.exit("set COLINK_WEBHOOK_SECRET to the webhook's secret (at least 16 characters)")
    Receiver.secret = secret.encode()
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    host, port = server.server_address[:2]
    print(json.dumps({"listening": f"http://{host}:{port}/"}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
