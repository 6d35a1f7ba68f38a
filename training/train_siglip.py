"""Trains the built-in SigLIP-architecture dual encoder on the scenes world and exports it with
transformers' own save_pretrained (the reference class, so the checkpoint format is exact).

Data: image/text pairs "a photo of {caption}" from single-shape scenes (whose caption is
"a {colour} {shape}", i.e. exactly the zero-shot labels) and from 1–4-shape scenes.
Loss: SigLIP's sigmoid loss, with every pair whose texts are equal counted as positive (the
same label appears many times per batch).
Metric: zero-shot accuracy on held-out single-shape scenes over the 20 labels
"a photo of a {colour} {shape}" (argmax of the logits).

Usage: python training/train_siglip.py --out models/siglip-scenes --device cuda
CPU (2 cores): add --device cpu --steps 1500 --batch 128
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import SiglipConfig, SiglipModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes_data import EVAL_SEED_BASE, make_dataset  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "purple"]  # as in scenes.mjs
SHAPES = ["circle", "square", "triangle", "cross"]
LABELS = [f"a photo of a {c} {s}" for c in COLOURS for s in SHAPES]


def pixel_values(images_u8: np.ndarray) -> torch.Tensor:
    """SiglipImageProcessor on 64×64 inputs (the resize to 64×64 is the identity):
    float32(u8 / 255 in float64), then (x - 0.5) / 0.5; [B, 3, H, W]."""
    x = (images_u8.astype(np.float64) / 255.0).astype(np.float32)
    x = (x - np.float32(0.5)) / np.float32(0.5)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


class TextIds:
    def __init__(self, tok: Tokenizer):
        self.tok = tok  # tokenizer.json pads/truncates to model_max_length itself
        self.cache: dict[str, list[int]] = {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        for t in texts:
            if t not in self.cache:
                self.cache[t] = self.tok.encode(t).ids
        return torch.tensor([self.cache[t] for t in texts])


def make_config(args, vocab_size: int) -> SiglipConfig:
    return SiglipConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=args.hidden, intermediate_size=args.ffn,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         max_position_embeddings=args.text_len, pad_token_id=1, eos_token_id=1, bos_token_id=None,
                         projection_size=args.hidden, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
        vision_config=dict(image_size=64, patch_size=args.patch, num_channels=3, hidden_size=args.hidden,
                           intermediate_size=args.ffn, num_hidden_layers=args.layers, num_attention_heads=args.heads,
                           hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
    )


@torch.no_grad()
def zero_shot(model, text_ids, images, scenes, device, keep_first=0):
    model.eval()
    t = F.normalize(model.text_model(input_ids=text_ids(LABELS).to(device)).pooler_output, dim=-1)
    correct, preds = 0, []
    for s in range(0, len(scenes), 512):
        v = F.normalize(model.vision_model(pixel_values=pixel_values(images[s: s + 512]).to(device)).pooler_output, dim=-1)
        logits = v @ t.T * model.logit_scale.exp() + model.logit_bias
        best = logits.argmax(-1).tolist()
        for k, b in enumerate(best):
            want = f"a photo of {scenes[s + k]['caption']}"
            correct += LABELS[b] == want
            if s + k < keep_first:
                preds.append({"seed": scenes[s + k]["seed"], "label": want, "pytorch": LABELS[b],
                              "top_logit": round(float(logits[k, b]), 5)})
    model.train()
    return correct / len(scenes), preds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="model folder holding the tokenizer files")
    ap.add_argument("--data-dir", default="/tmp/tsvlm-scenes")
    ap.add_argument("--single-scenes", type=int, default=100_000)
    ap.add_argument("--multi-scenes", type=int, default=200_000, help="reuses the SAIL training scenes")
    ap.add_argument("--eval-scenes", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--single-fraction", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--text-len", type=int, default=32)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=float("inf"), help="safety stop: end training early (recorded in metrics.json)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    device = torch.device(args.device)
    out = Path(args.out)
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    tok_cfg = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_cfg["model_max_length"] == args.text_len, "tokenizer model_max_length must equal --text-len"
    text_ids = TextIds(tok)
    model = SiglipModel(make_config(args, tok.get_vocab_size())).to(device)
    with torch.no_grad():  # SigLIP paper's init for the sigmoid loss: t' = log 10, b = -10
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"SigLIP model: {n_params:,} params ({n_params * 4 / 2**20:.2f} MiB fp32)", flush=True)

    data = Path(args.data_dir)
    t0 = time.time()
    # Single-shape training scenes use seeds [0, N) with shapes=1: different pictures from the
    # multi-shape scenes with the same seeds (the shape count changes the random stream).
    s_img, s_sc = make_dataset(data / f"train1-{args.single_scenes}", 0, args.single_scenes, shapes=1, jobs=args.jobs)
    m_img, m_sc = make_dataset(data / f"train-{args.multi_scenes}", 0, args.multi_scenes, jobs=args.jobs)
    e_img, e_sc = make_dataset(data / f"eval1-{args.eval_scenes}", EVAL_SEED_BASE, args.eval_scenes, shapes=1, jobs=args.jobs)
    print(f"data: {len(s_sc)} single + {len(m_sc)} multi train scenes, {len(e_sc)} held-out single ({time.time() - t0:.0f}s)", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "position" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "position" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    rng = np.random.default_rng(args.seed)
    n_single = int(args.batch * args.single_fraction)
    t0, ema = time.time(), None
    for step in range(1, args.steps + 1):
        si = np.sort(rng.choice(len(s_sc), n_single, replace=False))
        mi = np.sort(rng.choice(len(m_sc), args.batch - n_single, replace=False))
        imgs = np.concatenate([s_img[si], m_img[mi]])
        texts = [f"a photo of {s_sc[i]['caption']}" for i in si] + [f"a photo of {m_sc[i]['caption']}" for i in mi]
        v = F.normalize(model.vision_model(pixel_values=pixel_values(imgs).to(device)).pooler_output, dim=-1)
        t = F.normalize(model.text_model(input_ids=text_ids(texts).to(device)).pooler_output, dim=-1)
        logits = v @ t.T * model.logit_scale.exp() + model.logit_bias
        same = np.array(texts, dtype=object)
        z = torch.from_numpy((same[:, None] == same[None, :]).astype(np.float32) * 2 - 1).to(device)
        loss = -F.logsigmoid(z * logits).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        steps_done = step
        if time.time() - t0 > args.max_seconds:
            print(f"stopping early at step {step}: --max-seconds {args.max_seconds} reached", flush=True)
            break
        if step % args.log_every == 0:
            print(f"step {step} loss {ema:.4f} scale {model.logit_scale.exp().item():.1f} bias {model.logit_bias.item():.2f} {time.time() - t0:.0f}s", flush=True)
        if step % args.eval_every == 0 and step < args.steps:
            acc, _ = zero_shot(model, text_ids, e_img[:500], e_sc[:500], device)
            print(f"  zero-shot(500) {acc:.4f}", flush=True)
    train_s = time.time() - t0

    acc, preds = zero_shot(model, text_ids, e_img, e_sc, device, keep_first=50)
    print(f"FINAL zero-shot accuracy on {len(e_sc)} held-out single-shape scenes over {len(LABELS)} labels: {acc:.4f}")

    model.cpu().float()
    model.save_pretrained(str(out), safe_serialization=True)
    cfg = json.loads((out / "config.json").read_text())
    cfg.setdefault("torch_dtype", "float32")  # legacy key, as real checkpoints carry it
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5], "image_processor_type": "SiglipImageProcessor", "processor_class": "SiglipProcessor",
        "resample": 3, "rescale_factor": 1 / 255, "size": {"height": 64, "width": 64}}, indent=2) + "\n")
    metrics = {
        "model": "siglip-scenes",
        "eval": {"seed_start": EVAL_SEED_BASE, "shapes": 1, "scenes": len(e_sc), "labels": LABELS,
                 "metric": "argmax over the labels' logits equals the scene's label", "zero_shot_accuracy": acc},
        "train": {"single_scenes": len(s_sc), "multi_scenes": len(m_sc), "seed_range": [0, max(len(s_sc), len(m_sc))],
                  "steps": args.steps, "steps_done": steps_done, "batch": args.batch, "single_fraction": args.single_fraction, "lr": args.lr,
                  "seed": args.seed, "device": str(device), "torch": torch.__version__, "seconds": round(train_s),
                  "final_loss_ema": ema},
        "params": n_params,
        "pytorch_predictions_first_50_eval_scenes": preds,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(f"wrote {out}/model.safetensors config.json preprocessor_config.json metrics.json")


if __name__ == "__main__":
    main()
