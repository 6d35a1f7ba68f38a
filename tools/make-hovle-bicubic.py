"""Oracle for HoVLE's position-table resize (VisionEmbeddings._get_pos_embed): a 4×4 grid of
D=4 vectors, F.interpolate(mode='bicubic', align_corners=False) in float32 to 6×6 (up), 2×2
(down) and 4×4 (identity). Writes test/data/hovle/bicubic-pos.json.
Run: /work/venv/bin/python tools/make-hovle-bicubic.py"""
import json
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "test" / "data" / "hovle" / "bicubic-pos.json"
g, D = 4, 4
pos = np.random.default_rng(7).standard_normal((g * g, D)).astype(np.float32)
grid = torch.from_numpy(pos).reshape(1, g, g, D).permute(0, 3, 1, 2)
out = {}
for n in (6, 2, 4):
    r = F.interpolate(grid, size=(n, n), mode="bicubic", align_corners=False).reshape(1, D, n * n).permute(0, 2, 1)
    out[str(n)] = [float(x) for x in r.flatten()]
OUT.write_text(json.dumps({"grid": g, "dim": D, "pos": [float(x) for x in pos.flatten()], "resized": out, "torch": torch.__version__}) + "\n")
print(OUT)
