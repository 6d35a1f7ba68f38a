"""Builds the tokenizer files of the built-in models from the scenes text.

- SAIL (LLaMA/Mistral style): BPE with Metaspace "▁", <unk>=0 <s>=1 </s>=2, vocabulary trained
  on prompts/answers of scenes, SAIL's vision tokens appended at the top as added special tokens.
- SigLIP: Unigram with Metaspace, <pad>=0 </s>=1 <unk>=2 (the real SigLIP layout), "</s>"
  appended by the post-processor, padded with </s> to model_max_length (= the text tower's
  max_position_embeddings), lowercased like SigLIP's tokenizer.

Usage (writes tokenizer.json, tokenizer_config.json, special_tokens_map.json):
  python training/build_tokenizers.py --dataset /tmp/ds/t.json --sail-out DIR --siglip-out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import string
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

VISION_TOKENS = ["<vision>", "<vpatch>", "<vrow_sep>", "<vframe_sep>", "</vision>", "<|vis_cls|>"]
SAIL_VOCAB = 250  # BPE target before the vision tokens (the scenes text needs far fewer merges)
SIGLIP_VOCAB = 160
SIGLIP_MAX_LEN = 32


def sail_prompt(question: str) -> str:
    """The text part of SAIL's prompt (after BOS), exactly as tsvlm's prompt builder writes it."""
    return f"[INST] {question} [/INST]"


def sail_texts(scenes: list[dict]) -> list[str]:
    return [f"{sail_prompt(q['question'])} {q['answer']}" for s in scenes for q in s["qa"]]


def siglip_texts(scenes: list[dict]) -> list[str]:
    return [f"a photo of {s['caption']}" for s in scenes]


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def build_sail(texts: list[str], out: Path) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    alphabet = list(string.ascii_letters + string.digits + string.punctuation)
    trainer = trainers.BpeTrainer(vocab_size=SAIL_VOCAB, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in VISION_TOKENS])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in ["<unk>", "<s>", "</s>", *VISION_TOKENS]}
    assert ids["<unk>"] == 0 and ids["<s>"] == 1 and ids["</s>"] == 2, ids
    assert [ids[t] for t in VISION_TOKENS] == list(range(tok.get_vocab_size() - 6, tok.get_vocab_size())), ids
    added = {str(ids[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": True} for t in ids}
    write_json(out / "tokenizer_config.json", {
        "add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added,
        "additional_special_tokens": VISION_TOKENS, "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": None, "clean_up_tokenization_spaces": False,
        "legacy": False, "model_max_length": 4096, "padding_side": "right",
        "tokenizer_class": "LlamaTokenizerFast",
    })
    write_json(out / "special_tokens_map.json", {
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "additional_special_tokens": VISION_TOKENS,
    })
    # The answer must continue the prompt's tokens (training relies on this split).
    for t in texts[:2000]:
        q, a = t.split(" [/INST] ")
        p = tok.encode(q + " [/INST]", add_special_tokens=False).ids
        assert tok.encode(t, add_special_tokens=False).ids[: len(p)] == p, t
        assert tok.decode(tok.encode(t, add_special_tokens=False).ids) == t, t
    return tok


def build_siglip(texts: list[str], out: Path) -> Tokenizer:
    # A Unigram model built from word counts: the trainer's EM pruning degenerates to single
    # characters on such a small, repetitive corpus. Whole words get log-frequency scores;
    # characters stay in as a much less likely fallback (so any text encodes without <unk>).
    counts: dict[str, int] = {}
    for t in texts:
        for w in t.lower().replace(",", " ,").replace(".", " .").split():
            counts["▁" + w] = counts.get("▁" + w, 0) + 1
    total = sum(counts.values())
    words = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: SIGLIP_VOCAB - 3 - 70]
    chars = ["▁"] + list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(w, math.log(c / total)) for w, c in words]
    vocab += [(c, -20.0) for c in chars if c not in dict(vocab)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<pad>", "</s>", "<unk>"]])
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    longest = max(len(e.ids) + 1 for e in tok.encode_batch(texts))  # + </s>
    assert longest <= SIGLIP_MAX_LEN, f"a caption needs {longest} tokens > {SIGLIP_MAX_LEN}"
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    tok.enable_truncation(max_length=SIGLIP_MAX_LEN)
    tok.enable_padding(length=SIGLIP_MAX_LEN, pad_id=1, pad_token="</s>")
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in ["<pad>", "</s>", "<unk>"]}
    assert ids == {"<pad>": 0, "</s>": 1, "<unk>": 2}, ids
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for t, i in ids.items()}
    write_json(out / "tokenizer_config.json", {
        "added_tokens_decoder": added, "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>",
        "model_max_length": SIGLIP_MAX_LEN, "do_lower_case": True, "padding_side": "right",
        "clean_up_tokenization_spaces": False, "tokenizer_class": "PreTrainedTokenizerFast",
        "model_input_names": ["input_ids"],
    })
    write_json(out / "special_tokens_map.json", {"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"})
    return tok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, help="a make_dataset.mjs JSON (train seeds)")
    ap.add_argument("--sail-out", required=True)
    ap.add_argument("--siglip-out", required=True)
    args = ap.parse_args()
    scenes = json.loads(Path(args.dataset).read_text())["scenes"]
    s = build_sail(sail_texts(scenes), Path(args.sail_out))
    g = build_siglip(siglip_texts(scenes), Path(args.siglip_out))
    print(f"sail tokenizer: {s.get_vocab_size()} tokens; siglip tokenizer: {g.get_vocab_size()} tokens")
    g.no_padding()
    print("siglip longest caption:", max(len(e.ids) for e in g.encode_batch(siglip_texts(scenes))), "tokens with </s>")
    ex = sail_texts(scenes[:1])[0]
    print(ex, "->", s.encode(ex, add_special_tokens=False).tokens)
    ex = siglip_texts(scenes[:1])[0]
    print(ex, "->", g.encode(ex).tokens)


if __name__ == "__main__":
    main()
