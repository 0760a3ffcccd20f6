#!/usr/bin/env python3
"""Interoperability with the official Standard Webhooks Python library (`standardwebhooks`).

Driven by the Rust test `tests/listen/interop.rs`:

    interop.py verify SECRET ID TIMESTAMP SIGNATURE BODY_HEX   exit 0 if the library accepts
    interop.py sign   SECRET ID TIMESTAMP BODY_HEX             print the library's signature

Exit code 77 means the library cannot be imported (the Rust test then skips, or fails in CI).
Bodies travel as hex so their bytes arrive exactly.
"""

import sys
from datetime import datetime, timezone

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError as error:  # pragma: no cover - environment dependent
    print(f"cannot import standardwebhooks: {error}", file=sys.stderr)
    sys.exit(77)


def verify(secret: str, msg_id: str, timestamp: str, signature: str, body_hex: str) -> int:
    body = bytes.fromhex(body_hex)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError as error:
        print(f"rejected: {error}", file=sys.stderr)
        return 1
    return 0


def sign(secret: str, msg_id: str, timestamp: str, body_hex: str) -> int:
    body = bytes.fromhex(body_hex).decode("utf-8")
    when = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    print(Webhook(secret).sign(msg_id, when, body))
    return 0


def main(argv: list) -> int:
    if len(argv) == 7 and argv[1] == "verify":
        return verify(*argv[2:])
    if len(argv) == 6 and argv[1] == "sign":
        return sign(*argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
