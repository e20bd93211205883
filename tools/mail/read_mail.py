"""Reads one received mail with Python's `email` package, as a mail client would, and prints
what the tests check as JSON: headers, the decoded text and HTML bodies, every part that is a
file (attachments and inline images) saved under OUT_DIR, and each calendar file as Python's
`icalendar` parses it.

    .venv/bin/python tools/mail/read_mail.py MAIL.eml OUT_DIR
"""

import email
import email.policy
import json
import pathlib
import sys

import icalendar


def main() -> None:
    source, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    mail = email.message_from_bytes(source.read_bytes(), policy=email.policy.default)
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    files, calendars = [], []
    for index, part in enumerate(mail.walk()):
        if part.is_multipart() or part in (text, html):
            continue
        data = part.get_payload(decode=True)
        name = part.get_filename() or f"part{index}"
        path = out / f"{index:02}-{name}"
        path.write_bytes(data)
        content_id = part.get("Content-ID")
        files.append({
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "disposition": part.get_content_disposition(),
            "content_id": content_id.strip("<>") if content_id else None,
            "path": str(path),
        })
        if part.get_content_type() == "text/calendar":
            calendar = icalendar.Calendar.from_ical(data)
            for event in calendar.walk("VEVENT"):
                calendars.append({
                    "summary": str(event.get("SUMMARY")),
                    "start": event.decoded("DTSTART").isoformat(),
                    "location": str(event.get("LOCATION")),
                })
    print(json.dumps({
        "subject": mail["Subject"],
        "from": mail["From"],
        "to": mail["To"],
        "message_id": mail["Message-ID"],
        "content_type": mail.get_content_type(),
        "text": text.get_content() if text else None,
        "html": html.get_content() if html else None,
        "files": files,
        "calendars": calendars,
    }))


if __name__ == "__main__":
    main()
