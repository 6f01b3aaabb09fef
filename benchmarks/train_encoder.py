"""Tune the bundled MiniLM to the own question set: a LoRA adapter (knowledge/adapter).

    python -m benchmarks.train_encoder [--folds 5] [--dry-run]

The adapter brings each answerable question and its passage together, and with
`no_answer` set, keeps each question nothing answers below that similarity to the passage
closest to it (as if a "no answer" passage stood at that similarity). Each of SETTINGS is
scored by k-fold cross-validation, folds stratified by kind: the share of held-out questions
whose gold passage the tuned model alone ranks first, and in the top three, and how well its
closest passage's similarity tells answerable questions from the others (ROC AUC). The
best is fitted on every question and written (unless --dry-run); refit the ranking on it
next (`python -m benchmarks.train_ranking`). dev.jsonl and chat.jsonl are never used here.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from benchmarks._common import print_footer, print_header
from benchmarks.scoring import ENGLISH_KINDS, Question, is_hit, own_questions
from knowledge import Engine, EngineConfig
from knowledge.embedding import (
    ADAPTER_DIR,
    BUNDLED_MODEL,
    TUNED_MODEL,
    Encoder,
    peft_quietly,
    resolve_model,
)
from knowledge.features import sentence_match
from knowledge.ranking import Ranking

SETTINGS_FILE = "tuning.json"
# The transformer's linear layers (attention and feed-forward); not the unused pooler.
_TARGETS = r".*encoder\.layer\.\d+\..*(query|key|value|dense)"

# A question as the engine searches it, a passage's text, whether that passage answers it
# (else it is the passage closest to a question nothing answers), and the passage's sentence
# that does (the one holding the gold quote), or that is closest.
Pair = tuple[str, str, bool, str]


class TuningSettings(BaseModel):
    """How the adapter is fitted: LoRA rank, passes over the questions, learning rate."""

    model_config = ConfigDict(frozen=True)

    rank: int = 16
    epochs: int = 3
    learning_rate: float = 3e-4
    batch_size: int = 32
    scale: float = 20.0  # similarity scale of the in-batch softmax
    no_answer: float | None = None  # the "no answer" similarity; None: answerable ones only
    sentences: bool = False  # each question against its sentence too, as against its passage
    seed: int = 0


# Answerable questions only (no_answer None) scored AUC 0.772 against 0.882 (BENCHMARKS.md).
SETTINGS = (
    TuningSettings(no_answer=0.3),
    TuningSettings(no_answer=0.3, sentences=True),
)


def training_pairs(engine: Engine, questions: Sequence[Question]) -> list[Pair | None]:
    """Each question as searched with its first gold passage and the sentence there that
    holds the quote, or, when nothing answers it, with the passage the engine's model puts
    closest to it and that passage's closest sentence; None for an empty question or a
    quote no passage holds."""
    texts = engine.searched_texts([q.question for q in questions])
    index = engine.index
    scores, best = dense_scores(engine, texts)
    out: list[Pair | None] = []
    for question, text, row, sentences in zip(questions, texts, scores, best, strict=True):
        if not text:
            out.append(None)
            continue
        if question.answerable:
            passage = gold_passage(engine, question)
            if passage is None:
                out.append(None)
                continue
            start, end = index.sentence_start[passage], index.sentence_start[passage + 1]
            texts_of = (_sentence(engine, passage, int(i)) for i in range(start, end))
            sentence = next((t for t in texts_of if is_hit(t, question.gold)), None)
        else:
            passage = int(row.argmax())
            sentence = _sentence(engine, passage, int(sentences[passage]))
        whole = index.passages[passage].text
        out.append((text, whole, question.answerable, sentence or whole))
    return out


def gold_passage(engine: Engine, question: Question) -> int | None:
    """The first passage that holds one of the question's gold quotes, if any."""
    passages = engine.index.passages
    return next((i for i, p in enumerate(passages) if is_hit(p.text, question.gold)), None)


def _sentence(engine: Engine, passage: int, sentence: int) -> str:
    """The text of a sentence (its global index) of a passage."""
    item = engine.index.passages[passage]
    begin, end = engine.index.sentence_span(passage, sentence)
    return item.text[begin - item.start : end - item.start]


def dense_scores(
    engine: Engine, texts: Sequence[str]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Each text's similarity to every passage by the engine's model alone (its best
    sentence's, or the passage's own, whichever is higher), and each passage's best
    sentence for it (global index)."""
    index = engine.index
    everything = np.arange(len(index.passages))
    scores, best = [], []
    for vector in engine.encoder.encode_queries([t or " " for t in texts]):
        sentences, sentence = sentence_match(index, everything, vector)
        scores.append(np.maximum(sentence, index.passage_vectors @ vector))
        best.append(sentences)
    shape = (len(texts), len(index.passages))
    return (
        np.asarray(scores, dtype=np.float32).reshape(shape),
        np.asarray(best, dtype=np.int64).reshape(shape),
    )


def tune(
    pairs: Sequence[Pair], settings: TuningSettings, out: Path, *, progress: bool = False
) -> None:
    """Fit a LoRA adapter of the bundled model to bring each question and its passage
    together (and apart from the other passages in its batch), and write it to `out`."""
    import torch  # noqa: PLC0415 - slow import
    from peft import LoraConfig, get_peft_model  # noqa: PLC0415
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415

    torch.manual_seed(settings.seed)
    order = random.Random(settings.seed)
    model: Any = SentenceTransformer(resolve_model(BUNDLED_MODEL), device="cpu")
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=2 * settings.rank,
        lora_dropout=0.1,
        target_modules=_TARGETS,
    )
    with peft_quietly():
        tuned: Any = get_peft_model(model[0].auto_model, config)
    model[0].auto_model = tuned
    model.train()
    optimiser = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate
    )
    kept = [p for p in pairs if p[2] or settings.no_answer is not None]
    # With `sentences`, each question once more with its sentence in the passage's place.
    extra = [(q, s, a, s) for q, p, a, s in kept if settings.sentences and s != p]
    shuffled = kept + extra

    steps = settings.epochs * -(-len(shuffled) // settings.batch_size)
    with tqdm(total=steps, desc="tuning", unit="batch", disable=not progress) as bar:
        for _ in range(settings.epochs):
            order.shuffle(shuffled)
            for start in range(0, len(shuffled), settings.batch_size):
                batch = shuffled[start : start + settings.batch_size]
                loss = _batch_loss(model, batch, settings)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                bar.update()
    if out.exists():
        shutil.rmtree(out)
    tuned.peft_config["default"].base_model_name_or_path = BUNDLED_MODEL  # not a local path
    with peft_quietly():
        tuned.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # peft's model card template
    (out / SETTINGS_FILE).write_text(settings.model_dump_json(indent=1) + "\n", encoding="utf-8")


def _batch_loss(model: Any, batch: Sequence[Pair], settings: TuningSettings) -> Any:
    """Softmax over the batch's passages of each question's similarities (scaled), its own
    passage the target: every other passage is one that does not answer it. With
    `no_answer`, a "no answer" column at that similarity comes first, the target of the
    questions nothing answers."""
    import torch  # noqa: PLC0415

    columns = list(dict.fromkeys(passage for _, passage, _, _ in batch))
    questions = _embed(model, [q for q, *_ in batch])
    passages = _embed(model, columns)
    logits = settings.scale * questions @ passages.T
    targets = [columns.index(passage) for _, passage, *_ in batch]
    if settings.no_answer is not None:
        threshold = torch.full((len(batch), 1), settings.scale * settings.no_answer)
        logits = torch.cat([threshold, logits], dim=1)
        answering = [answers for _, _, answers, _ in batch]
        targets = [t + 1 if a else 0 for t, a in zip(targets, answering, strict=True)]
    return torch.nn.functional.cross_entropy(logits, torch.tensor(targets))


def _embed(model: Any, texts: list[str]) -> Any:
    import torch  # noqa: PLC0415

    features = model.preprocess(texts)
    return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=1)


def shipped_settings(adapter: Path = ADAPTER_DIR) -> TuningSettings:
    """The settings the shipped adapter was fitted with."""
    return TuningSettings.model_validate_json((adapter / SETTINGS_FILE).read_bytes())


def english_questions() -> list[Question]:
    return [q for q in own_questions() if q.kind in ENGLISH_KINDS]


def tuned_engine(adapter: Path, index_dir: Path, *, second_stage: bool = True) -> Engine:
    """An engine whose model is the bundled one with `adapter`, its index in `index_dir` (a
    folder of its own: the index's key names the shipped adapter, not this one), and a
    ranking that has learned nothing yet (whoever fits one sets it)."""
    # float32 questions, as the shipped model runs them (in ONNX Runtime), on any CPU
    encoder = Encoder(TUNED_MODEL, "float32", adapter=adapter)
    config = EngineConfig(index_dir=index_dir, second_stage=second_stage)
    return Engine.load(config, encoder=encoder, ranking=Ranking.untrained())


def stratified_folds(kinds: Sequence[str], folds: int, seed: int) -> list[list[int]]:
    """Folds stratified by kind, so every fold has each kind of question."""
    by_kind: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        by_kind.setdefault(kind, []).append(i)
    out: list[list[int]] = [[] for _ in range(folds)]
    rng = random.Random(seed)
    position = 0
    for kind in sorted(by_kind):
        members = by_kind[kind]
        rng.shuffle(members)
        for i in members:
            out[position % folds].append(i)
            position += 1
    return out


def group_folds(keys: Sequence[Hashable], folds: int, seed: int) -> list[list[int]]:
    """Folds of whole groups (the items with the same key), the largest groups first, each to
    the smallest fold so far."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    members = list(groups.values())
    random.Random(seed).shuffle(members)
    members.sort(key=len, reverse=True)
    out: list[list[int]] = [[] for _ in range(folds)]
    for group in members:
        min(out, key=len).extend(group)
    return out


def held_out_figures(engine: Engine, pairs: Sequence[Pair]) -> tuple[float, float, float]:
    """The model alone: the share of the answerable questions whose passage it puts first,
    and in the top three; and the ROC AUC of the closest passage's similarity for telling
    the answerable from the others."""
    scores, _ = dense_scores(engine, [q for q, *_ in pairs])
    position = {p.text: i for i, p in enumerate(engine.index.passages)}
    ranks = [
        int((row > row[position[passage]]).sum())
        for row, (_, passage, answers, _) in zip(scores, pairs, strict=True)
        if answers
    ]
    answerable = [answers for _, _, answers, _ in pairs]
    auc = float(roc_auc_score(answerable, scores.max(axis=1))) if not all(answerable) else 1.0
    return float(np.mean([r == 0 for r in ranks])), float(np.mean([r < 3 for r in ranks])), auc


def cross_validate(
    pairs: Sequence[Pair], kinds: Sequence[str], settings: TuningSettings, folds: int, scratch: Path
) -> tuple[float, float, float]:
    """Held-out figures of the model alone (`held_out_figures`), tuned without each fold;
    folds stratified by kind."""
    split = stratified_folds(kinds, folds, seed=7)
    # A folder of its own: an index's key names the shipped adapter, not this one, so an
    # index another setting's adapter built would be taken as this one's.
    scratch = Path(tempfile.mkdtemp(dir=scratch))
    held: list[int] = []
    scores: list[tuple[float, float, float]] = []
    for k, fold in enumerate(split):
        held_out = set(fold)
        adapter = scratch / f"adapter-{k}"
        tune([p for i, p in enumerate(pairs) if i not in held_out], settings, adapter)
        engine = tuned_engine(adapter, scratch / f"index-{k}", second_stage=False)
        scores.append(held_out_figures(engine, [pairs[i] for i in fold]))
        held.append(len(fold))
    weights = np.asarray(held, dtype=float)
    first, top3, auc = (float(v) for v in np.average(scores, axis=0, weights=weights))
    return first, top3, auc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--dry-run", action="store_true", help="print, do not write the adapter")
    args = parser.parse_args()
    print_header("encoder tuning")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        base = Engine.load(
            EngineConfig(model=BUNDLED_MODEL, index_dir=scratch / "index", second_stage=False)
        )
        questions = english_questions()
        found = training_pairs(base, questions)
        kept = [(p, q.kind) for p, q in zip(found, questions, strict=True) if p is not None]
        pairs, kinds = [p for p, _ in kept], [k for _, k in kept]
        first, top3, auc = held_out_figures(base, pairs)
        print(
            f"{sum(p[2] for p in pairs)} answerable questions and {sum(not p[2] for p in pairs)}"
            f" others; untuned: hit@1 {first:.3f}  hit@3 {top3:.3f}  AUC {auc:.3f}"
        )
        results = {}
        for settings in SETTINGS:
            results[settings] = cross_validate(pairs, kinds, settings, args.folds, scratch)
            first, top3, auc = results[settings]
            print(f"{settings!r} held-out: hit@1 {first:.3f}  hit@3 {top3:.3f}  AUC {auc:.3f}")
        chosen = max(SETTINGS, key=lambda s: sum(results[s]))
        print(f"chosen {chosen!r}")
        if not args.dry_run:
            tune(pairs, chosen, ADAPTER_DIR, progress=True)
            print(f"written {ADAPTER_DIR}")
    print_footer()


if __name__ == "__main__":
    main()
