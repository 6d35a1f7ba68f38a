"""A tiny unCLIP image encoder for image variations: transformers CLIPVisionModelWithProjection
(random weights, projection 64 = unclip-tiny's embedding size) saved as the unCLIP repos lay it out
(image_encoder/config.json + model.safetensors, feature_extractor/preprocessor_config.json), and
reference outputs of the slow CLIPImageProcessor + the model on two fixture images
(clip-vision-tiny/cases.safetensors).

  /work/venv/bin/python test/data/diffusion/make_clip_vision.py
"""
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

sys.modules.setdefault("torchvision", None)  # a torchvision built for another torch breaks transformers' imports
from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "clip-vision-tiny")
fixtures = os.environ.get("TSVLM_FIXTURES", os.path.join(here, "../../../../shared/fixtures"))

torch.manual_seed(20240101)
cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                       patch_size=8, projection_dim=64, hidden_act="gelu", layer_norm_eps=1e-5)
model = CLIPVisionModelWithProjection(cfg).eval()
g = torch.Generator().manual_seed(7)
with torch.no_grad():
    for name, p in model.named_parameters():  # far from uniform attention, every layer matters
        if "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        elif name.endswith("bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
        else:
            fan_in = p.shape[1] * (p.shape[2] * p.shape[3] if p.dim() == 4 else 1) if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g) / (fan_in ** 0.5 if p.dim() > 1 else 1))
model.save_pretrained(os.path.join(out, "image_encoder"), safe_serialization=True)
proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
proc.save_pretrained(os.path.join(out, "feature_extractor"))

images = [Image.open(os.path.join(fixtures, "images", f)).convert("RGB") for f in ("chelsea.png", "astronaut.png")]
pixels = proc(images=images, return_tensors="pt").pixel_values
with torch.no_grad():
    r = model(pixel_values=pixels)
save_file({"pixel_values": pixels.contiguous(), "image_embeds": r.image_embeds.contiguous(),
           "last_hidden_state": r.last_hidden_state.contiguous()}, os.path.join(out, "cases.safetensors"),
          metadata={"images": "chelsea.png,astronaut.png"})
print(pixels.shape, r.image_embeds.shape)
