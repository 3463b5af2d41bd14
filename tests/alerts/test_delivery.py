"""Delivery transport: the outbox folder and real SMTP servers on 127.0.0.1, failing every way."""

from __future__ import annotations

import email
import email.policy
import logging
import stat
import time
import traceback
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from alerts.delivery import (
    DeliveryError,
    OutboxTransport,
    PermanentFailure,
    RecipientRejected,
    SetupFailure,
    SmtpPool,
    SmtpTransport,
    TemporaryFailure,
    transport_for,
)
from config.settings import DeliverySettings, SmtpSettings
from tests.alerts.conftest import StartServer
from tests.alerts.smtp_servers import (
    DroppingSMTP,
    FailingHandler,
    RejectingHandler,
    SlowHandler,
    authenticator,
    client_tls_context,
    echoing_authenticator,
    refused_port,
    server_tls_context,
    silent_server,
    smtp_settings,
)

READER = "reader@example.net"
USER = "alerts"
PASSWORD = "Wh1te-Rabbit/Zalem+9"  # distinctive, so a leak cannot hide
PASSWORD_ENV = "TEST_SMTP_PASSWORD"


def digest_message(to: str = READER, mid: str = "<digest-7.ab12@sequelwatch.test>") -> EmailMessage:
    """A digest-shaped message: plain text and HTML alternatives, a stable Message-ID."""
    message = EmailMessage()
    message["From"] = "sequelwatch <alerts@example.org>"
    message["To"] = to
    message["Subject"] = "Alita 2: Rosa Salazar confirmed"
    message["Message-ID"] = mid
    message.set_content("Rosa Salazar returns as Alita.\n")
    message.add_alternative("<p>Rosa Salazar returns as <b>Alita</b>.</p>", subtype="html")
    return message


def parts(message: EmailMessage) -> dict[str, str]:
    """The text of each part by content type."""
    return {part.get_content_type(): part.get_content() for part in message.iter_parts()}


def login_settings(port: int, **overrides: object) -> SmtpSettings:
    """Settings that log in as USER with the password in PASSWORD_ENV."""
    return smtp_settings(port, user=USER, password_env=PASSWORD_ENV, **overrides)


# The outbox


def test_outbox_writes_one_private_file_named_after_the_message_id(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "outbox"
    receipt = OutboxTransport(folder).send(digest_message())

    path = folder / "digest-7.ab12@sequelwatch.test.eml"
    assert receipt == f"wrote {path}"
    assert [p.name for p in folder.iterdir()] == [path.name]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    written = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(written, EmailMessage)
    assert written["Message-ID"] == "<digest-7.ab12@sequelwatch.test>"
    assert parts(written) == {
        "text/plain": "Rosa Salazar returns as Alita.\n",
        "text/html": "<p>Rosa Salazar returns as <b>Alita</b>.</p>\n",
    }


def test_outbox_resend_of_the_same_message_id_replaces_the_file(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    first = outbox.send(digest_message())
    again = digest_message()
    again.replace_header("Subject", "resent after a crash")
    second = outbox.send(again)

    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == ["digest-7.ab12@sequelwatch.test.eml"]
    assert "resent after a crash" in outbox.path_for(again).read_text()


def test_outbox_keeps_different_message_ids_apart(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    for mid in ("<a/b@x>", "<a_b@x>", "<../../etc/passwd>", "<digest-1@x>", "<digest-2@x>"):
        outbox.send(digest_message(mid=mid))

    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 5
    assert all(name.endswith(".eml") and "/" not in name for name in names)
    assert "digest-1@x.eml" in names
    assert not (tmp_path.parent / "etc").exists()


def test_outbox_needs_a_message_id(tmp_path: Path) -> None:
    message = digest_message()
    del message["Message-ID"]
    with pytest.raises(ValueError, match="Message-ID"):
        OutboxTransport(tmp_path).send(message)


def test_outbox_that_cannot_be_written_is_a_temporary_failure(tmp_path: Path) -> None:
    in_the_way = tmp_path / "outbox"
    in_the_way.write_text("a file where the folder should be")
    with pytest.raises(TemporaryFailure, match=r"^cannot write .*outbox.*\.eml"):
        OutboxTransport(in_the_way).send(digest_message())


# SMTP: delivered


def test_smtp_delivers_the_message_to_its_to_address_only(smtp_server: StartServer) -> None:
    server = smtp_server()
    message = digest_message()
    message["Cc"] = "someone-else@example.net"
    message["Bcc"] = "hidden@example.net"

    receipt = SmtpTransport(smtp_settings(server.port), {}).send(message)

    assert receipt == "250 2.0.0 OK: queued as Q1"
    [got] = server.received
    assert got.mail_from == "alerts@example.org"
    assert got.rcpt_tos == (READER,)
    assert got.message["Message-ID"] == "<digest-7.ab12@sequelwatch.test>"
    assert got.message["Bcc"] is None
    assert set(parts(got.message)) == {"text/plain", "text/html"}
    assert "Rosa Salazar returns" in parts(got.message)["text/plain"]


def test_smtp_message_must_have_one_to_address(smtp_server: StartServer) -> None:
    server = smtp_server()
    message = digest_message(to="a@example.net, b@example.net")
    with pytest.raises(ValueError, match="exactly one To address"):
        SmtpTransport(smtp_settings(server.port), {}).send(message)
    assert server.received == []


def test_smtp_batch_keeps_one_connection(smtp_server: StartServer) -> None:
    server = smtp_server()
    with SmtpTransport(smtp_settings(server.port), {}) as transport:
        for n in range(3):
            transport.send(digest_message(to=f"r{n}@example.net", mid=f"<d{n}@x>"))

    assert [r.rcpt_tos for r in server.received] == [(f"r{n}@example.net",) for n in range(3)]
    assert len({r.peer for r in server.received}) == 1


def test_smtp_batch_reconnects_when_the_server_hung_up(smtp_server: StartServer) -> None:
    server = smtp_server(timeout=0.3)  # the server drops clients idle for 0.3s
    with SmtpTransport(smtp_settings(server.port), {}) as transport:
        transport.send(digest_message(mid="<d1@x>"))
        time.sleep(0.6)
        transport.send(digest_message(mid="<d2@x>"))

    assert [r.message["Message-ID"] for r in server.received] == ["<d1@x>", "<d2@x>"]
    assert len({r.peer for r in server.received}) == 2


def test_smtp_without_batch_uses_one_connection_per_message(smtp_server: StartServer) -> None:
    server = smtp_server()
    transport = SmtpTransport(smtp_settings(server.port), {})
    transport.send(digest_message(mid="<d1@x>"))
    transport.send(digest_message(mid="<d2@x>"))
    assert len({r.peer for r in server.received}) == 2


# SMTP: failures


def test_nothing_listening_is_a_temporary_failure() -> None:
    port = refused_port()
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(smtp_settings(port), {}).send(digest_message())
    assert str(caught.value) == f"the server refused the connection (127.0.0.1:{port})"
    assert caught.value.temporary and caught.value.code is None


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize(
    "reply", ["421 4.3.2 service shutting down", "451 4.3.0 mailbox busy: try again later"]
)
def test_4xx_at_any_stage_is_a_temporary_failure(
    smtp_server: StartServer, stage: str, reply: str
) -> None:
    server = smtp_server(FailingHandler(stage, reply))
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(smtp_settings(server.port), {}).send(digest_message())
    assert str(caught.value).startswith(reply)
    assert caught.value.code == int(reply[:3])
    assert caught.value.temporary
    assert server.received == []


@pytest.mark.parametrize(
    ("stage", "reply", "text", "setup"),
    [
        ("MAIL", "553 5.7.1 sender not allowed", "553 5.7.1 sender not allowed (sender ", True),
        ("DATA", "554 5.6.0 message refused as spam", "554 5.6.0 message refused as spam", False),
    ],
)
def test_5xx_for_the_whole_message_is_a_permanent_failure(
    smtp_server: StartServer, stage: str, reply: str, text: str, setup: bool
) -> None:
    server = smtp_server(FailingHandler(stage, reply))
    with pytest.raises(PermanentFailure) as caught:
        SmtpTransport(smtp_settings(server.port), {}).send(digest_message())
    assert not isinstance(caught.value, RecipientRejected)
    # a refused sender is our setup (the message is kept); a refused message is final
    assert isinstance(caught.value, SetupFailure) == setup
    assert str(caught.value).startswith(text)
    assert caught.value.code == int(reply[:3])
    assert not caught.value.temporary


def test_rejected_recipient_does_not_block_the_others(smtp_server: StartServer) -> None:
    server = smtp_server(RejectingHandler("gone@example.net"))
    with SmtpTransport(smtp_settings(server.port), {}) as transport:
        transport.send(digest_message(to="first@example.net", mid="<d1@x>"))
        with pytest.raises(RecipientRejected) as caught:
            transport.send(digest_message(to="gone@example.net", mid="<d2@x>"))
        transport.send(digest_message(to="last@example.net", mid="<d3@x>"))

    assert str(caught.value) == "550 5.1.1 no such mailbox here (recipient gone@example.net)"
    assert caught.value.recipient == "gone@example.net"
    assert caught.value.code == 550 and not caught.value.temporary
    assert isinstance(caught.value, PermanentFailure)
    assert [r.rcpt_tos for r in server.received] == [("first@example.net",), ("last@example.net",)]


def test_4xx_for_the_recipient_is_temporary_not_a_rejection(smtp_server: StartServer) -> None:
    server = smtp_server(RejectingHandler(READER, reply="450 4.2.1 mailbox busy: try again later"))
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(smtp_settings(server.port), {}).send(digest_message())
    assert str(caught.value) == "450 4.2.1 mailbox busy: try again later (recipient " + READER + ")"


def test_connection_dropped_mid_data_is_a_temporary_failure(smtp_server: StartServer) -> None:
    server = smtp_server(smtp_class=DroppingSMTP)
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(smtp_settings(server.port), {}).send(digest_message())
    where = f"127.0.0.1:{server.port}"
    assert str(caught.value) == f"{where} closed the connection before accepting the message"
    assert caught.value.code is None


def test_server_slower_than_the_timeout_is_a_temporary_failure(smtp_server: StartServer) -> None:
    server = smtp_server(SlowHandler(delay=3))
    started = time.monotonic()
    with pytest.raises(TemporaryFailure) as caught:
        SmtpTransport(smtp_settings(server.port, timeout=0.5), {}).send(digest_message())
    assert time.monotonic() - started < 2.5
    assert str(caught.value) == f"127.0.0.1:{server.port} did not answer within 0.5s"


def test_server_that_never_greets_is_a_temporary_failure() -> None:
    with silent_server() as port, pytest.raises(TemporaryFailure, match="did not answer"):
        SmtpTransport(smtp_settings(port, timeout=0.3), {}).send(digest_message())


# SMTP: logging in


def test_login_with_the_password_from_the_environment(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, PASSWORD), auth_required=True)
    env = {PASSWORD_ENV: PASSWORD}
    SmtpTransport(login_settings(server.port), env).send(digest_message())
    assert [r.login for r in server.received] == [USER]


def test_wrong_password_is_a_permanent_failure(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, "another"), auth_required=True)
    with pytest.raises(SetupFailure) as caught:
        SmtpTransport(login_settings(server.port), {PASSWORD_ENV: PASSWORD}).send(digest_message())
    assert caught.value.code == 535
    assert str(caught.value).endswith(f"(login refused by 127.0.0.1:{server.port})")
    assert server.received == []


def test_missing_password_variable_names_the_variable(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, PASSWORD), auth_required=True)
    with pytest.raises(SetupFailure) as caught:
        SmtpTransport(login_settings(server.port), {}).send(digest_message())
    assert str(caught.value) == f"the SMTP password is not set: put it in ${PASSWORD_ENV}"


def test_password_is_read_when_sending_not_when_built(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, PASSWORD), auth_required=True)
    env: dict[str, str] = {}
    transport = SmtpTransport(login_settings(server.port), env)
    env[PASSWORD_ENV] = PASSWORD
    transport.send(digest_message())
    assert len(server.received) == 1


def test_a_password_smtplib_cannot_send_is_one_clear_setup_failure(
    smtp_server: StartServer,
) -> None:
    password = "Zalem-Eisen-ä"  # smtplib sends the login in ASCII only
    server = smtp_server(authenticator=authenticator(USER, password), auth_required=True)
    transport = SmtpTransport(login_settings(server.port), {PASSWORD_ENV: password})
    with pytest.raises(SetupFailure) as caught:
        transport.send(digest_message())
    assert str(caught.value) == (
        f"cannot log in to 127.0.0.1:{server.port}: the SMTP user or password is not ASCII"
    )
    assert caught.value.__suppress_context__ and server.received == []


def test_server_requiring_a_login_that_gets_none(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, PASSWORD), auth_required=True)
    with pytest.raises(SetupFailure, match=r"^530 5\.7\.0 Authentication required"):
        SmtpTransport(smtp_settings(server.port), {}).send(digest_message())


def test_the_password_never_shows_in_logs_or_errors(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = authenticator(USER, PASSWORD)
    servers = [
        smtp_server(authenticator=echoing_authenticator()),  # quotes the password back
        smtp_server(FailingHandler("MAIL", "421 4.3.2 closing"), authenticator=good),
        smtp_server(FailingHandler("RCPT", "451 4.3.0 busy"), authenticator=good),
        smtp_server(FailingHandler("DATA", "554 5.6.0 refused"), authenticator=good),
        smtp_server(RejectingHandler(READER), authenticator=good),
        smtp_server(smtp_class=DroppingSMTP, authenticator=good),
        smtp_server(SlowHandler(delay=2), authenticator=good),
        smtp_server(authenticator=good),  # accepts: the receipt must be clean too
    ]
    ports = [s.port for s in servers] + [refused_port()]
    texts: list[str] = []
    failures: list[type[DeliveryError]] = []
    for port in ports:
        transport = SmtpTransport(login_settings(port, timeout=0.5), {PASSWORD_ENV: PASSWORD})
        try:
            texts.append(transport.send(digest_message()))
        except DeliveryError as exc:
            failures.append(type(exc))
            texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]

    assert len(failures) == len(ports) - 1
    assert "bad login" in texts[0]  # the echoing server's reply is shown, redacted
    # mail.log is the test servers' own log, which of course sees what they received.
    client_logs = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert any(r.name == "alerts.delivery" for r in client_logs)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    everything = "\n".join(texts + [formatter.format(r) for r in client_logs])
    assert PASSWORD not in everything
    assert "V2gxdGUtUmFiYml0L1phbGVtKzk" not in everything  # base64 of the password


def test_an_echoed_password_is_hidden_even_where_a_long_reply_is_cut(
    smtp_server: StartServer,
) -> None:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> Any:
        # the reply is shortened to 300 characters: the cut falls inside the password
        padding = "x" * (300 - len("535 5.7.8 ") - 8)
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 {padding} {data.password.decode()}"
        )

    server = smtp_server(authenticator=check)
    transport = SmtpTransport(login_settings(server.port), {PASSWORD_ENV: PASSWORD})
    with pytest.raises(SetupFailure) as caught:
        transport.send(digest_message())
    assert "[password]" in str(caught.value)
    assert not any(PASSWORD[i : i + 6] in str(caught.value) for i in range(len(PASSWORD) - 5))


# SMTP: TLS


def test_ssl_delivers_over_implicit_tls(
    smtp_server: StartServer, tls_certificate: tuple[Path, Path]
) -> None:
    cert, key = tls_certificate
    server = smtp_server(
        ssl_context=server_tls_context(cert, key), authenticator=authenticator(USER, PASSWORD)
    )
    settings = login_settings(server.port, security="ssl")
    transport = SmtpTransport(
        settings, {PASSWORD_ENV: PASSWORD}, ssl_context=client_tls_context(cert)
    )
    assert transport.send(digest_message()).startswith("250 ")
    [got] = server.received
    assert got.tls and got.login == USER


def test_starttls_upgrades_before_logging_in(
    smtp_server: StartServer, tls_certificate: tuple[Path, Path]
) -> None:
    cert, key = tls_certificate
    server = smtp_server(
        tls_context=server_tls_context(cert, key),
        require_starttls=True,
        authenticator=authenticator(USER, PASSWORD),
    )
    settings = login_settings(server.port, security="starttls")
    transport = SmtpTransport(
        settings, {PASSWORD_ENV: PASSWORD}, ssl_context=client_tls_context(cert)
    )
    transport.send(digest_message())
    [got] = server.received
    assert got.tls and got.login == USER


def test_untrusted_certificate_is_a_permanent_failure(
    smtp_server: StartServer, tls_certificate: tuple[Path, Path]
) -> None:
    cert, key = tls_certificate
    server = smtp_server(ssl_context=server_tls_context(cert, key))
    with pytest.raises(SetupFailure, match="is not trusted: .*certificate"):
        SmtpTransport(smtp_settings(server.port, security="ssl"), {}).send(digest_message())


def test_starttls_never_falls_back_to_plain_text(smtp_server: StartServer) -> None:
    server = smtp_server(authenticator=authenticator(USER, PASSWORD))
    settings = login_settings(server.port, security="starttls")
    with pytest.raises(SetupFailure, match="STARTTLS"):
        SmtpTransport(settings, {PASSWORD_ENV: PASSWORD}).send(digest_message())
    assert server.received == []


# Choosing the transport


def test_transport_for_follows_the_method(tmp_path: Path) -> None:
    outbox = transport_for(DeliverySettings(), tmp_path / "outbox", {})
    assert isinstance(outbox, OutboxTransport) and outbox.folder == tmp_path / "outbox"
    pool = transport_for(DeliverySettings(method="smtp"), tmp_path, {})
    assert isinstance(pool, SmtpPool) and pool.settings == DeliverySettings().smtp
    assert pool.connections == 4  # the default: four messages on their way at once
    one = DeliverySettings(method="smtp", smtp=SmtpSettings(connections=1))
    smtp = transport_for(one, tmp_path, {})
    assert isinstance(smtp, SmtpTransport) and smtp.settings.connections == 1
