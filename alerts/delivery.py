"""Transport: one message to the outbox folder or to an SMTP server, every failure classified."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from queue import SimpleQueue
from types import TracebackType
from typing import ClassVar, Protocol, Self

from alerts.message import wire_bytes
from config.settings import DeliverySettings, SmtpSettings

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+=-]{0,150}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._@+=-]+")
_MAX_REPLY = 300


class DeliveryError(Exception):
    """A message was not delivered; `temporary` says whether a later try may succeed."""

    temporary: ClassVar[bool] = True

    def __init__(self, text: str, code: int | None = None) -> None:
        super().__init__(text)
        self.code = code


class TemporaryFailure(DeliveryError):
    """Try again later: no connection, a timeout, a 4xx answer, a connection cut mid-message."""

    temporary: ClassVar[bool] = True


class PermanentFailure(DeliveryError):
    """Trying again will not help: a 5xx answer to the message itself (see the subclasses)."""

    temporary: ClassVar[bool] = False


class SetupFailure(PermanentFailure):
    """The server refuses us, not the message: a refused login, TLS, the sender, no AUTH.

    Trying again unchanged will not help, but the message itself is fine: it is kept and
    goes out once the operator fixes the configuration (or the server its own).
    """


class RecipientRejected(PermanentFailure):
    """The server refused the recipient's address (a 5xx answer to RCPT)."""

    def __init__(self, text: str, code: int | None, recipient: str) -> None:
        super().__init__(text, code)
        self.recipient = recipient


class Transport(Protocol):
    """Something that delivers one message and says how it went."""

    def send(self, message: EmailMessage) -> str:
        """Deliver the message and return a short receipt, or raise DeliveryError."""
        ...


def message_id(message: EmailMessage) -> str:
    """The message's Message-ID; ValueError when it has none (a stable one is required)."""
    value = str(message.get("Message-ID", "")).strip()
    if not value:
        raise ValueError("the message has no Message-ID")
    return value


def outbox_name(mid: str) -> str:
    """A file name for a Message-ID: the ID itself when safe, else a cleaned form plus a hash."""
    core = mid.strip().removeprefix("<").removesuffix(">").strip()
    if _SAFE_NAME.fullmatch(core):
        return f"{core}.eml"
    # A hash of the raw ID keeps two IDs that clean up alike from sharing one file.
    digest = hashlib.sha256(mid.strip().encode("utf-8", "surrogateescape")).hexdigest()[:16]
    cleaned = _UNSAFE_RUN.sub("_", core).strip("._-")[:100]
    return f"{cleaned}-{digest}.eml" if cleaned else f"{digest}.eml"


class OutboxTransport:
    """Writes each message to `folder/<Message-ID>.eml`, owner-readable only, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message: EmailMessage) -> Path:
        """Where the message is (or would be) written; the same Message-ID, the same path."""
        return self.folder / outbox_name(message_id(message))

    def send(self, message: EmailMessage) -> str:
        """Write the message, replacing an earlier copy with the same Message-ID."""
        path = self.path_for(message)
        data = wire_bytes(message)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write {path}: {exc.strerror or exc}") from None
        log.info("wrote %s", path)
        return f"wrote {path}"

    def close(self) -> None:
        """Nothing to release; here so both transports can be used the same way."""

    def __enter__(self) -> Self:
        """Use as a context manager, like SmtpTransport."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Nothing to release."""


def _write_atomically(path: Path, data: bytes) -> None:
    """Write through a hidden temp file in the same folder, then rename it into place."""
    # mkstemp creates the file 0o600; the dot and suffix keep readers of *.eml off it.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable, so that a crash cannot undo a write already reported."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _KeepsDataReply(smtplib.SMTP):
    """smtplib.SMTP that keeps the server's answer to DATA (send_message drops it)."""

    data_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        """Send the message body and remember the final answer."""
        self.data_reply = super().data(msg)
        return self.data_reply


class _KeepsDataReplySSL(_KeepsDataReply, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


class SmtpTransport:
    """Sends each message to its To address through an SMTP server.

    One connection per send; inside `with transport:` one connection serves a batch.
    The password is read from the environment at send time and never logged.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        env: Mapping[str, str],
        *,
        ssl_context: ssl.SSLContext | None = None,
        warn: bool = True,
    ) -> None:
        self.settings = settings
        self._env = env
        self._ssl_context = ssl_context
        self._smtp: _KeepsDataReply | None = None
        self._batch = False
        self._secrets: tuple[str, ...] = ()
        unencrypted = settings.user and settings.security == "none"
        if warn and unencrypted and not _is_loopback(settings.host):
            log.warning("the SMTP password for %s goes unencrypted (security = none)", self.address)

    @property
    def address(self) -> str:
        """host:port of the server, for messages."""
        return f"{self.settings.host}:{self.settings.port}"

    def __enter__(self) -> Self:
        """Keep one connection open for the sends inside the block."""
        self._batch = True
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Say goodbye to the server."""
        self._batch = False
        self.close()

    def close(self) -> None:
        """Close the kept connection, if any, politely when it still works."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, message: EmailMessage) -> str:
        """Deliver to the message's To address; return the server's answer or raise."""
        recipient = _recipient(message)
        mid = message_id(message)
        password = self._password()
        self._secrets = _secret_forms(self.settings.user, password)
        log.debug("sending %s to %s through %s", mid, recipient, self.address)
        try:
            smtp, reused = self._connection(password)
            try:
                _hand_over(smtp, message, recipient)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                self._abandon()  # the kept connection went stale: one fresh try
                smtp, _ = self._connection(password)
                _hand_over(smtp, message, recipient)
            code, reply = smtp.data_reply
        except (smtplib.SMTPException, OSError, UnicodeEncodeError) as exc:
            self._abandon()
            failure = self._classify(exc)
            log.debug("%s to %s not delivered: %s", mid, recipient, failure)
            # `from None`: the smtplib exception may quote a server that echoed the password.
            raise failure from None
        if not self._batch:
            self.close()
        receipt = self._redact(f"{code} {_one_line(reply, self._secrets)}")
        log.info("%s delivered to %s: %s", mid, recipient, receipt)
        return receipt

    def _password(self) -> str:
        """The password from the environment, or "" when no login is configured."""
        if not self.settings.user:
            return ""
        password = self._env.get(self.settings.password_env, "")
        if not password:
            raise SetupFailure(
                f"the SMTP password is not set: put it in ${self.settings.password_env}"
            )
        return password

    def _connection(self, password: str) -> tuple[_KeepsDataReply, bool]:
        """The kept connection (and True), else a new, logged-in one (and False).

        A kept connection is not probed with NOOP before each message (a round trip per
        message); a send that finds it gone reconnects once instead.
        """
        if self._smtp is not None:
            return self._smtp, True
        settings = self.settings
        context = self._tls_context() if settings.security != "none" else None
        if settings.security == "ssl":
            self._smtp = _KeepsDataReplySSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            self._smtp = _KeepsDataReply(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            self._smtp.ehlo()
            self._smtp.starttls(context=context)
            self._smtp.ehlo()
        if settings.user:
            self._smtp.login(settings.user, password)
        return self._smtp, False

    def _tls_context(self) -> ssl.SSLContext:
        """The TLS context, made once per transport (loading the CA store is not cheap)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _abandon(self) -> None:
        """Drop the connection without QUIT: after a failure it may hang or be gone."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _classify(self, exc: BaseException) -> DeliveryError:
        """The DeliveryError that says what went wrong, with secrets removed."""
        failure = _classify(exc, self.address, self.settings.timeout, self._secrets)
        text = self._redact(str(failure))
        if isinstance(failure, RecipientRejected):
            return RecipientRejected(text, failure.code, failure.recipient)
        return type(failure)(text, failure.code)

    def _redact(self, text: str) -> str:
        """The text with every form of the password replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[password]")
        return text


class SmtpPool:
    """Several connections to one SMTP server, sending side by side (`connections`).

    A message costs the sender four round trips (MAIL, RCPT, DATA, the message) spent
    waiting for the server; with several connections those waits overlap each other and
    the composing of the next digests. `submit` hands a message to the next free
    connection and returns a Future of its receipt (or of its DeliveryError); `send`
    delivers one at once. Inside `with pool:` the connections are kept for the batch and
    closed, politely, at its end. Each connection is used by one thread at a time.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        env: Mapping[str, str],
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.connections = settings.connections
        self._env = env
        if ssl_context is None and settings.security != "none":
            ssl_context = ssl.create_default_context()  # one CA store for every connection
        self._ssl_context = ssl_context
        self._made: list[SmtpTransport] = []
        self._free: SimpleQueue[SmtpTransport] = SimpleQueue()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def address(self) -> str:
        """host:port of the server, for messages."""
        return f"{self.settings.host}:{self.settings.port}"

    def _take(self) -> SmtpTransport:
        """A connection nobody is using: a free one, else a new one up to `connections`."""
        with self._lock:
            if self._free.empty() and len(self._made) < self.connections:
                transport = SmtpTransport(
                    self.settings, self._env, ssl_context=self._ssl_context, warn=not self._made
                )
                if self._executor is not None:
                    transport.__enter__()  # kept for the batch
                self._made.append(transport)
                return transport
        return self._free.get()

    def send(self, message: EmailMessage) -> str:
        """Deliver one message now, on a free connection; the receipt, or DeliveryError."""
        transport = self._take()
        try:
            return transport.send(message)
        finally:
            self._free.put(transport)

    def submit(self, message: EmailMessage) -> Future[str]:
        """Hand the message to the next free connection; inside `with`, without waiting."""
        if self._executor is None:
            done: Future[str] = Future()
            try:
                done.set_result(self.send(message))
            except Exception as exc:  # noqa: BLE001 - the Future carries it to the caller
                done.set_exception(exc)
            return done
        return self._executor.submit(self.send, message)

    def __enter__(self) -> Self:
        """Send side by side and keep the connections until the end of the block."""
        self._executor = ThreadPoolExecutor(self.connections, thread_name_prefix="smtp")
        for transport in self._made:
            transport.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Wait for the messages handed over, then say goodbye on every connection."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.close()

    def close(self) -> None:
        """Close every kept connection."""
        for transport in self._made:
            transport.__exit__(None, None, None)


def _classify(
    exc: BaseException, where: str, timeout: float, secrets: tuple[str, ...] = ()
) -> DeliveryError:
    """Map an smtplib, socket or ssl exception to the failure it means (replies redacted)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        recipient, (code, reply) = next(iter(exc.recipients.items()))
        text = f"{code} {_one_line(reply, secrets)} (recipient {recipient})"
        if 500 <= code < 600:
            return RecipientRejected(text, code, recipient)
        return TemporaryFailure(text, code)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        text = f"{exc.smtp_code} {_one_line(exc.smtp_error, secrets)} (login refused by {where})"
        return _by_code(text, exc.smtp_code, SetupFailure)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_one_line(exc.smtp_error, secrets)}"
        if isinstance(exc, smtplib.SMTPDataError):
            return _by_code(text, exc.smtp_code)  # the server read this message and refused it
        if isinstance(exc, smtplib.SMTPSenderRefused):
            text += f" (sender {exc.sender})"
        elif isinstance(exc, smtplib.SMTPConnectError):
            text += f" (greeting from {where})"
        # a refusal before the message (greeting, HELO, MAIL FROM) is about us, not it
        return _by_code(text, exc.smtp_code, SetupFailure)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if _caused_by(exc, TimeoutError):
            return TemporaryFailure(f"{where} did not answer within {timeout:g}s")
        return TemporaryFailure(f"{where} closed the connection before accepting the message")
    if isinstance(exc, smtplib.SMTPException):
        # What remains (no STARTTLS, no AUTH, no usable AUTH method) is a setup mismatch.
        return SetupFailure(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SetupFailure(f"the certificate of {where} is not trusted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return TemporaryFailure(f"{where} closed the connection during the TLS handshake")
    if isinstance(exc, ssl.SSLError):
        return SetupFailure(f"TLS with {where} failed: {exc.reason or exc}")
    if isinstance(exc, UnicodeEncodeError):
        # smtplib writes commands, the login among them, in ASCII only
        return SetupFailure(f"cannot log in to {where}: the SMTP user or password is not ASCII")
    if isinstance(exc, ConnectionRefusedError):
        return TemporaryFailure(f"the server refused the connection ({where})")
    if isinstance(exc, TimeoutError):
        return TemporaryFailure(f"{where} did not answer within {timeout:g}s")
    if isinstance(exc, socket.gaierror):
        return TemporaryFailure(f"cannot find the server {where}: {exc.strerror}")
    if isinstance(exc, OSError):
        return TemporaryFailure(f"cannot talk to {where}: {exc.strerror or exc}")
    return TemporaryFailure(f"{where}: {type(exc).__name__}")


def _by_code(
    text: str, code: int, permanent: type[PermanentFailure] = PermanentFailure
) -> DeliveryError:
    """5xx is permanent (of the kind given); 4xx, and anything unexpected, may pass."""
    if 500 <= code < 600:
        return permanent(text, code)
    return TemporaryFailure(text, code)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in the exception's chain (smtplib wraps socket errors)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _one_line(reply: bytes | str, secrets: tuple[str, ...] = ()) -> str:
    """A server's (possibly multi-line) reply as one short readable line, secrets replaced."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    # Before shortening: a cut through an echoed password would leave a piece nobody matches.
    for secret in secrets:
        text = text.replace(secret, "[password]")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REPLY else text[: _MAX_REPLY - 1] + "…"


def _hand_over(smtp: smtplib.SMTP, message: EmailMessage, recipient: str) -> None:
    """Send the message's stored bytes as they are (send_message would serialize it once
    more); addresses beyond ASCII need send_message's SMTPUTF8 handling, and a Bcc header
    its removal."""
    sender = parseaddr(str(message.get("From", "")))[1]
    if not (sender.isascii() and recipient.isascii()) or "Bcc" in message:
        smtp.send_message(message, to_addrs=[recipient])
        return
    smtp.sendmail(sender, [recipient], wire_bytes(message))


def _recipient(message: EmailMessage) -> str:
    """The single To address; ValueError otherwise (one message goes to one subscriber)."""
    addresses = [a for _, a in getaddresses([str(v) for v in message.get_all("To", [])]) if a]
    if len(addresses) != 1:
        raise ValueError(f"a message goes to exactly one To address, not {len(addresses)}")
    return addresses[0]


def _secret_forms(user: str, password: str) -> tuple[str, ...]:
    """The password as written and as it travels in AUTH PLAIN and AUTH LOGIN."""
    if not password:
        return ()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return (password, b64(password), b64(f"\0{user}\0{password}"))


def _is_loopback(host: str) -> bool:
    """Whether the host is this machine, where an unencrypted login is harmless."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def transport_for(settings: DeliverySettings, outbox: Path, env: Mapping[str, str]) -> Transport:
    """The transport the settings ask for: the outbox folder or the SMTP server."""
    if settings.method == "smtp":
        if settings.smtp.connections > 1:
            return SmtpPool(settings.smtp, env)
        return SmtpTransport(settings.smtp, env)
    return OutboxTransport(outbox)
