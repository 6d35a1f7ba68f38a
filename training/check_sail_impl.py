"""Checks that training/sail_model.py reproduces the sail-tiny fixture (the reference SAIL code's
outputs): positions, prefix mask and patchify from our helpers, vis_embed, hidden states, full
logits, prefix-cache text logits, and cached greedy decoding. Exits 1 on any mismatch.

Usage: /work/venv/bin/python training/check_sail_impl.py [--fixture DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sail_model import SailConfig, SailForCausalLM, patchify, prefix_mask, prefix_positions  # noqa: E402

TOL = 1e-4  # max abs difference allowed on float outputs (the brief's bound)
failures: list[str] = []


def check(name: str, got: torch.Tensor, want: torch.Tensor, tol: float = TOL) -> None:
    err = (got.double() - want.double()).abs().max().item() if want.numel() else 0.0
    ok = got.shape == want.shape and err <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name:38s} shape={list(want.shape)} max_abs_err={err:.3g} (tol {tol:g})")
    if not ok:
        failures.append(name)


def check_equal(name: str, got, want) -> None:
    ok = list(got) == list(want)
    print(f"{'ok  ' if ok else 'FAIL'} {name:38s} {'equal' if ok else f'got {list(got)} want {list(want)}'}")
    if not ok:
        failures.append(name)


def additive(mask01: torch.Tensor) -> torch.Tensor:
    return torch.zeros(mask01.shape).masked_fill(mask01 == 0, float("-inf"))


@torch.no_grad()
def greedy(model, ids, pos, mask, patches, pidx, steps):
    """Prefix forward with cache, then one token at a time at max(position)+1 on all axes."""
    logits, past = model(ids, pos, mask, patches, pidx)
    nxt_pos = pos.max().item() + 1
    out, step_logits = [], []
    last = logits[0, -1]
    for _ in range(steps):
        tok = int(last.argmax())
        out.append(tok)
        step_logits.append(last)
        p = torch.full((3, 1, 1), nxt_pos, dtype=torch.long)
        nxt_pos += 1
        m = torch.zeros(1, 1, 1, past[0][0].shape[2] + 1)
        logits, past = model(torch.tensor([[tok]]), p, m, past=past)
        last = logits[0, -1]
    return out, torch.stack(step_logits)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default="/work/shared/fixtures/sail-tiny")
    args = ap.parse_args()
    fx = Path(args.fixture)
    cfg_json = json.loads((fx / "config.json").read_text())
    cases = json.loads((fx / "cases.json").read_text())
    t = load_file(str(fx / "cases.safetensors"))
    cfg = SailConfig.from_dict(cfg_json)
    model = SailForCausalLM(cfg)
    model.load_state_dict(load_file(str(fx / "model.safetensors")), strict=True)
    model.eval()
    print(f"loaded {fx.name}: {sum(p.numel() for p in model.parameters())} params, strict names ok")

    for case in cases["cases"]:
        n, facts = case["name"], case["facts"]
        ids = t[f"{n}.input_ids"]
        pos = t[f"{n}.position_ids"]
        L = ids.shape[1]
        pidx = t[f"{n}.vision_patch_indices"]
        patches = t.get(f"{n}.vision_patches")
        if patches is not None:
            nh, nw, P = facts["nh"], facts["nw"], facts["prefix_len"]
            check_equal(f"{n}.position_ids (ours)", prefix_positions(nh, nw, L).reshape(-1), pos.reshape(-1).tolist())
            mask01 = t[f"{n}.attention_mask_4d"]
            check(f"{n}.attention_mask (ours)", (prefix_mask(P, L) == 0).long(), mask01, 0)
            img = Image.open(fx.parent / "images" / f"{facts['image']}.png").convert("RGB")
            img = img.resize(tuple(facts["resized_wh"]), Image.BILINEAR)
            check(f"{n}.vision_patches (ours)", torch.from_numpy(patchify(np.asarray(img), cfg.vision_patch_size)), patches, 1e-6)
            mask = additive(mask01)
        else:
            mask = prefix_mask(0, L)  # text only: causal
        with torch.no_grad():
            logits, past, hidden = model(ids, pos, mask, patches, pidx, return_hidden=True)
        check(f"{n}.logits", logits, t[f"{n}.logits"])
        for i, h in enumerate(hidden):
            if f"{n}.hidden.layer.{i}" in t:
                check(f"{n}.hidden.layer.{i}", h, t[f"{n}.hidden.layer.{i}"])
        if f"{n}.hidden.vis_embed" in t:
            check(f"{n}.hidden.vis_embed", model.model.vis_embed(patches), t[f"{n}.hidden.vis_embed"])
        if f"{n}.text_logits_prefix_cache" in t:
            with torch.no_grad():
                P = facts["prefix_len"]
                _, cache = model(ids[:, :P], pos[:, :, :P], mask[:, :, :P, :P], patches, pidx[:, :P])
                tl, _ = model(ids[:, P:], pos[:, :, P:], mask[:, :, P:, :], None, None, past=cache)
            check(f"{n}.text_logits_prefix_cache", tl, t[f"{n}.text_logits_prefix_cache"])
        want_ids = t[f"{n}.generated_ids"].tolist()
        got_ids, step_logits = greedy(model, ids, pos, mask, patches, pidx, len(want_ids))
        check_equal(f"{n}.generated_ids", got_ids, want_ids)
        sl = t[f"{n}.step_logits"]
        check(f"{n}.step_logits", step_logits[: sl.shape[0]], sl)

    print("RESULT:", "all checks passed" if not failures else f"{len(failures)} failed: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
