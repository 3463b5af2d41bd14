"""The systemd unit and its example configuration are sound."""

from __future__ import annotations

import configparser
from pathlib import Path

import config

ROOT = Path(__file__).resolve().parent.parent


def test_the_unit_runs_the_daemon_hardened_with_a_state_directory() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "deploy" / "sequelwatch.service")
    service = unit["Service"]
    assert service["ExecStart"].endswith("sequelwatch daemon --log-format json")
    assert service["User"] == "sequelwatch"
    assert service["StateDirectory"] == "sequelwatch"
    for option, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("UMask", "0077"),
    ):
        assert service[option] == value, option
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"


def test_the_example_configuration_loads(tmp_path: Path) -> None:
    text = (ROOT / "deploy" / "sequelwatch.toml").read_text(encoding="utf-8")
    text = text.replace("/opt/sequelwatch", str(ROOT)).replace(
        "/var/lib/sequelwatch", str(tmp_path)
    )
    path = tmp_path / "sequelwatch.toml"
    path.write_text(text, encoding="utf-8")
    settings = config.load(path)
    assert settings.delivery.method == "smtp"
    assert settings.database == tmp_path / "sequelwatch.db"
    assert settings.schedule.timezone == "Europe/Rome"
