"""Reference for the AutoencoderKL encoder test: diffusers 0.20.2 vae.encode on the unclip-tiny
fixture's vae/ with a fixed 1x3x64x64 image; writes vae-encode.safetensors next to this file.

  DIFFUSERS_SRC=/path/to/diffusers-0.20.2/src /work/venv/bin/python test/data/diffusion/make_vae_encode.py

Outputs: image (input in [-1, 1]), mean and logvar of latent_dist, noise (the N(0,1) draw of
latent_dist.sample(generator=manual_seed(7))) and latents = that sample * scaling_factor.
"""
import os
import sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../../tools"))
from diffusers_shim import import_diffusers  # noqa: E402

import_diffusers()
from diffusers import AutoencoderKL  # noqa: E402

fixtures = os.environ.get("TSVLM_FIXTURES", os.path.join(here, "../../../../shared/fixtures"))
vae = AutoencoderKL.from_pretrained(os.path.join(fixtures, "unclip-tiny", "vae")).eval()
torch.manual_seed(0)
g = torch.Generator().manual_seed(20231019)
yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
smooth = torch.stack([torch.sin(3 * xx + yy), torch.cos(2 * yy - xx), xx * yy])
image = (0.8 * smooth + 0.2 * torch.rand(3, 64, 64, generator=g) * 2 - 0.2).clamp(-1, 1)[None].float()
with torch.no_grad():
    dist = vae.encode(image).latent_dist
    noise = torch.randn(dist.mean.shape, generator=torch.Generator().manual_seed(7))
    sample = dist.sample(generator=torch.Generator().manual_seed(7))
latents = sample * vae.config.scaling_factor
save_file(
    {
        "image": image.contiguous(),
        "mean": dist.mean.contiguous(),
        "logvar": dist.logvar.contiguous(),
        "noise": noise.contiguous(),
        "latents": latents.contiguous(),
    },
    os.path.join(here, "vae-encode.safetensors"),
    metadata={"generator": "test/data/diffusion/make_vae_encode.py", "diffusers": "0.20.2", "vae": "unclip-tiny/vae"},
)
print("mean", tuple(dist.mean.shape), "logvar range", float(dist.logvar.min()), float(dist.logvar.max()))
