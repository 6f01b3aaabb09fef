"""The default model is the bundled MiniLM with the shipped LoRA adapter merged in, run in
ONNX Runtime."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import knowledge.embedding
from benchmarks.train_encoder import SETTINGS_FILE, TuningSettings, shipped_settings, tune
from knowledge import onnx_encoder
from knowledge.config import EngineConfig
from knowledge.embedding import (
    ADAPTER_DIR,
    BUNDLED_MODEL,
    TUNED_MODEL,
    Encoder,
    model_fingerprint,
    resolve_model,
)
from knowledge.onnx_encoder import exportable
from knowledge.passages import MAX_PASSAGE_WORDS
from knowledge.store import build_key
from tests.support.data import REPO

QUESTION = "Which ministry runs the programme?"
PASSAGE = (
    "China's Ministry of Industry and Information Technology (MIIT) introduced the Little "
    "Giants policy in 2018."
)


@pytest.fixture(scope="module")
def bundled() -> Encoder:
    return Encoder(BUNDLED_MODEL, library=True)  # not exported: this module imports torch


def test_the_default_model_runs_in_onnx_runtime_and_gives_the_librarys_vectors(
    encoder: Encoder,
) -> None:
    library = Encoder(TUNED_MODEL, "float32", library=True)  # not bfloat16 where the CPU has it
    assert (encoder.runtime, library.runtime) == ("onnx", "sentence-transformers")
    long = " ".join(f"{PASSAGE} Its {n}th sentence." for n in range(40))  # over 256 tokens
    odd = ["", "  spaced out \n", "小巨人企业有多少家？", "Что такое «маленькие гиганты»?", "🚀 …"]
    texts = [QUESTION, PASSAGE, long, *odd] + [f"{OTHER} ({n})" * (n % 5 + 1) for n in range(70)]
    ours, theirs = encoder.encode(texts), library.encode(texts)  # several batches, in order
    assert ours.shape == theirs.shape == (len(texts), encoder.dimension)
    assert float((ours * theirs).sum(axis=1).min()) > 0.9999
    for text in (QUESTION, *odd):
        one = encoder.encode_queries([text])[0]
        assert float(one @ library.encode_queries([text])[0]) > 0.9999
    assert encoder.truncate(long) == library.truncate(long)
    assert encoder.truncate(long)[1] and not encoder.truncate(PASSAGE)[1]


def test_a_process_answering_with_the_exported_model_never_imports_torch(
    encoder: Encoder,
) -> None:
    script = (
        "import sys; from knowledge.embedding import TUNED_MODEL, Encoder; "
        "vector = Encoder(TUNED_MODEL).encode_queries(['Which ministry runs it?']); "
        "print(vector.shape, sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(1,", f"{encoder.dimension})", "[]"]
    assert "preparing model" not in result.stderr  # the session's export, reused


def test_only_a_mean_pooling_model_is_exported(tmp_path: Path) -> None:
    folder = Path(resolve_model(BUNDLED_MODEL))
    assert exportable(folder)
    copy = tmp_path / "model"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    assert not exportable(copy)
    assert not exportable(tmp_path / "missing")


def test_the_default_model_is_the_tuned_one_and_its_adapter_is_shipped() -> None:
    assert EngineConfig().model == TUNED_MODEL
    assert (ADAPTER_DIR / "adapter_config.json").is_file()
    assert (ADAPTER_DIR / "adapter_model.safetensors").is_file()
    assert shipped_settings().rank > 0


def test_the_adapter_changes_the_vectors_and_keeps_them_unit_length(
    encoder: Encoder, bundled: Encoder
) -> None:
    tuned, plain = encoder.encode([PASSAGE])[0], bundled.encode([PASSAGE])[0]
    assert encoder.name == TUNED_MODEL
    assert float(np.linalg.norm(tuned)) == pytest.approx(1.0, abs=1e-5)
    assert float(tuned @ plain) < 0.999
    # The fast question path gives the library's vectors for the tuned model too.
    assert float(encoder.encode_queries([QUESTION])[0] @ encoder.encode([QUESTION])[0]) > 0.999


def test_an_index_built_with_one_adapter_is_stale_under_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = build_key(TUNED_MODEL, MAX_PASSAGE_WORDS)
    assert shipped != build_key(BUNDLED_MODEL, MAX_PASSAGE_WORDS)
    refitted = tmp_path / "adapter"
    shutil.copytree(ADAPTER_DIR, refitted)
    weights = refitted / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # the same size, other weights
    weights.write_bytes(bytes(data))
    monkeypatch.setattr(knowledge.embedding, "ADAPTER_DIR", refitted)
    assert model_fingerprint(TUNED_MODEL) != shipped.model
    assert build_key(TUNED_MODEL, MAX_PASSAGE_WORDS) != shipped


OTHER = "Six batches of such companies have been named so far."
UNANSWERED = "Who founded the ministry?"


def test_tuning_brings_a_question_closer_to_its_passage(tmp_path: Path, bundled: Encoder) -> None:
    pairs = [
        (QUESTION, PASSAGE, True, PASSAGE),
        ("How many batches have been announced?", OTHER, True, OTHER),
    ]
    settings = TuningSettings(rank=4, epochs=3, learning_rate=3e-3, batch_size=2)
    tune(pairs, settings, tmp_path / "adapter")
    assert TuningSettings.model_validate_json((tmp_path / "adapter" / SETTINGS_FILE).read_text())
    assert not (tmp_path / "adapter" / "README.md").exists()
    tuned = Encoder(TUNED_MODEL, adapter=tmp_path / "adapter")
    before = float(bundled.encode([QUESTION])[0] @ bundled.encode([PASSAGE])[0])
    after = float(tuned.encode([QUESTION])[0] @ tuned.encode([PASSAGE])[0])
    assert after > before + 0.02


def test_a_no_answer_class_keeps_unanswered_questions_away_from_the_closest_passage(
    tmp_path: Path, bundled: Encoder
) -> None:
    pairs = [
        (QUESTION, PASSAGE, True, PASSAGE),
        (UNANSWERED, PASSAGE, False, PASSAGE),
        ("How many batches have been announced?", OTHER, True, OTHER),
    ]

    def similarity(encoder: Encoder, question: str) -> float:
        return float(encoder.encode([question])[0] @ encoder.encode([PASSAGE])[0])

    plain = TuningSettings(rank=4, epochs=4, learning_rate=3e-3, batch_size=3)
    with_class = plain.model_copy(update={"no_answer": 0.2})
    tune(pairs, plain, tmp_path / "plain")
    tune(pairs, with_class, tmp_path / "no-answer")
    without = Encoder(TUNED_MODEL, adapter=tmp_path / "plain")
    kept_away = Encoder(TUNED_MODEL, adapter=tmp_path / "no-answer")
    # The unanswered question is pushed below its similarity without the class, and below
    # the answered one's, which the class does not undo.
    assert similarity(kept_away, UNANSWERED) < similarity(without, UNANSWERED) - 0.05
    assert similarity(kept_away, UNANSWERED) < similarity(kept_away, QUESTION) - 0.1
    assert similarity(kept_away, QUESTION) > similarity(bundled, QUESTION)


def test_an_export_removes_the_former_ones_of_its_model_and_nothing_else(
    tmp_path: Path,
) -> None:
    def folder(name: str, *, meta: bool = True) -> Path:
        path = tmp_path / name
        path.mkdir()
        if meta:
            (path / "encoder.json").write_text("{}")
        return path

    former, kept = folder("m-" + "a" * 20), folder("m-" + "b" * 20)
    others = [
        folder("m-" + "c" * 20, meta=False),  # not an export of this module
        folder("m-notes"),
        folder("mm-" + "d" * 20),
        folder("m"),
        folder("m-" + "e" * 20),  # a newer version's, made after `kept`
    ]
    newer = others[-1] / "encoder.json"
    later = (kept / "encoder.json").stat().st_mtime + 100
    os.utime(newer, (later, later))
    onnx_encoder._remove_other_exports(tmp_path, "m", kept)
    assert not former.exists()
    assert kept.is_dir() and all(path.is_dir() for path in others)


def test_an_export_a_live_process_uses_is_kept_until_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    former, current = (onnx_encoder.export_folder(f"m@{v}", tmp_path) for v in ("1", "2"))
    for made, folder in enumerate((former, current)):
        folder.mkdir()
        (folder / "encoder.json").write_text("{}")
        os.utime(folder / "encoder.json", (1e9 + made * 100, 1e9 + made * 100))
    user = subprocess.Popen(  # an older version's process, using the former export
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from knowledge.onnx_encoder import exported;"
            f"print(exported('m@1', Path('unused'), None, Path({str(tmp_path)!r})), flush=True);"
            "sys.stdin.read()",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert user.stdout is not None and user.stdout.readline().strip() == str(former)
        monkeypatch.setattr(onnx_encoder, "_IN_USE", {})
        assert onnx_encoder.exported("m@2", Path("unused"), None, tmp_path) == current
        assert former.is_dir(), "deleted while a process uses it"
    finally:
        user.communicate("", timeout=30)
        for use in onnx_encoder._IN_USE.values():
            use.close()
    onnx_encoder._remove_other_exports(tmp_path, "m", current)  # as the next process does
    assert not former.exists() and current.is_dir()
