"""Settings from the environment and `.env`: defaults, parsing, one-line errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import settings as settings_module
from bot.settings import Settings, SettingsError, load_settings
from knowledge.corpus import DEFAULT_CORPUS_DIR

TOKEN = "123456789:AAH-secret_Value-xyz"  # noqa: S105 - a made-up token


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the real environment or a stray `.env` (the project's is the empty
    `project` folder here); caches under tmp_path, which is the current directory."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\n", encoding="utf-8")
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", project)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}:"), message
    return message


def test_defaults(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.log_level == "INFO"
    assert settings.bot_admin_user_ids == frozenset()
    assert settings.knowledge_corpus_dir == DEFAULT_CORPUS_DIR
    assert settings.knowledge_index_dir == clean_env / "cache" / "little-giants-bot" / "index"
    assert settings.bot_state_dir == clean_env / "cache" / "little-giants-bot" / "state"
    assert not (clean_env / "cache").exists(), "reading settings must not create directories"


def test_missing_token_names_it_and_botfather() -> None:
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.token()
    message = str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in message
    assert "@BotFather" in message
    assert "\n" not in message


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_token_counts_as_unset(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", blank)
    settings = load_settings()
    assert settings.telegram_bot_token is None
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        settings.token()


def test_valid_token_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", f"  {TOKEN}\n")
    settings = load_settings()
    assert settings.token() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in settings.model_dump_json()
    assert settings.secrets() == [TOKEN, TOKEN.split(":")[1]]


@pytest.mark.parametrize(
    "value",
    ["not-a-token", "123456", "abc:DEF", "123:has space", "123:semi;colon", "https://x/123:abc"],
)
def test_malformed_token_is_refused_by_token_only_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Only `run` needs the token (it calls token()); the other commands read the settings
    and must not fail over it."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", value)
    settings = load_settings()
    with pytest.raises(SettingsError) as caught:
        settings.token()
    message = str(caught.value)
    assert message.startswith("TELEGRAM_BOT_TOKEN:"), message
    assert "\n" not in message
    assert value not in message
    assert value.rsplit(":", maxsplit=1)[-1] not in message


def test_a_short_malformed_token_is_not_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Masking "a" in every line would garble the output of the commands that work on."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:a")
    assert load_settings().secrets() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEGRAM_BASE_URL", "ftp://x"),
        ("TELEGRAM_BASE_URL", "api.telegram.org/bot"),
        ("TELEGRAM_BASE_URL", "https:// spaced.example/bot"),
        ("TELEGRAM_BASE_URL", "http://127.0.0.1:99999/bot"),
        ("TELEGRAM_BASE_URL", "http://127.0.0.1:0/bot"),
        ("TELEGRAM_BASE_URL", "http://127.0.0.1:port/bot"),
        ("TELEGRAM_BASE_URL", "http:///bot"),
        ("TELEGRAM_BASE_URL", "https://:8081/bot"),
        ("BOT_ADMIN_USER_IDS", "1,x"),
        ("BOT_ALLOWED_USER_IDS", "12;13"),
        ("BOT_ALLOWED_CHAT_IDS", "1.5"),
        ("LOG_LEVEL", "loud"),
        ("LOG_LEVEL", ""),
        ("BOT_USER_QUESTIONS_PER_MINUTE", "0"),
        ("BOT_USER_QUESTIONS_PER_MINUTE", "many"),
        ("BOT_CHAT_QUESTIONS_PER_MINUTE", "-5"),
    ],
)
def test_invalid_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    _error(monkeypatch, name, value)


def test_lower_case_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("log_level", "warning")
    assert load_settings().log_level == "WARNING"


def test_id_lists_and_levels_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_ADMIN_USER_IDS", " 1, 2 ,3,")
    monkeypatch.setenv("BOT_ALLOWED_CHAT_IDS", "-1001234567890,-42")
    monkeypatch.setenv("BOT_ALLOWED_USER_IDS", "")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("TELEGRAM_BASE_URL", "http://127.0.0.1:8081/bot")
    settings = load_settings()
    assert settings.bot_admin_user_ids == frozenset({1, 2, 3})
    assert settings.bot_allowed_chat_ids == frozenset({-1001234567890, -42})
    assert settings.bot_allowed_user_ids == frozenset()
    assert settings.log_level == "DEBUG"
    assert settings.telegram_base_url == "http://127.0.0.1:8081/bot"


def test_engine_config_follows_the_settings(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("KNOWLEDGE_INDEX_DIR", str(clean_env / "idx"))
    monkeypatch.setenv("KNOWLEDGE_CORPUS_DIR", str(clean_env / "docs"))
    config = load_settings().engine_config()
    assert config.index_dir == clean_env / "idx"
    assert config.corpus_dir == clean_env / "docs"


def test_dot_env_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    (clean_env / ".env").write_text(
        "LOG_LEVEL=error\nBOT_ADMIN_USER_IDS=7,8\nUNRELATED_THING=1\n", encoding="utf-8"
    )
    settings = load_settings()
    assert settings.log_level == "ERROR"
    assert settings.bot_admin_user_ids == frozenset({7, 8})
    monkeypatch.setenv("LOG_LEVEL", "critical")
    assert load_settings().log_level == "CRITICAL"


def test_bad_value_in_dot_env_is_named(clean_env: Path) -> None:
    (clean_env / ".env").write_text("BOT_ADMIN_USER_IDS=oops-not-valid\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("BOT_ADMIN_USER_IDS:")


def test_dot_env_of_the_project_is_read_from_anywhere_and_the_current_one_wins(
    clean_env: Path,
) -> None:
    project = settings_module.PROJECT_ROOT
    (project / ".env").write_text(
        f"export TELEGRAM_BOT_TOKEN={TOKEN}\nLOG_LEVEL=error\n", encoding="utf-8"
    )
    settings = load_settings()
    assert settings.token() == TOKEN  # an `export` line, as a shell script has it
    assert settings.log_level == "ERROR"
    (clean_env / ".env").write_text("LOG_LEVEL=debug\n", encoding="utf-8")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.token() == TOKEN


def test_dot_env_outside_a_checkout_is_only_the_current_one(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    installed = clean_env / "site-packages"  # no pyproject.toml: not a checkout
    installed.mkdir()
    (installed / ".env").write_text("LOG_LEVEL=error\n", encoding="utf-8")
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", installed)
    assert load_settings().log_level == "INFO"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    assert load_settings(log_level="info").log_level == "INFO"
