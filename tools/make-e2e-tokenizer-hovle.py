"""Makes test/data/e2e-tokenizers/hovle-tiny: an InternLM2-style tokenizer folder (SentencePiece
tokenizer.model + tokenizer_config.json with added tokens, tokenizer_class InternLM2Tokenizer, no
tokenizer.json — the released HoVLE ships only the slow tokenizer) that fits the hovle-tiny and
hovle-hd-tiny fixtures: <unk>=0 <s>=1 </s>=2, no byte fallback (289 ids leave no room for 256 byte pieces), 289 SentencePiece ids, and
InternVL's added tokens at 289..299 as those fixtures' config.json/cases.json say
(<|im_end|>=289 <|im_start|>=290 <img>=291 </img>=292 <IMG_CONTEXT>=293 ...).
Run with a Python that has sentencepiece: python tools/make-e2e-tokenizer-hovle.py"""
import io
import json
from pathlib import Path
import sentencepiece as spm

OUT = Path(__file__).resolve().parent.parent / "test" / "data" / "e2e-tokenizers" / "hovle-tiny"
TEXT = """What is in the image? Describe the picture in one sentence. How many shapes are there?
A red circle and a blue square on a white background. The cat sits on the mat next to a cup of coffee.
Is there a green triangle? Yes, there is. No, there is not. What colour is the circle? It is yellow.
Tell me a story about a small robot who learns to paint. Once upon a time there was a robot named Bolt.
The quick brown fox jumps over the lazy dog. Numbers: 1 2 3 4 5 6 7 8 9 10. Thank you very much!
system user assistant"""
ADDED = ["<|im_end|>", "<|im_start|>", "<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"]

model = io.BytesIO()
spm.SentencePieceTrainer.train(
    sentence_iterator=iter([l for l in TEXT.split("\n") for _ in range(20)]), model_writer=model,
    vocab_size=289, model_type="bpe", byte_fallback=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
    character_coverage=1.0, normalization_rule_name="identity", add_dummy_prefix=False, user_defined_symbols=["\n"],
    remove_extra_whitespaces=False, split_digits=True, num_threads=1, minloglevel=2)
sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
assert sp.get_piece_size() == 289, sp.get_piece_size()
OUT.mkdir(parents=True, exist_ok=True)
(OUT / "tokenizer.model").write_bytes(model.getvalue())
added = {str(289 + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
         for i, t in enumerate(ADDED)}
for i, t in enumerate(["<unk>", "<s>", "</s>"]):
    added[str(i)] = {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
config = {"tokenizer_class": "InternLM2Tokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>",
          "add_bos_token": True, "add_eos_token": False, "clean_up_tokenization_spaces": False, "model_max_length": 32768,
          "additional_special_tokens": ADDED, "added_tokens_decoder": dict(sorted(added.items(), key=lambda kv: int(kv[0])))}
(OUT / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
(OUT / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>",
                                                         "additional_special_tokens": ADDED}, indent=2) + "\n")
print("hovle-tiny", sp.get_piece_size() + len(ADDED))
