"""Scenes datasets for the Python trainers, produced by the one JS generator (training/scenes.mjs)
through `node training/make_dataset.mjs`, so training and evaluation see identical pixels."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIZE = 64
EVAL_SEED_BASE = 1_000_000_000  # must equal EVAL_SEED_BASE in scenes.mjs
PART_SCENES = 50_000
QUESTION_TYPES = ["colour", "shape", "count", "presence", "position", "describe"]


def _run_node(start: int, count: int, shapes: int | None, prefix: Path) -> None:
    cmd = [os.environ.get("NODE", "node"), str(HERE / "make_dataset.mjs"), "--start", str(start),
           "--count", str(count), "--out", str(prefix)]
    if shapes is not None:
        cmd += ["--shapes", str(shapes)]
    subprocess.run(cmd, check=True)


def make_dataset(prefix: str | Path, start: int, count: int, shapes: int | None = None, jobs: int = 1):
    """Generates scenes [start, start+count) into prefix.u8/.json (cached: reused when present)
    and returns (images uint8 [N, 64, 64, 3], scenes list of dicts)."""
    prefix = Path(prefix)
    if not (prefix.with_suffix(".u8").exists() and prefix.with_suffix(".json").exists()):
        prefix.parent.mkdir(parents=True, exist_ok=True)
        jobs = max(1, min(jobs, count // 1000 or 1))
        # Parts of at most PART_SCENES: one node process writes its part's JSON as one string, and
        # V8 strings stop at ~512 MiB (200k scenes would be ~550 MB).
        n_parts = max(jobs, -(-count // PART_SCENES))
        bounds = [start + count * k // n_parts for k in range(n_parts + 1)]
        parts = [prefix.parent / f"{prefix.name}.part{k}" for k in range(n_parts)]
        with ThreadPoolExecutor(jobs) as ex:
            list(ex.map(lambda k: _run_node(bounds[k], bounds[k + 1] - bounds[k], shapes, parts[k]), range(n_parts)))
        scenes = []
        with open(prefix.with_suffix(".u8.tmp"), "wb") as f:
            for p in parts:
                f.write(Path(f"{p}.u8").read_bytes())
                scenes += json.loads(Path(f"{p}.json").read_text())["scenes"]
                Path(f"{p}.u8").unlink()
                Path(f"{p}.json").unlink()
        prefix.with_suffix(".json").write_text(json.dumps({"size": SIZE, "shapes": shapes, "scenes": scenes}))
        os.replace(prefix.with_suffix(".u8.tmp"), prefix.with_suffix(".u8"))
    return load_dataset(prefix)


def load_dataset(prefix: str | Path):
    prefix = Path(prefix)
    scenes = json.loads(prefix.with_suffix(".json").read_text())["scenes"]
    images = np.fromfile(prefix.with_suffix(".u8"), dtype=np.uint8).reshape(len(scenes), SIZE, SIZE, 3)
    return images, scenes
