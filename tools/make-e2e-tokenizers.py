"""Makes small real tokenizer.json folders that fit the fixture checkpoints' vocabularies, so the
CLI and server can be tested end to end on ../shared/fixtures models (which ship no tokenizer):
- sail-tiny: LLaMA-style BPE (Metaspace), <unk>=0 <s>=1 </s>=2, ids 3..119 trained, SAIL's vision
  tokens at 120..125 (as sail-tiny's config.json says), vocab 128.
- llama-tiny: LLaMA-style BPE with byte fallback, 512 ids, with a Llama-2 chat template.
Run with a Python that has `tokenizers`: python tools/make-e2e-tokenizers.py"""
import json
from pathlib import Path
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers, normalizers

OUT = Path(__file__).resolve().parent.parent / "test" / "data" / "e2e-tokenizers"
TEXT = """What is in the image? Describe the picture in one sentence. How many shapes are there?
A red circle and a blue square on a white background. The cat sits on the mat next to a cup of coffee.
Is there a green triangle? Yes, there is. No, there is not. What colour is the circle? It is yellow.
Tell me a story about a small robot who learns to paint. Once upon a time there was a robot named Bolt.
The quick brown fox jumps over the lazy dog. Numbers: 1 2 3 4 5 6 7 8 9 10. Thank you very much!"""
VISION = ["<vision>", "<vpatch>", "<vrow_sep>", "<vframe_sep>", "</vision>", "<|vis_cls|>"]
LLAMA2_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                   "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
                   "{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}")


def bpe(vocab: int, byte_fallback: bool, extra: str = "") -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=byte_fallback))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"] + ([f"<0x{i:02X}>" for i in range(256)] if byte_fallback else [])
    lines = [l for l in (TEXT + extra).split("\n") for _ in range(20)]
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False, max_token_length=8))
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok


def save(tok: Tokenizer, name: str, config: dict) -> None:
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    tok.save(str(d / "tokenizer.json"))
    (d / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (d / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, indent=2) + "\n")
    print(name, tok.get_vocab_size())


sail = bpe(120, False)
assert sail.get_vocab_size() == 120, sail.get_vocab_size()
sail.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in VISION])
assert [sail.token_to_id(t) for t in VISION] == list(range(120, 126))
save(sail, "sail-tiny", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                         "model_max_length": 4096, "tokenizer_class": "LlamaTokenizerFast"})

llama = bpe(512, True)
assert llama.get_vocab_size() <= 512
save(llama, "llama-tiny", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                           "model_max_length": 128, "tokenizer_class": "LlamaTokenizerFast", "chat_template": LLAMA2_TEMPLATE})

# siglip-tiny (vocab 256, 16 positions, pad = eos = 1): a SigLIP-layout Unigram, </s> appended.
uni = Tokenizer(models.Unigram())
uni.normalizer = normalizers.Sequence([normalizers.Lowercase(), normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
uni.decoder = decoders.Metaspace()
lines = [l for l in TEXT.lower().split("\n") for _ in range(20)]
uni.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=250, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False))
uni.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
assert uni.get_vocab_size() <= 256 and uni.token_to_id("</s>") == 1
d = OUT / "siglip-tiny"
d.mkdir(parents=True, exist_ok=True)
uni.save(str(d / "tokenizer.json"))
(d / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>", "model_max_length": 16}, indent=2) + "\n")
print("siglip-tiny", uni.get_vocab_size())

# seed-llama-tiny (vocab 166): LLaMA-style BPE on ids 0..99, then SEED's image tokens as the fixture
# lays them out: <img_00000>..<img_00063> = 100..163 (code c = 100 + c), <img> = 164, </img> = 165.
seed = bpe(100, False, "\nUSER: ASSISTANT: [INST] [/INST] Draw a cat, make it blue. What is this?")
assert seed.get_vocab_size() == 100, seed.get_vocab_size()
seed_img = [f"<img_{c:05d}>" for c in range(64)] + ["<img>", "</img>"]
seed.add_tokens([AddedToken(t, special=False, normalized=False) for t in seed_img])
assert [seed.token_to_id(t) for t in seed_img] == list(range(100, 166))
save(seed, "seed-llama-tiny", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                               "model_max_length": 2048, "tokenizer_class": "LlamaTokenizerFast"})
