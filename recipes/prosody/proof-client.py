#!/usr/bin/python3
"""What proves the prosody recipe from outside, with a real XMPP client library (slixmpp,
Debian's python3-slixmpp): two accounts of the domain log in on the client port with
STARTTLS, the server's certificate checked against CA_FILE and the domain's name; one sends
the other a message, which must arrive. Prints `received: TEXT` and exits 0, or says what
failed and exits 1.

Usage: proof-client.py ADDRESS DOMAIN CA_FILE PASSWORD (both accounts, alice and bob,
have this password)."""

import asyncio
import secrets
import ssl
import sys

import slixmpp

TIMEOUT = 30


class Account(slixmpp.ClientXMPP):
    def __init__(self, login, domain, password, ca_file):
        # PLAIN, inside the TLS checked below: slixmpp 1.8 binds SCRAM to the TLS channel
        # with `tls-unique`, which TLS 1.3 does not have, and then falls back in a way
        # Prosody 13 rightly refuses as a downgrade (it offers `tls-exporter`).
        super().__init__(f"{login}@{domain}", password, sasl_mech="PLAIN")
        # Only the given CA, and the certificate must name the domain.
        self.ssl_context = ssl.create_default_context(cafile=ca_file)
        loop = asyncio.get_event_loop()
        self.online = loop.create_future()
        self.received = loop.create_future()
        self.add_event_handler("session_start", self.started)
        self.add_event_handler("failed_auth", lambda _: self.fail("the server refused the password"))
        self.add_event_handler("connection_failed", lambda e: self.fail(f"cannot connect: {e}"))
        self.add_event_handler("ssl_invalid_chain", lambda _: self.fail("the server's certificate is not trusted"))
        self.add_event_handler("disconnected", lambda _: self.fail("the server closed the connection"))
        self.add_event_handler("message", self.message)

    def fail(self, why):
        if not self.online.done():
            self.online.set_exception(RuntimeError(f"{self.boundjid.bare}: {why}"))

    async def started(self, _event):
        self.send_presence()
        if not self.online.done():
            self.online.set_result(True)

    def message(self, msg):
        if msg["type"] in ("chat", "normal") and not self.received.done():
            self.received.set_result(msg["body"])


async def main(address, domain, ca_file, password):
    text = f"chaton proof {secrets.token_hex(4)}"
    bob = Account("bob", domain, password, ca_file)
    alice = Account("alice", domain, password, ca_file)
    bob.connect((address, 5222))
    await asyncio.wait_for(bob.online, TIMEOUT)
    alice.connect((address, 5222))
    await asyncio.wait_for(alice.online, TIMEOUT)
    alice.send_message(mto=f"bob@{domain}", mbody=text, mtype="chat")
    got = await asyncio.wait_for(bob.received, TIMEOUT)
    for account in (alice, bob):
        account.disconnect()
    if got != text:
        raise RuntimeError(f"bob received {got!r}, not {text!r}")
    print(f"received: {got}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    try:
        asyncio.get_event_loop().run_until_complete(main(*sys.argv[1:]))
    except (RuntimeError, asyncio.TimeoutError, OSError) as e:
        print(f"failed: {str(e) or 'no answer within the time allowed'}", file=sys.stderr)
        sys.exit(1)
