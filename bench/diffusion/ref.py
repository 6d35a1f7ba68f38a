"""PyTorch side of bench/diffusion: diffusers 0.20.2 (imported through tools/diffusers_shim.py
from DIFFUSERS_SRC; never committed) on the Stable unCLIP 2.1 UNet / VAE shapes.

  ref.py make DIR    random-weight unet/ and vae/ folders (diffusers init, save_pretrained) + inputs
  ref.py unet DIR    one UNet evaluation (batch 2, 96x96 latents), writes torch_unet.f32
  ref.py vae DIR     one VAE decode (1x4x96x96 -> 768x768), writes torch_vae.f32
Prints one JSON line: seconds per evaluation, peak RSS.
"""
import json
import os
import resource
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../tools"))
from diffusers_shim import import_diffusers  # noqa: E402

import_diffusers()
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402

UNET = dict(
    sample_size=96, in_channels=4, out_channels=4,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, attention_head_dim=[5, 10, 20, 20],
    cross_attention_dim=1024, use_linear_projection=True, class_embed_type="projection",
    projection_class_embeddings_input_dim=2048, norm_num_groups=32, norm_eps=1e-5, act_fn="silu",
    flip_sin_to_cos=True, freq_shift=0, downsample_padding=1, upcast_attention=True,
)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
    norm_num_groups=32, act_fn="silu", down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
    scaling_factor=0.18215, sample_size=768,
)
B, T, D, P = 2, 77, 1024, 2048
HW = int(os.environ.get("BENCH_HW", "96"))


def save(path, t):
    t.detach().contiguous().float().numpy().tofile(path)


def load(path, shape):
    import numpy as np
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(shape))


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    part, d = sys.argv[1], sys.argv[2]
    torch.set_grad_enabled(False)
    if part == "make":
        torch.manual_seed(0)
        if not os.path.exists(os.path.join(d, "vae", "config.json")):
            UNet2DConditionModel(**UNET).save_pretrained(os.path.join(d, "unet"))
            AutoencoderKL(**VAE).save_pretrained(os.path.join(d, "vae"))
        g = torch.Generator().manual_seed(1)
        save(os.path.join(d, f"sample_{HW}.f32"), torch.randn(B, 4, HW, HW, generator=g))
        save(os.path.join(d, "ehs.f32"), torch.randn(B, T, D, generator=g))
        labels = torch.randn(B, P, generator=g)
        labels[0] = 0  # the CFG negative half is all zeros
        save(os.path.join(d, "labels.f32"), labels)
        save(os.path.join(d, f"latents_{HW}.f32"), torch.randn(1, 4, HW, HW, generator=g))
        print(json.dumps({"made": d}))
        return
    runs = int(os.environ.get("BENCH_RUNS", "1"))
    warmup = int(os.environ.get("BENCH_WARMUP", "0"))
    t0 = time.perf_counter()
    if part == "unet":
        m = UNet2DConditionModel.from_pretrained(os.path.join(d, "unet")).eval()
        sample, ehs, labels = load(os.path.join(d, f"sample_{HW}.f32"), (B, 4, HW, HW)), load(os.path.join(d, "ehs.f32"), (B, T, D)), load(os.path.join(d, "labels.f32"), (B, P))
        fn = lambda: m(sample, torch.tensor([500] * B), ehs, class_labels=labels).sample  # noqa: E731
    else:
        m = AutoencoderKL.from_pretrained(os.path.join(d, "vae")).eval()
        lat = load(os.path.join(d, f"latents_{HW}.f32"), (1, 4, HW, HW))
        fn = lambda: m.decode(lat / m.config.scaling_factor).sample  # noqa: E731
    load_s = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t1 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t1)
    save(os.path.join(d, f"torch_{part}_{HW}.f32"), out)
    ts.sort()
    print(json.dumps({"part": part, "seconds": ts[len(ts) // 2], "load_s": load_s, "peak_rss_mb": peak_mb(),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
