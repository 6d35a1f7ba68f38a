"""A diffusers component saved as PyTorch .bin (as pre-safetensors diffusers repos ship them):
unclip-tiny's image_normalizer weights written with torch.save into normalizer-bin/.

  /work/venv/bin/python test/data/diffusion/make_normalizer_bin.py
"""
import os

import torch
from safetensors.torch import load_file

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.environ.get("TSVLM_FIXTURES", os.path.join(here, "../../../../shared/fixtures"))
sd = load_file(os.path.join(fixtures, "unclip-tiny", "image_normalizer", "diffusion_pytorch_model.safetensors"))
out = os.path.join(here, "normalizer-bin")
os.makedirs(out, exist_ok=True)
torch.save({k: v.clone() for k, v in sd.items()}, os.path.join(out, "diffusion_pytorch_model.bin"))
with open(os.path.join(out, "config.json"), "w") as f:
    f.write('{"_class_name": "StableUnCLIPImageNormalizer", "_diffusers_version": "0.20.2", "embedding_dim": 64}\n')
