"""A real SMTP server for the mail tests (aiosmtpd, from the project venv): listens on
127.0.0.1:PORT and keeps every message it accepts as NNNN.eml in DIR, in arrival order.
Prints "ready" once it accepts connections; runs until killed.

Two kinds of address are refused, as a provider would: `refused-…@…` for good (550, no such
mailbox) and `busy-…@…` for now (451, try again later); every other recipient is accepted.

    .venv/bin/python tools/mail/smtp_sink.py PORT DIR
"""

import asyncio
import itertools
import pathlib
import signal
import sys

from aiosmtpd.controller import Controller


class KeepEach:
    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.numbers = itertools.count(len(list(folder.glob("*.eml"))) + 1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("refused-"):
            return "550 5.1.1 No such mailbox here"
        if local.startswith("busy-"):
            return "451 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        path = self.folder / f"{next(self.numbers):04}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(envelope.original_content or envelope.content)
        partial.rename(path)  # whole files only: a reader never sees half a mail
        return "250 Message accepted for delivery"


def main() -> None:
    port, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(KeepEach(folder), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
