"""The package boundaries: bot reaches the engine through `knowledge`'s public names only,
and the bot's settings state none of the engine's defaults again."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from telegram.constants import FloodLimit

import knowledge
from bot import settings as settings_module
from bot.settings import Settings, SettingsError, load_settings
from knowledge import EngineConfig

BOT = Path(__file__).resolve().parents[1] / "bot"


def _knowledge_imports() -> list[tuple[str, str]]:
    """(file, what) for each import of knowledge in bot/: a module path or an imported name."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("knowledge"):
                if node.module != "knowledge":
                    found.append((path.name, node.module or ""))
                found.extend((path.name, alias.name) for alias in node.names)
            elif isinstance(node, ast.Import):
                found.extend(
                    (path.name, alias.name)
                    for alias in node.names
                    if alias.name.startswith("knowledge")
                )
    return found


def test_bot_imports_only_what_knowledge_exports() -> None:
    imports = _knowledge_imports()
    assert imports, "bot imports nothing from knowledge: the scan is broken"
    outside = [(file, name) for file, name in imports if name not in knowledge.__all__]
    assert outside == []


def test_every_exported_name_exists() -> None:
    assert all(hasattr(knowledge, name) for name in knowledge.__all__)


def test_settings_default_to_the_engines_own_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert Settings(_env_file=None).engine_config() == EngineConfig()


def test_a_knowledge_setting_reaches_the_engine_and_keeps_its_limits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here, nor in the project folder:
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("KNOWLEDGE_MAX_TEXT_CHARS", "1234")
    monkeypatch.setenv("KNOWLEDGE_QUERY_PRECISION", "float32")
    config = load_settings().engine_config()
    assert (config.max_text_chars, config.query_precision) == (1234, "float32")
    monkeypatch.setenv("KNOWLEDGE_MAX_TEXT_CHARS", "0")  # EngineConfig's own limit: >= 1
    with pytest.raises(SettingsError, match=r"^KNOWLEDGE_MAX_TEXT_CHARS: .*greater than or equal"):
        load_settings()


def test_the_default_send_rate_is_telegrams() -> None:
    default = Settings.model_fields["bot_messages_per_second"].default
    assert default == FloodLimit.MESSAGES_PER_SECOND
