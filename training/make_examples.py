"""Writes the example images (examples/*.png) from held-out scenes of the scenes generator, and
examples/README.md with each image's questions, the generator's answers, and (when the trained
models' metrics.json hold them) the answers the trained PyTorch models gave.

Usage: python training/make_examples.py [--models models] [--out examples]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes_data import EVAL_SEED_BASE, make_dataset  # noqa: E402

# name -> held-out scene index k (seed EVAL_SEED_BASE + k); all within the first 50 eval scenes,
# whose PyTorch answers metrics.json records.
EXAMPLES = {"scene": 0, "scene-two-shapes": 1, "scene-one-shape": 5, "scene-four-shapes": 12}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="models")
    ap.add_argument("--out", default="examples")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sail = Path(args.models) / "sail-scenes" / "metrics.json"
    preds = {}
    if sail.exists():
        for p in json.loads(sail.read_text())["pytorch_predictions_first_50_eval_scenes"]:
            preds[(p["seed"], p["question"])] = p["pytorch"]
    lines = [
        "# Example images",
        "",
        "Held-out scenes (seeds ≥ 1,000,000,000, never seen in training) drawn by `training/scenes.mjs`,",
        "written as lossless PNG by `training/make_examples.py`. The answers are the generator's ground",
        "truth" + ("; the last column is what the shipped `models/sail-scenes` answered in PyTorch at the"
                   " end of training (greedy)." if preds else " (rerun this script after training to add the model's answers)."),
        "",
        "Try (the built-in models are the CLI's defaults):",
        "",
        "    tsvlm chat --image examples/scene.png \"What colour is the cross?\"",
        "    tsvlm classify --image examples/scene-one-shape.png --labels \"a photo of a purple square,a photo of a red circle\"",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, k in EXAMPLES.items():
            images, scenes = make_dataset(Path(tmp) / name, EVAL_SEED_BASE + k, 1)
            s = scenes[0]
            Image.fromarray(images[0]).save(out / f"{name}.png", optimize=True)
            lines += [f"## `{name}.png` (seed {s['seed']})", "", f"Caption: {s['caption']}", "",
                      "| question | answer | sail-scenes (PyTorch) |" if preds else "| question | answer |",
                      "| --- | --- | --- |" if preds else "| --- | --- |"]
            for qa in s["qa"]:
                got = f" {preds.get((s['seed'], qa['question']), '')} |" if preds else ""
                lines.append(f"| {qa['question']} | {qa['answer']} |{got}")
            if len(s["objects"]) == 1:
                o = s["objects"][0]
                lines += ["", f"Zero-shot label (siglip-scenes): `a photo of a {o['colour']} {o['shape']}`."]
            lines.append("")
    (out / "README.md").write_text("\n".join(lines))
    print(f"wrote {len(EXAMPLES)} images and README.md to {out}")


if __name__ == "__main__":
    main()
