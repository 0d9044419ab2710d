from __future__ import annotations

import stat
from pathlib import Path

import pytest

from chat.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_product(tmp_path: Path) -> None:
    settings = load_settings({"VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/supportchat.db"
    assert settings.redis_url is None
    assert settings.auto_migrate and settings.demo_page and settings.sweeper_in_process
    assert settings.max_frame_bytes == 64 * 1024


def test_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings({"VAR_DIR": str(tmp_path)})
    second = load_settings({"VAR_DIR": str(tmp_path)})
    key_file = tmp_path / "secret_key"
    assert first.secret_keys == second.secret_keys
    assert len(first.secret_keys[-1]) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = load_settings({"VAR_DIR": str(tmp_path / "elsewhere")})
    assert other.secret_keys != first.secret_keys


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_settings({"VAR_DIR": str(tmp_path)})
    (tmp_path / "secret_key").chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load_settings({"VAR_DIR": str(tmp_path)})


def test_rotation_lists_previous_keys_first(tmp_path: Path) -> None:
    old, new = "o" * 40, "n" * 40
    settings = load_settings({"VAR_DIR": str(tmp_path), "SECRET_KEY": new, "SECRET_KEYS_PREVIOUS": old})
    assert settings.secret_keys == (old, new)


def test_postgres_urls_are_pinned_to_asyncpg(tmp_path: Path) -> None:
    for raw in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+asyncpg://u@h/db"):
        settings = load_settings({"VAR_DIR": str(tmp_path), "DATABASE_URL": raw})
        assert settings.database_url == "postgresql+asyncpg://u@h/db"
        assert not settings.auto_migrate and not settings.demo_page


def test_public_url_follows_port_unless_set(tmp_path: Path) -> None:
    assert load_settings({"VAR_DIR": str(tmp_path)}).public_url == "http://127.0.0.1:8000"
    settings = load_settings({"VAR_DIR": str(tmp_path), "PORT": "8123"})
    assert settings.port == 8123 and settings.public_url == "http://127.0.0.1:8123"
    behind_proxy = load_settings({"VAR_DIR": str(tmp_path), "PORT": "8123", "PUBLIC_URL": "https://chat.example.com"})
    assert behind_proxy.port == 8123 and behind_proxy.public_url == "https://chat.example.com"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL scheme 'mysql' is not supported"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a URL"),
        ("REDIS_URL", "http://localhost", "REDIS_URL must start with"),
        ("SECRET_KEY", "short", "SECRET_KEY must be at least 32"),
        ("SECRET_KEYS_PREVIOUS", "tiny", "SECRET_KEYS_PREVIOUS"),
        ("PUBLIC_URL", "chat.example.com", "PUBLIC_URL must be an http"),
        ("MAX_FRAME_BYTES", "lots", "MAX_FRAME_BYTES must be an integer"),
        ("MAX_FRAME_BYTES", "10", "MAX_FRAME_BYTES must be between"),
        ("AUTO_MIGRATE", "maybe", "AUTO_MIGRATE must be true or false"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of"),
        ("PORT", "http", "PORT must be an integer"),
        ("PORT", "70000", "PORT must be between"),
    ],
)
def test_invalid_values_name_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        load_settings({"VAR_DIR": str(tmp_path), name: value})
    assert "\n" not in str(info.value)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"VAR_DIR={tmp_path}\nPUBLIC_URL=https://from-dotenv.example\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    settings = load_settings(dotenv=env_file)
    assert settings.public_url == "https://from-dotenv.example"
    assert settings.log_level == "warning"
    assert settings.cookie_secure
