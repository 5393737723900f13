"""A member's CalDAV and CardDAV client, run on a lab host against a Radicale served by
chaton: creates a calendar with an event and an address book with a contact, then reads
both back through a new connection. Uses python3-caldav (Debian); the address book goes
through the same client's WebDAV requests (extended MKCOL, PUT, REPORT: RFC 6352).

usage: client.py [--read] URL USER PASSWORD CA_FILE [ADDRESS_BOOK_URL]

With --read, nothing is created: the event and the contact an earlier run made are read
(after a move, say), through new connections.

ADDRESS_BOOK_URL is where the address book is made (Radicale's: URL/USER/contacts/, the
default; Nextcloud's: URL/addressbooks/users/USER/NAME/).
"""

import sys

import caldav

args = sys.argv[1:]
read_only = "--read" in args
args = [a for a in args if a != "--read"]
url, user, password, ca = args[0:4]
book = args[4] if len(args) > 4 else f"{url.rstrip('/')}/{user}/contacts/"


def client():
    return caldav.DAVClient(url=url, username=user, password=password, ssl_verify_cert=ca)


EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//chaton tests//EN
BEGIN:VEVENT
UID:assemblee-2026@amipo.example
DTSTAMP:20261126T000000Z
DTSTART:20261201T180000Z
DTEND:20261201T200000Z
SUMMARY:Assemblée générale
END:VEVENT
END:VCALENDAR
"""

if not read_only:
    calendar = client().principal().make_calendar(name="Association", cal_id="association")
    calendar.save_event(EVENT)
events = client().principal().calendar(cal_id="association").events()
assert any("Assemblée générale" in e.data for e in events), [e.data for e in events]
print("calendar: event read back" if read_only else "calendar: event created and read back")

MKCOL = """<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>Contacts</D:displayname>
  </D:prop></D:set>
</D:mkcol>"""
VCARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:camille@amipo.example\r\nFN:Camille Martin\r\nN:Martin;Camille;;;\r\nEMAIL:camille@amipo.example\r\nEND:VCARD\r\n"
if not read_only:
    answer = client().request(book, "MKCOL", MKCOL, {"Content-Type": "application/xml; charset=utf-8"})
    assert answer.status == 201, answer.status
    answer = client().put(book + "camille.vcf", VCARD, {"Content-Type": "text/vcard; charset=utf-8"})
    assert answer.status in (201, 204), answer.status
QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
</C:addressbook-query>"""
answer = client().request(book, "REPORT", QUERY, {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
text = answer.raw.decode() if isinstance(answer.raw, bytes) else answer.raw
assert answer.status == 207 and "Camille Martin" in text, (answer.status, text)
print("address book: contact read back" if read_only else "address book: contact created and read back")
