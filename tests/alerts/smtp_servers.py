"""Real SMTP servers on 127.0.0.1 for tests: aiosmtpd in a thread, each one failing one way.

`serve(handler, ...)` starts one on a free port and yields a `RunningServer`; the handlers
below accept and keep messages, refuse at one stage (for every message, one recipient's, or
the nth), reject one recipient or answer slowly; `DroppingSMTP` cuts the connection in the
middle of DATA (`DroppingForOneSMTP` for one recipient only); `authenticator` checks one
user and password. `refused_port()` and `silent_server()` cover a server that is not there
and one that never says hello. `tls_files()` makes a throwaway certificate for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from config.settings import SmtpSettings

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message as the server got it: the envelope, the parsed message, how it came."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    peer: tuple[str, int]  # the client's address: one per connection
    tls: bool
    login: str | None  # the user that logged in, if any


class RecordingHandler:
    """Accepts every message and keeps it in `received`."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    def refusal(self, stage: str, address: str | None) -> str | None:
        """The reply refusing this stage (MAIL, RCPT, DATA), or None to accept."""
        return None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        """Accept the sender unless refused."""
        if refusal := self.refusal("MAIL", address):
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept the recipient unless refused."""
        if refusal := self.refusal("RCPT", address):
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message unless refused, and say under which number it was queued."""
        if refusal := self.refusal("DATA", None):
            return refusal
        return self.keep(server, session, envelope)

    def keep(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Record the message and answer 250 with a queue id."""
        content = cast(bytes, envelope.original_content)
        message = cast(EmailMessage, email.message_from_bytes(content, policy=email.policy.default))
        transport = server.transport
        auth = session.auth_data
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                peer=cast(tuple[str, int], session.peer),
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                login=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            )
        )
        return f"250 2.0.0 OK: queued as Q{len(self.received)}"

    def messages_to(self, address: str) -> list[EmailMessage]:
        """The messages received for one recipient."""
        return [r.message for r in self.received if address in r.rcpt_tos]


class FailingHandler(RecordingHandler):
    """Answers `reply` (e.g. "451 4.3.0 mailbox busy: try again later") at one stage."""

    def __init__(self, stage: str, reply: str) -> None:
        super().__init__()
        self.stage = stage.upper()
        self.reply = reply

    def refusal(self, stage: str, address: str | None) -> str | None:
        """Refuse at the chosen stage only."""
        return self.reply if stage == self.stage else None


class RejectingHandler(RecordingHandler):
    """Rejects one recipient (550 by default) and accepts every other."""

    def __init__(self, rejected: str, reply: str = "550 5.1.1 no such mailbox here") -> None:
        super().__init__()
        self.rejected = rejected.lower()
        self.reply = reply

    def refusal(self, stage: str, address: str | None) -> str | None:
        """Refuse RCPT for the rejected address."""
        if stage == "RCPT" and address is not None and address.lower() == self.rejected:
            return self.reply
        return None


class RefusingOneHandler(RecordingHandler):
    """Answers `reply` at one stage (RCPT or DATA) of the message to `recipient` only."""

    def __init__(self, stage: str, reply: str, recipient: str) -> None:
        super().__init__()
        self.stage = stage.upper()
        self.reply = reply
        self.recipient = recipient.lower()

    def refusal(self, stage: str, address: str | None) -> str | None:
        """Refuse RCPT for the one recipient, when that is the stage."""
        if stage == self.stage == "RCPT" and (address or "").lower() == self.recipient:
            return self.reply
        return None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Refuse the one recipient's message at the end of DATA, when that is the stage."""
        if self.stage == "DATA" and self.recipient in (a.lower() for a in envelope.rcpt_tos):
            return self.reply
        return self.keep(server, session, envelope)


class FailingNthHandler(RecordingHandler):
    """Answers `reply` the `nth` time (from 1) a session reaches `stage`; accepts otherwise."""

    def __init__(self, stage: str, reply: str, nth: int) -> None:
        super().__init__()
        self.stage = stage.upper()
        self.reply = reply
        self.nth = nth
        self.reached = 0

    def refusal(self, stage: str, address: str | None) -> str | None:
        """Refuse the chosen stage the nth time only."""
        if stage != self.stage:
            return None
        self.reached += 1
        return self.reply if self.reached == self.nth else None


class SlowHandler(RecordingHandler):
    """Takes `delay` seconds to answer the end of DATA (longer than the client waits)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Sleep, then keep the message (nobody is listening by then)."""
        await asyncio.sleep(self.delay)
        return self.keep(server, session, envelope)


class DroppingSMTP(SMTP):
    """An SMTP server that says 354, reads one line of the message and cuts the connection."""

    async def smtp_DATA(self, arg: str) -> None:
        """Start DATA as usual, then drop the connection mid-message."""
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")
        if isinstance(self.transport, asyncio.Transport):
            self.transport.abort()
        # Wait to be cancelled by connection_lost rather than read buffered lines as commands.
        await asyncio.Event().wait()


class DropsOneRecipient(RecordingHandler):
    """With DroppingForOneSMTP: the message to `recipient` is cut mid-DATA, every time."""

    def __init__(self, recipient: str) -> None:
        super().__init__()
        self.recipient = recipient.lower()


class DroppingForOneSMTP(DroppingSMTP):
    """Cuts the connection in the middle of DATA for its handler's one recipient only."""

    async def smtp_DATA(self, arg: str) -> None:
        """Drop the one recipient's message; take every other as usual."""
        handler = self.event_handler
        assert isinstance(handler, DropsOneRecipient)
        if self.envelope is not None and handler.recipient in (
            a.lower() for a in self.envelope.rcpt_tos
        ):
            await super().smtp_DATA(arg)
        else:
            await SMTP.smtp_DATA(self, arg)


Authenticator = Callable[[SMTP, Session, Envelope, str, Any], AuthResult]


def authenticator(user: str, password: str) -> Authenticator:
    """An aiosmtpd authenticator that accepts exactly this user and password."""

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and data.password.decode() == password
        )
        # handled=False: aiosmtpd then answers 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    return check


def echoing_authenticator() -> Authenticator:
    """A careless server that refuses every login and quotes the credentials it got."""

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        said = f"{data.login.decode()} / {data.password.decode()}" if data else "nothing"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad login: {said}")

    return check


class LoopbackController(Controller):
    """aiosmtpd's threaded Controller on 127.0.0.1, port 0, with a choice of SMTP class."""

    def __init__(self, handler: Any, smtp_class: type[SMTP] = SMTP, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=0, **kwargs)
        self.smtp_class = smtp_class

    def factory(self) -> SMTP:
        """One server object per connection, of the chosen class."""
        with warnings.catch_warnings():
            # AUTH without TLS is what a loopback test wants; aiosmtpd warns about it.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return self.smtp_class(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        """Learn the port the system chose before aiosmtpd connects to check it is up."""
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class RunningServer:
    """A server that is up: where it listens and the handler that keeps what it got."""

    host: str
    port: int
    handler: RecordingHandler
    controller: LoopbackController = field(repr=False)

    @property
    def received(self) -> list[Received]:
        """Every message accepted so far."""
        return self.handler.received


@contextmanager
def serve(
    handler: RecordingHandler | None = None,
    *,
    smtp_class: type[SMTP] = SMTP,
    ssl_context: ssl.SSLContext | None = None,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    authenticator: Authenticator | None = None,
    auth_required: bool = False,
    **smtp_options: Any,
) -> Iterator[RunningServer]:
    """Run an aiosmtpd server on 127.0.0.1 for the block (implicit TLS with ssl_context).

    Further keywords go to aiosmtpd's SMTP, e.g. `timeout` (seconds before an idle client
    is disconnected).
    """
    handler = handler or RecordingHandler()
    options: dict[str, Any] = {"ssl_context": ssl_context, **smtp_options}
    if tls_context is not None:
        options.update(tls_context=tls_context, require_starttls=require_starttls)
    if authenticator is not None:
        # Loopback only: a test may log in without TLS.
        options.update(
            authenticator=authenticator, auth_require_tls=False, auth_required=auth_required
        )
    controller = LoopbackController(handler, smtp_class=smtp_class, **options)
    controller.start()
    try:
        yield RunningServer(HOST, controller.port, handler, controller)
    finally:
        controller.stop()


def smtp_settings(port: int, **overrides: Any) -> SmtpSettings:
    """Settings for a test server on 127.0.0.1: no TLS and a short timeout unless overridden."""
    values: dict[str, Any] = {"host": HOST, "port": port, "security": "none", "timeout": 5.0}
    return SmtpSettings(**(values | overrides))


def refused_port() -> int:
    """A port on 127.0.0.1 with nothing listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return cast(int, probe.getsockname()[1])


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never sends the SMTP greeting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen(8)  # the kernel completes the handshake; nobody ever answers
        yield cast(int, listener.getsockname()[1])


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sequelwatch test server")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server side of TLS with the throwaway certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_tls_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts the throwaway certificate (and verifies it)."""
    return ssl.create_default_context(cafile=str(cert))
