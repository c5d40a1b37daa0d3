#!/usr/bin/python3
"""A real SMTP server for buildme's mail tests (aiosmtpd), on 127.0.0.1 only.

Every message it accepts is written to FOLDER/received/<n>.eml, whole
(through a temporary name and rename) before the server says 250:

    MAIL FROM: <sender>
    RCPT TO: <recipient>          (one line per recipient)
    <empty line>
    <the message as it arrived, after SMTP dot-unstuffing>

FOLDER/ready appears once the server listens. Modes: "plain" (no TLS),
"starttls" (STARTTLS offered, and required before MAIL), "smtps" (TLS from
the first byte). Recipients whose address starts with "refused" get a 550
(refused for good), those starting with "busy" a 451 (try later); a sender
starting with "refused" gets a 553.
With --user and --password, AUTH is required (and, as
aiosmtpd does by default, offered only after STARTTLS in that mode).
"""

import argparse
import itertools
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    def __init__(self, folder):
        self.folder = os.path.join(folder, "received")
        os.makedirs(self.folder, exist_ok=True)
        self.counter = itertools.count(1)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # A sender the server does not accept, as one that requires another
        # sender address.
        if address.startswith("refused"):
            return "553 5.7.1 sender not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A recipient the server refuses for good, as a real one refuses an
        # unknown user, or for now, as one whose mailbox is busy.
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        if address.startswith("busy"):
            return "451 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        lines = [b"MAIL FROM: " + envelope.mail_from.encode()]
        lines += [b"RCPT TO: " + rcpt.encode() for rcpt in envelope.rcpt_tos]
        data = b"\n".join(lines) + b"\n\n" + envelope.original_content
        name = "%04d.eml" % next(self.counter)
        temporary = os.path.join(self.folder, "." + name)
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, os.path.join(self.folder, name))
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--mode", choices=["plain", "starttls", "smtps"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    kwargs = {}
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.mode == "starttls":
            kwargs["tls_context"] = context
            kwargs["require_starttls"] = True
        else:
            kwargs["ssl_context"] = context
    if args.user is not None:
        expected = LoginPassword(args.user.encode(), args.password.encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            # handled=False: aiosmtpd then answers 535 itself.
            return AuthResult(success=auth_data == expected, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # aiosmtpd counts only STARTTLS as TLS; smtps is TLS from the start.
        kwargs["auth_require_tls"] = args.mode == "starttls"

    controller = Controller(Saver(args.folder), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    with open(os.path.join(args.folder, "ready"), "w") as ready:
        ready.write("%d\n" % args.port)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
