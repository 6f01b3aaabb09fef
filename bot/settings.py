"""Settings from the environment (and an optional `.env`), read by one class."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge import EngineConfig, Precision, default_index_dir

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
IdList = Annotated[frozenset[int], NoDecode]
_MIN_SECRET = 8
# The checkout (the folder with pyproject.toml and run.sh) when running from one.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


def _default_state_dir() -> Path:
    return default_index_dir().parent / "state"


def env_files() -> tuple[Path, ...]:
    """The `.env` files read: the project's, then the current directory's, which wins."""
    project = PROJECT_ROOT / ".env" if (PROJECT_ROOT / "pyproject.toml").is_file() else None
    return tuple(path for path in (project, Path(".env")) if path is not None)


def _engine(name: str) -> Any:
    """`EngineConfig`'s field `name`, its default and limits included, for the setting
    KNOWLEDGE_<NAME>: the engine's defaults are stated once, in the engine."""
    return copy.copy(EngineConfig.model_fields[name])


def _default_workers() -> int:
    """One engine process per core, up to four (each holds the model: about 0.5 GB)."""
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseSettings):
    """Every setting of the bot and its engine; names are the environment variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    knowledge_model: str = _engine("model")
    knowledge_corpus_dir: Path = _engine("corpus_dir")
    knowledge_collection_dir: Path = _engine("collection_dir")
    knowledge_index_dir: Path = _engine("index_dir")
    knowledge_max_file_bytes: int = _engine("max_file_bytes")
    knowledge_max_text_chars: int = _engine("max_text_chars")
    knowledge_query_precision: Precision = _engine("query_precision")
    knowledge_model_cache_dir: Path = _engine("model_cache_dir")
    knowledge_crosslingual: bool = _engine("crosslingual")
    knowledge_crosslingual_dir: Path = _engine("crosslingual_dir")
    knowledge_second_stage: bool = _engine("second_stage")
    knowledge_second_stage_dir: Path = _engine("second_stage_dir")
    bot_state_dir: Path = Field(default_factory=_default_state_dir)
    bot_allowed_chat_ids: IdList = frozenset()
    bot_allowed_user_ids: IdList = frozenset()
    bot_admin_user_ids: IdList = frozenset()
    bot_user_questions_per_minute: int = Field(default=20, ge=1, le=1000)
    bot_chat_questions_per_minute: int = Field(default=60, ge=1, le=10000)
    # Telegram's FloodLimit.MESSAGES_PER_SECOND, written out: the commands that never talk to
    # Telegram do not load python-telegram-bot (tests/test_boundaries.py compares the two).
    bot_messages_per_second: float = Field(default=30, gt=0, le=1000)
    bot_send_timeout_seconds: float = Field(default=20, gt=0, le=300)
    bot_engine_workers: int = Field(default_factory=_default_workers, ge=0, le=16)
    log_level: str = "INFO"

    @field_validator("telegram_bot_token")
    @classmethod
    def _blank_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Blank is unset; the shape is checked by `token()`, for `run` only."""
        if value is None or not value.get_secret_value().strip():
            return None
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_base_url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or re.search(r"\s", value):
            raise ValueError("must be an http:// or https:// URL with a host")
        try:
            port = parts.port
        except ValueError:  # not a number, or above 65535
            port = 0
        if port is not None and not 1 <= port <= 65535:
            raise ValueError("has a port outside 1-65535")
        return value

    @field_validator(
        "bot_allowed_chat_ids", "bot_allowed_user_ids", "bot_admin_user_ids", mode="before"
    )
    @classmethod
    def _id_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
            except ValueError:
                raise ValueError("must be a comma-separated list of numeric ids") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    def engine_config(self) -> EngineConfig:
        """The engine's configuration: each KNOWLEDGE_<NAME> setting as its field <name>."""
        prefix = "knowledge_"
        return EngineConfig(
            **{
                name.removeprefix(prefix): getattr(self, name)
                for name in type(self).model_fields
                if name.startswith(prefix)
            }
        )

    def token(self) -> str:
        """The bot token; raise SettingsError when it is not set or not shaped like one."""
        if self.telegram_bot_token is None:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
                "(/newbot), then export TELEGRAM_BOT_TOKEN=<the token it gives you>"
            )
        token = self.telegram_bot_token.get_secret_value()
        if not _TOKEN.match(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN: is not a bot token (expected digits, a colon, then letters)"
            )
        return token

    def secrets(self) -> list[str]:
        """What no output may show: the token, and its part after the colon on its own (too
        short a value is no secret worth masking, and masking it would garble the output)."""
        if self.telegram_bot_token is None:
            return []
        token = self.telegram_bot_token.get_secret_value()
        return [part for part in (token, token.partition(":")[2]) if len(part) >= _MIN_SECRET]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise SettingsError with one line naming the first bad one."""
    try:
        return Settings(_env_file=env_files(), **overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
