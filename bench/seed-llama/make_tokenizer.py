"""Tokenizer for bench/seed-llama's random 1B-shaped LLaMA, in SEED-LLaMA's real id layout:
ids 0..31999 text (a small LLaMA-style BPE trained here, padded with unused <pad_NNNNN> entries to
32000 so the layout is the real one), <img_00000>..<img_08191> = 32000..40191 (code c = 32000 + c),
<img> = 40192, </img> = 40193: 40194 ids, as the model's vocab.
  python bench/seed-llama/make_tokenizer.py OUT_DIR      (needs `tokenizers`)"""
import json, sys
from pathlib import Path
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors, trainers

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
TEXT = """USER: ASSISTANT: What is in this image? Describe the picture in one sentence.
A cat sits on a chair next to a cup of coffee. Draw a red bus on a bridge, make it blue.
The quick brown fox jumps over the lazy dog. Numbers: 1 2 3 4 5 6 7 8 9 10. Thank you!"""
tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
tok.train_from_iterator([l for l in TEXT.split("\n") for _ in range(20)],
                        trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False, max_token_length=8))
tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
# Pad the BPE vocabulary to 32000 text ids (never produced by the merges).
j = json.loads(tok.to_str())
vocab = j["model"]["vocab"]
n = len(vocab)
for i in range(n, 32000):
    vocab[f"<pad_{i:05d}>"] = i
tok = Tokenizer.from_str(json.dumps(j))
assert tok.get_vocab_size() == 32000, tok.get_vocab_size()
img = [f"<img_{c:05d}>" for c in range(8192)] + ["<img>", "</img>"]
tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in img])
assert tok.token_to_id("<img_00000>") == 32000 and tok.token_to_id("<img_08191>") == 40191
assert tok.token_to_id("<img>") == 40192 and tok.token_to_id("</img>") == 40193
tok.save(str(out / "tokenizer.json"))
(out / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                                                       "add_eos_token": False, "model_max_length": 2048, "tokenizer_class": "LlamaTokenizerFast"}, indent=2))
(out / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}))
print(json.dumps({"vocab": tok.get_vocab_size()}))
