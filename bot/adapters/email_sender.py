"""Sending email: an SMTP server (SMTP_URL), or with none configured a local sandbox mailbox.

The sandbox writes each message as an .eml file under var/mail/ (open it with any mail program), so
`make run` works offline the way the payments sandbox does. smtplib blocks: every send runs in a
worker thread, never on the event loop. Like the Twilio sender, nothing is retried here: SMTP has no
idempotency key, and a blind retry could deliver a code twice.

SMTP_URL: `smtp://[user:password@]host[:port]` (STARTTLS whenever the server offers it, port 25 by
default; 587 is the usual submission port) or `smtps://...` (TLS from the first byte, port 465).
"""
from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlsplit

SMTP_TIMEOUT_SECONDS = 15.0
DEFAULT_FROM = "Resolve <no-reply@localhost>"


def compose(from_address: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message with its own Message-ID (what the outbound record keeps as the provider id)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2].strip("> ") or "localhost")
    message.set_content(body)
    return message


class SmtpSender:
    """An SMTP relay; returns the Message-ID of each message it hands over."""

    channel = "email"

    def __init__(self, url: str, from_address: str = DEFAULT_FROM, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465, got {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.from_address = from_address
        self.timeout = timeout

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({'smtps' if self.tls else 'smtp'}://{self.host}:{self.port})"

    def address(self, email: str) -> str:
        return email

    async def send_email(self, to: str, subject: str, body: str) -> str:
        message = compose(self.from_address, to, subject, body)
        await asyncio.to_thread(self._send, message)
        return str(message["Message-ID"])

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.tls:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with connection as smtp:
            smtp.ehlo()
            if not self.tls and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self._password or "")
            smtp.send_message(message)


class SandboxMailbox:
    """No SMTP configured: each message becomes an .eml file in `directory` (var/mail by default)."""

    channel = "email"

    def __init__(self, directory: Path, from_address: str = DEFAULT_FROM) -> None:
        self.directory = Path(directory)
        self.from_address = from_address

    def address(self, email: str) -> str:
        return email

    async def send_email(self, to: str, subject: str, body: str) -> str:
        message = compose(self.from_address, to, subject, body)
        await asyncio.to_thread(self._write, message)
        return str(message["Message-ID"])

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{str(message['Message-ID']).strip('<>').split('@')[0]}.eml"
        (self.directory / name).write_bytes(bytes(message))

    def messages(self) -> list:
        """The messages written so far, oldest first (for operators and tests)."""
        from email import policy
        from email.parser import BytesParser

        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(self.directory.glob("*.eml"))]


def build_email_sender(settings, sandbox_directory: Optional[Path] = None):
    """SMTP when SMTP_URL is set, else the sandbox mailbox under var/mail."""
    from_address = settings.email_from or DEFAULT_FROM
    if settings.smtp_url:
        return SmtpSender(settings.smtp_url, from_address)
    return SandboxMailbox(sandbox_directory or settings.project_root / "var" / "mail", from_address)
