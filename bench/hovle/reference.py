"""PyTorch side of bench/hovle: the HoVLE remote code (hustvl/mmMamba, folder hovle/) on the
benchmark's weights, timed on the prompts tsvlm ran (ids + pixel values handed over in
cases.safetensors), fp32 CPU.

The reference code is never committed: it is copied from HOVLE_REF (default /work/ref/mmMamba/hovle,
a checkout of the public repository) into the git-ignored bench folder and given the minimum
patches to import and run on transformers 5.x without a GPU (as the hovle-tiny fixture README
lists): flash_attn import made optional, a stray pdb breakpoint removed, transformers 5's
{'rope_type': 'default'} rope_scaling read as "no scaling", peft import made optional. timm (only
DropPath, identity at inference) is replaced by a stub module and torchvision hidden, because this
venv's torchvision cannot import.

Decoding as the released code does it: prepare_inputs_for_generation forces past_key_values=None,
so each new token re-runs the whole sequence (image included).

Usage: python reference.py BENCH_DIR CASES OUT_JSON [--decode N] [--threads N]"""
import importlib.machinery
import json
import os
import shutil
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import load_file

bench_dir, cases_path, out_path = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
args = dict(zip(sys.argv[4::2], sys.argv[5::2]))
DECODE = int(args.get("--decode", 4))
torch.set_num_threads(int(args.get("--threads", os.cpu_count() or 2)))

src = Path(os.environ.get("HOVLE_REF", "/work/ref/mmMamba/hovle"))
pkg_root = bench_dir / "ref"
pkg = pkg_root / "hovle"
if pkg.exists():
    shutil.rmtree(pkg)
shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__"))
(pkg / "__init__.py").write_text("")


def patch(name: str, old: str, new: str, count: int = 1) -> None:
    p = pkg / name
    s = p.read_text()
    if s.count(old) < count:
        raise SystemExit(f"reference patch target not found in {name}: {old!r}")
    p.write_text(s.replace(old, new))


patch("modeling_holistic_embedding.py", "\n_import_flash_attn()\n", "\ntry:\n    _import_flash_attn()\nexcept ImportError:\n    pass\n")
patch("modeling_holistic_embedding.py", "import pdb;pdb.set_trace()", "pass")
for f in ("modeling_holistic_embedding.py", "modeling_internlm2.py"):
    patch(f, "if self.config.rope_scaling is None:",
          "if self.config.rope_scaling is None or (self.config.rope_scaling.get('rope_type', self.config.rope_scaling.get('type')) == 'default'):")
patch("modeling_internvl_chat.py", "from peft import LoraConfig, get_peft_model", "try:\n    from peft import LoraConfig, get_peft_model\nexcept ImportError:\n    pass")

# This venv's torchvision wheel cannot import against its torch; the model never needs it, so
# transformers is told it is absent (find_spec sees None) before it probes for it.
sys.modules["torchvision"] = None
import transformers  # noqa: E402,F401  (before the timm stub: transformers probes for a real timm)

timm = types.ModuleType("timm")
timm.models = types.ModuleType("timm.models")
timm.models.layers = types.ModuleType("timm.models.layers")
for m in (timm, timm.models, timm.models.layers):
    m.__spec__ = importlib.machinery.ModuleSpec(m.__name__, None)


class DropPath(nn.Identity):
    def __init__(self, *a, **k):
        super().__init__()


timm.models.layers.DropPath = DropPath
sys.modules.update({"timm": timm, "timm.models": timm.models, "timm.models.layers": timm.models.layers})
sys.path.insert(0, str(pkg_root))

from hovle.configuration_internvl_chat import InternVLChatConfig  # noqa: E402
from hovle.modeling_internvl_chat import InternVLChatModel  # noqa: E402

cfg_json = json.loads((bench_dir / "config.json").read_text())
config = InternVLChatConfig(**cfg_json)
config.embedding_config.attn_implementation = "eager"
config.llm_config.attn_implementation = "eager"

# Build without initialising (the weights come from the file): init functions become no-ops, so
# the freshly allocated parameters are never touched before load_state_dict(assign=True) swaps in
# the memory-mapped checkpoint tensors.
t0 = time.perf_counter()
saved = {n: getattr(nn.init, n) for n in dir(nn.init) if n.endswith("_") and callable(getattr(nn.init, n))}
for n in saved:
    setattr(nn.init, n, lambda t, *a, **k: t)
try:
    model = InternVLChatModel(config)
finally:
    for n, f in saved.items():
        setattr(nn.init, n, f)
state = load_file(str(bench_dir / "model.safetensors"))
missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
missing = [k for k in missing if "inv_freq" not in k and "cached" not in k]
if missing or unexpected:
    raise SystemExit(f"weights do not match the reference model: missing {missing[:5]}, unexpected {unexpected[:5]}")
model.eval()
load_s = time.perf_counter() - t0

cases = load_file(str(cases_path))
names = sorted({k.split(".")[0] for k in cases})
results = {"load_s": load_s, "threads": torch.get_num_threads(), "torch": torch.__version__, "cases": {}}
with torch.inference_mode():
    for name in names:
        ids = cases[f"{name}.input_ids"].unsqueeze(0)
        pv = cases[f"{name}.pixel_values"]
        model.img_context_token_id = int(cases[f"{name}.img_context_token_id"])
        steps, tokens, first_logits = [], [], None
        for k in range(DECODE):
            t = time.perf_counter()
            mask = torch.ones_like(ids)
            inputs = model.prepare_inputs_for_generation(ids, attention_mask=mask, pixel_values=pv, hd_input_ids=ids, hd_attention_mask=mask)
            out = model(**inputs)
            logits = out.logits[0, -1]
            steps.append(time.perf_counter() - t)
            if first_logits is None:
                first_logits = logits.clone()
            tok = int(torch.argmax(logits))
            tokens.append(tok)
            ids = torch.cat([ids, torch.tensor([[tok]])], dim=1)
        want = cases[f"{name}.first_logits"]
        results["cases"][name] = {
            "ttft_s": steps[0], "step_s": steps[1:], "tokens": tokens,
            "first_logits_max_abs_diff": float((first_logits - want).abs().max()),
            "prompt_tokens": int(cases[f"{name}.input_ids"].numel()),
        }
        print(f"reference {name}: TTFT {steps[0]:.2f} s, {len(steps) - 1} re-run steps {sum(steps[1:]):.2f} s", flush=True)
out_path.write_text(json.dumps(results, indent=1))
