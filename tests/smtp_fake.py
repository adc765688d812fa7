"""A small SMTP server on 127.0.0.1 that keeps every message it accepts (tests and the e2e stack).

It speaks enough of RFC 5321 for smtplib: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
No STARTTLS: it is offered nothing, so the client stays in plain text on loopback.
"""
from __future__ import annotations

import base64
import socketserver
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import List, Optional, Tuple


class SmtpServer:
    def __init__(self, credentials: Optional[Tuple[str, str]] = None) -> None:
        self.messages: List[EmailMessage] = []
        self.envelopes: List[Tuple[str, List[str]]] = []
        self.logins: List[str] = []
        self._lock = threading.Lock()
        fake = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                sender, recipients = "", []
                self.reply("220 localhost test SMTP")
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-localhost" if verb == "EHLO" else "250 localhost")
                        if verb == "EHLO":
                            self.reply("250-AUTH PLAIN")
                            self.reply("250 8BITMIME")
                    elif verb == "AUTH":
                        _authzid, user, password = base64.b64decode(line.split()[-1]).decode().split("\0")
                        if credentials is not None and (user, password) != credentials:
                            self.reply("535 authentication failed")
                            continue
                        with fake._lock:
                            fake.logins.append(user)
                        self.reply("235 ok")
                    elif verb == "MAIL":
                        sender, recipients = line.split(":", 1)[1].split()[0].strip("<>"), []
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n"):
                            chunk = self.rfile.readline()
                            if not chunk:
                                return
                            data += chunk
                        body = data[:-5].replace(b"\r\n..", b"\r\n.")
                        with fake._lock:
                            fake.messages.append(BytesParser(policy=policy.default).parsebytes(body))
                            fake.envelopes.append((sender, recipients))
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # RSET, NOOP and anything else
                        self.reply("250 ok")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "SmtpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
