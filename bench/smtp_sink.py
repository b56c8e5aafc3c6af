"""A local SMTP server for the benchmarks (aiosmtpd, its own process): it accepts every
message, keeps none, and appends one line per message to a log file:

    <unix time received> <recipient> <confirmation token or ->

    .venv/bin/python bench/smtp_sink.py --port PORT --log FILE [--seconds N]

The token is the ``/v/<token>`` link of a confirmation mail (found only with --tokens, since
parsing costs time). Stops on SIGTERM or after --seconds (default 900)."""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import signal
import threading
import time

from aiosmtpd.controller import Controller

CONFIRM_LINK = re.compile(r"/v/([A-Za-z0-9_-]{20,})")
RAW_LINK = re.compile(rb"/v/([A-Za-z0-9_-]{20,})(?![A-Za-z0-9_=-])")


class Sink:
    def __init__(self, log, tokens: bool):
        self.log = log
        self.tokens = tokens

    async def handle_DATA(self, server, session, envelope):
        received = time.time()
        code = "-"  # the confirmation token, if asked for and found
        if self.tokens:
            # The link is in the raw text (8bit); parsing the message would cost far more.
            found = RAW_LINK.search(envelope.content)
            if found:
                code = found.group(1).decode()
            else:  # encoded after all (quoted-printable, base64): parse it
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                body = message.get_body(preferencelist=("plain",))
                found = CONFIRM_LINK.search(body.get_content() if body else "")
                code = found.group(1) if found else "-"
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else "-"
        self.log.write(f"{received:.6f} {recipient} {code}\n")
        self.log.flush()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--tokens", action="store_true", help="find confirmation tokens")
    parser.add_argument("--seconds", type=float, default=900)
    args = parser.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with open(args.log, "a", buffering=1 << 16) as log:
        controller = Controller(Sink(log, args.tokens), hostname="127.0.0.1", port=args.port)
        controller.start()
        print(f"listening on 127.0.0.1:{args.port}", flush=True)
        done.wait(args.seconds)
        controller.stop()


if __name__ == "__main__":
    main()
