"""Writes the model cards models/sail-scenes/README.md and models/siglip-scenes/README.md from each
folder's config.json and metrics.json (so the numbers in a card are always the recorded ones).

Usage: python training/write_model_cards.py [--models models]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SEEDS = """- Scenes: `training/scenes.mjs` (one deterministic JS generator, also used by the evaluation).
  64×64 RGB, 1–4 non-overlapping shapes (circle, square, triangle, cross) in 5 colours (red, green,
  blue, yellow, purple), radius 7–12 px, colour jitter ±15, light tinted background, plain or with
  uniform noise up to ±12, 4×4 supersampled anti-aliasing.
- Seeds: training scenes use seeds `[0, N)` (N below), all < 1,000,000,000; held-out scenes use
  `1,000,000,000 + k`. The two ranges never meet."""


def fmt(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def size_mib(d: Path) -> str:
    f = d / "model.safetensors"
    return f"{f.stat().st_size / 2**20:.2f} MiB" if f.exists() else "(not trained yet)"


def sail_run_lines(t: dict, explain: bool = True) -> list[str]:
    """One training run of train_sail.py, from its metrics.json record."""
    K = t.get("patch_only_steps", 0)
    qs = (f"caption plus {t['extra_questions']} questions of distinct random types from every question the scene allows"
          + (" (presence yes and no, left/right and top/bottom as separate types)" if t.get("dense_questions") else "")
          if t.get("extra_questions", -1) >= 0 else "the scene's questions (one per type)")
    lines = [f"- {t['scenes']:,} training scenes (seeds 0..{t['scenes'] - 1}); per scene and text step its {qs}."]
    if t.get("multiturn"):
        lines.append(f"- Multi-turn: with chance {t['multiturn']} per scene and step those questions, shuffled, the first 2..all of them"
                     " form one conversation (answers in the history exactly as tsvlm formats them, loss on every answer and its"
                     " `</s>`); the rest stay single-turn rows.")
    if K > 0:
        lines += [
            f"- {t.get('steps_done', t['steps'])} of {t['steps']} planned steps in two stages: {K} image-only steps × {t['scenes_per_step']} scenes"
            f" with the patch loss alone (lr {t['lr']}, warmup {t['warmup']}, cosine), then {t['steps'] - K} steps ×"
            f" {t.get('text_scenes_per_step')} scenes with answers + patch loss (lr {t.get('text_lr')}, warmup {t.get('text_warmup')}, cosine).",
        ]
    else:
        lines.append(f"- {t.get('steps_done', t['steps'])} of {t['steps']} planned steps × {t['scenes_per_step']} scenes, lr {t['lr']} (warmup {t['warmup']}, cosine).")
    lines.append(f"- AdamW, weight decay {t['weight_decay']}, seed {t['seed']}, device {t['device']}, torch {t['torch']}, {t['seconds']} s;"
                 f" final answer loss (EMA) {t['final_loss_ema']:.4f}.")
    pl = t.get("patch_loss")
    if pl and (pl.get("weight", 0) > 0 or K > 0):
        lines += [] if not explain else [
            "- Per-patch word loss (training only, `training/patch_targets.py`): at every `<vpatch>` the model's own",
            f"  `model.norm` + `lm_head`, applied to layer output {pl['layer']} (the input of the last layer, which the",
            "  answer tokens attend to), predicts the words of the object under the patch (its shape and colour; at the",
            "  object's centre patch also `one` and its sides; background `zero`); weight "
            f"{pl['weight']}. Nothing reads these logits at inference: the checkpoint is a plain SAIL model.",
        ]
        if pl.get("sides") == "all":
            lines.append("- Patch loss with `--patch-sides all`: every patch of an object also names the object's sides"
                         " (left/right, top/bottom), not only its centre patch.")
        ro = pl.get("readout_200_eval_scenes") or {}
        if ro:
            lines.append(f"- Patch read-out at the end on 200 held-out scenes: shape {fmt(ro.get('shape'))}, colour {fmt(ro.get('colour'))},"
                         f" background {fmt(ro.get('background'))} of patches.")
    lines.append(f"- Command: `{t['command']}`." if t.get("command") else "- Command: see `training/README.md`.")
    return lines


def sail_card(d: Path) -> str:
    cfg = json.loads((d / "config.json").read_text()) if (d / "config.json").exists() else {}
    m = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() else None
    lines = [
        "# sail-scenes — a tiny SAIL-architecture VLM trained on the scenes world",
        "",
        "A single-transformer vision-language model with SAIL's architecture (Mistral decoder, raw",
        "8×8-pixel patches through `model.vis_embed` added to `<vpatch>` embeddings, bidirectional",
        "image prefix, 3-axis M-RoPE), trained from scratch by tsvlm on synthetic shape scenes. It is",
        "stored exactly like a real SAIL checkpoint (`config.json` with `model_type: mistral`,",
        "`architectures: [SailForCausalLM]`, `vision_patch_size`; real tensor names; LLaMA-style",
        "`tokenizer.json` with SAIL's vision tokens on top) and loads through the same code.",
        "It only knows this toy world: anything else gets a confident guess in scenes vocabulary.",
        "",
        "## Model",
        "",
        f"- Dims: hidden {cfg.get('hidden_size')}, {cfg.get('num_hidden_layers')} layers, {cfg.get('num_attention_heads')} heads "
        f"(head_dim {cfg.get('hidden_size', 0) // max(1, cfg.get('num_attention_heads', 1))}), {cfg.get('num_key_value_heads')} kv heads, ffn {cfg.get('intermediate_size')}, "
        f"vocab {cfg.get('vocab_size')}, patch {cfg.get('vision_patch_size')}; float32, {size_mib(d)}"
        + (f", {m['params']:,} parameters." if m else "."),
        f"- `rope_theta` {cfg.get('rope_theta')}: SAIL's M-RoPE gives the image's W axis the slower half of the",
        "  rotary frequencies; at theta 10000 the 8 columns of a 64×64 image differ by < 0.01 rad there",
        "  and the model cannot tell left from right (measured: left/right 38%, top/bottom 96%)"
        + (" — this checkpoint has that limit." if cfg.get("rope_theta", 10000) >= 1000 else "; a small theta keeps both axes visible."),
        "- Implementation: `training/sail_model.py` (our own PyTorch code, checked against the reference",
        "  SAIL outputs of the sail-tiny fixture by `training/check_sail_impl.py`: logits within 5e-6).",
        "",
        "## Prompt",
        "",
        "`<vision>` `<vpatch>`×64 `</vision>` `<s>` `[INST] {question} [/INST]` → answer `</s>`.",
        "Follow-up questions continue the text as tsvlm writes a conversation:",
        "`[INST] {q1} [/INST] {a1}</s>[INST] {q2} [/INST]` → answer `</s>` (the history holds the model's own answers).",
        "`preprocessor_config.json` records the training resolution (`max_patches` 64: 64×64 pixels);",
        "tsvlm downsizes larger images to it with SAIL's size rule (override: `--max-image-pixels`).",
        "Questions the model was trained on (one template each):",
        "",
        "| type | question | answers |",
        "| --- | --- | --- |",
        "| colour | What colour is the {shape}? (only one of that shape) | red, green, blue, yellow, purple |",
        "| shape | What shape is the {colour} object? (only one of that colour) | circle, square, triangle, cross |",
        "| count | How many shapes are there? / How many {shape}s are there? | zero … four |",
        "| presence | Is there a {colour} {shape}? | yes, no |",
        "| position | Is the {colour} {shape} on the left or the right? / at the top or the bottom? | left, right, top, bottom |",
        "| describe | Describe the image. | e.g. \"two red circles and a blue square\" (groups ordered by shape, then colour) |",
        "",
        "## Data and seeds",
        "",
        SEEDS,
        "",
    ]
    if m:
        t, e = m["train"], m["eval"]
        runs = []  # oldest first: a run continued with --init records the earlier run's record
        r = t
        while r:
            runs.insert(0, r)
            r = r.get("init_train")
        lines += ["## Training", ""]
        if len(runs) > 1:
            lines += [f"{len(runs)} runs of `training/train_sail.py`, each continuing from the previous one's weights (`--init`).", ""]
        for k, r in enumerate(runs):
            if len(runs) > 1:
                lines += [f"Run {k + 1}:", ""]
            lines += sail_run_lines(r, explain=k == 0) + [""]
        lines += [
            "Each scene's image prefix is computed once per step and its KV cache shared by its questions",
            "(same math as one full pass); the answer loss is on the answer tokens and `</s>` only.",
            "",
            "## Held-out accuracy (PyTorch, greedy, exact match after trimming)",
            "",
            f"{e['scenes']} held-out scenes (seeds {e['seed_start']:,}..), {e['questions']} questions:",
            "",
            "| type | correct | n | accuracy |",
            "| --- | --- | --- | --- |",
        ]
        for k, a in e["per_type"].items():
            lines.append(f"| {k} | {a['correct']} | {a['n']} | {fmt(a['accuracy'])} |")
        lines += [f"| **overall** | | {e['questions']} | **{fmt(e['overall'])}** |", ""]
        f = e.get("followup")
        if f:
            lines += ["Each question asked alone (turn 1). Follow-up questions: per scene one conversation asking its",
                      "questions in `conversationOrder` (training/scenes.mjs), the model's own greedy answers kept in",
                      f"the history; turns 2+ scored ({f['questions']} questions):", "",
                      "| type | correct | n | accuracy |", "| --- | --- | --- | --- |"]
            for k, a in f["per_type"].items():
                lines.append(f"| {k} | {a['correct']} | {a['n']} | {fmt(a['accuracy'])} |")
            lines += [f"| **overall** | | {f['questions']} | **{fmt(f['overall'])}** |", ""]
        lines += ["tsvlm's own numbers: `node eval/builtin.mjs --scenes N` (after `npm run build`).", ""]
    else:
        lines += ["## Training and metrics", "", "Not trained yet: `metrics.json` is missing.", ""]
    lines += [
        "## Limits",
        "",
        "- Only 64×64 scenes of this world; other image sizes are resized by SAIL's rule and go out of",
        "  distribution. Only the question templates above; paraphrases may fail.",
    ]
    if m and m["eval"].get("followup"):
        lines.append("- One image per conversation; conversations of at most one question per training question (≤ 8 turns) were trained.")
    else:
        lines.append("- One image, one question per conversation in training (multi-turn chats are untrained).")
    if m:
        weak = [f"{k} {fmt(a['accuracy'])}" for k, a in m["eval"]["per_type"].items() if a["accuracy"] is not None and a["accuracy"] < 0.9]
        weak += [f"{k} {fmt(a['accuracy'])} as a follow-up" for k, a in (m["eval"].get("followup") or {}).get("per_type", {}).items()
                 if a["accuracy"] is not None and a["accuracy"] < 0.9]
        if weak:
            lines.append(f"- Weakest question types on held-out scenes: {', '.join(weak)} (table above).")
    if m and m["eval"]["overall"] < 0.9:
        t = m["train"]
        lines.append(f"- Below the 90% goal ({fmt(m['eval']['overall'])} overall) after {t.get('steps_done', t['steps'])} steps on {t['device']}: it needs more training.")
    if m and m["eval"].get("followup") and m["eval"]["followup"]["overall"] < 0.9:
        lines.append(f"- Follow-up questions below the 90% goal ({fmt(m['eval']['followup']['overall'])}): it needs more multi-turn training.")
    return "\n".join(lines) + "\n"


def siglip_card(d: Path) -> str:
    cfg = json.loads((d / "config.json").read_text()) if (d / "config.json").exists() else {}
    m = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() else None
    v, tx = cfg.get("vision_config", {}), cfg.get("text_config", {})
    lines = [
        "# siglip-scenes — a tiny SigLIP-architecture dual encoder trained on the scenes world",
        "",
        "`transformers.SiglipModel` (the reference class, so the checkpoint is exactly SigLIP's format:",
        "ViT with patch conv, learned positions, pre-LN encoder, post-LN and MAP attention-pooling head;",
        "text tower with learned positions, final LN, last-token pooling → head; logit_scale/logit_bias),",
        "trained from scratch with the sigmoid loss on synthetic shape scenes.",
        "",
        "## Model",
        "",
        f"- Vision: {v.get('image_size')}×{v.get('image_size')} input, patch {v.get('patch_size')}, hidden {v.get('hidden_size')}, "
        f"{v.get('num_hidden_layers')} layers, {v.get('num_attention_heads')} heads, ffn {v.get('intermediate_size')}.",
        f"- Text: vocab {tx.get('vocab_size')} (Unigram, `<pad>`=0 `</s>`=1 `<unk>`=2, lowercased), {tx.get('max_position_embeddings')} positions "
        f"(`model_max_length`; texts get `</s>` and are padded with `</s>` to that length), hidden {tx.get('hidden_size')}, "
        f"{tx.get('num_hidden_layers')} layers.",
        f"- float32, {size_mib(d)}" + (f", {m['params']:,} parameters." if m else "."),
        "- Preprocessing (`preprocessor_config.json`): bicubic resize to 64×64 (identity for scenes), /255, mean/std 0.5.",
        "",
        "## Data and seeds",
        "",
        SEEDS,
        "- Pairs: image ↔ `a photo of {caption}`; single-shape scenes (`shapes: 1`, caption `a {colour} {shape}`)",
        "  give exactly the zero-shot labels; multi-shape scenes give longer captions. Pairs with equal texts",
        "  in a batch count as positives in the sigmoid loss.",
        "",
    ]
    if m:
        t, e = m["train"], m["eval"]
        lines += [
            "## Training",
            "",
            f"- {t['single_scenes']:,} single-shape + {t['multi_scenes']:,} multi-shape training scenes; "
            f"{t.get('steps_done', t['steps'])} of {t['steps']} planned steps × batch {t['batch']} ({100 * t['single_fraction']:.0f}% single-shape), "
            f"AdamW lr {t['lr']}, seed {t['seed']}, device {t['device']}, torch {t['torch']}, {t['seconds']} s; "
            f"final loss (EMA) {t['final_loss_ema']:.4f}. Command: see `training/README.md`.",
            "",
            "## Zero-shot accuracy (PyTorch)",
            "",
            f"{fmt(e['zero_shot_accuracy'])} on {e['scenes']} held-out single-shape scenes (seeds {e['seed_start']:,}.., `shapes: 1`),",
            f"argmax over the {len(e['labels'])} labels `a photo of a {{colour}} {{shape}}`.",
            "",
            "tsvlm's own numbers: `node eval/builtin.mjs --scenes N` (after `npm run build`).",
            "",
        ]
    else:
        lines += ["## Training and metrics", "", "Not trained yet: `metrics.json` is missing.", ""]
    lines += [
        "## Limits",
        "",
        "- Knows only this world's colours and shapes; scores for other texts or images are meaningless.",
    ]
    if m and m["eval"]["zero_shot_accuracy"] < 0.9:
        t = m["train"]
        lines.append(f"- Below the 90% goal ({fmt(m['eval']['zero_shot_accuracy'])}) after {t.get('steps_done', t['steps'])} steps on {t['device']}: it needs more training.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="models")
    args = ap.parse_args()
    root = Path(args.models)
    (root / "sail-scenes" / "README.md").write_text(sail_card(root / "sail-scenes"))
    (root / "siglip-scenes" / "README.md").write_text(siglip_card(root / "siglip-scenes"))
    print(f"wrote {root}/sail-scenes/README.md and {root}/siglip-scenes/README.md")


if __name__ == "__main__":
    main()
