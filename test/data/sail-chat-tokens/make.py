"""Writes cases.json: multi-turn conversations about scenes with the token ids that
training/train_sail.py trains on (TextCodec.conversation, the exact training code path), so
test/unit/sail-chat-tokens.test.ts can check that tsvlm's own prompt building (sailPromptText +
the model's tokenizer) gives the same ids at every turn.

Conversations: 150 training rows as scene_rows(multiturn=1) draws them (train scenes 0..149), and
100 held-out conversations in conversationOrder with answers a model could give: the right one,
another question's answer, an empty answer, or a run-on ("cross no"), so ids match for any answer
text kept in the history.

Usage (from the project root): /work/venv/bin/python test/data/sail-chat-tokens/make.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "training"))
from scenes_data import EVAL_SEED_BASE, make_dataset  # noqa: E402
from train_sail import BOS, TextCodec, scene_rows  # noqa: E402


def main() -> None:
    codec = TextCodec(Tokenizer.from_file(str(ROOT / "models/sail-scenes/tokenizer.json")))
    rng = np.random.default_rng(17)
    _, train = make_dataset("/tmp/tsvlm-scenes/chat-tokens-train-150", 0, 150)
    _, held = make_dataset("/tmp/tsvlm-scenes/chat-tokens-eval-100", EVAL_SEED_BASE, 100)
    convs = [scene_rows(s, 7, rng, True, 1.0)[0] for s in train]
    answers = sorted({qa["answer"] for s in held for qa in s["qa"]})
    for s in held:
        turns = []
        for j in s["order"]:
            qa = s["qa"][j]
            kind = rng.integers(4)
            a = qa["answer"] if kind == 0 else answers[int(rng.integers(len(answers)))] if kind == 1 else "" if kind == 2 else f"{qa['answer']} no"
            turns.append((qa["question"], a))
        convs.append(turns)
    cases = []
    for turns in convs:
        ids, spans = codec.conversation(turns)
        cases.append({"turns": [list(t) for t in turns], "ids": [BOS] + ids,
                      # turn k's prompt = ids[:prompt_lens[k]] (with BOS); its answer + </s> follow up to answer_ends[k]
                      "prompt_lens": [1 + st for st, _ in spans], "answer_ends": [1 + en for _, en in spans]})
    out = Path(__file__).with_name("cases.json")
    out.write_text(json.dumps({"tokenizer": "models/sail-scenes/tokenizer.json", "cases": cases}, separators=(",", ":")) + "\n")
    print(f"wrote {out}: {len(cases)} conversations, {sum(len(c['turns']) for c in cases)} turns, {sum(len(c['ids']) for c in cases)} ids")


if __name__ == "__main__":
    main()
