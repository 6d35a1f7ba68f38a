"""Reference for Karras sigmas (use_karras_sigmas=True) in diffusers 0.20.2's DPMSolverMultistep
and EulerDiscrete schedulers: from_config of the unclip-tiny (v-prediction) and sd-v1-tiny
(epsilon) scheduler configs, set_timesteps(N) for N in (5, 20), then a chained step over seeded
random model outputs. Writes karras.safetensors next to this file.

  DIFFUSERS_SRC=/path/to/diffusers-0.20.2/src /work/venv/bin/python test/data/diffusion/make_karras.py
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../../tools"))
from diffusers_shim import import_diffusers  # noqa: E402

diffusers = import_diffusers()
fixtures = os.environ.get("TSVLM_FIXTURES", os.path.join(here, "../../../../shared/fixtures"))
out = {}
for fx in ("unclip-tiny", "sd-v1-tiny"):
    cfg = json.load(open(os.path.join(fixtures, fx, "scheduler", "scheduler_config.json")))
    cfg = {k: v for k, v in cfg.items() if k not in ("real_checkpoint", "_fixture_note")}
    for cls, name in (("DPMSolverMultistepScheduler", "dpmpp2m"), ("EulerDiscreteScheduler", "euler")):
        for n in (5, 20):
            s = getattr(diffusers, cls).from_config({**cfg, "use_karras_sigmas": True})
            s.set_timesteps(n)
            g = torch.Generator().manual_seed(n)
            x = torch.randn(1, 4, 4, 4, generator=g) * s.init_noise_sigma
            outs = torch.randn(len(s.timesteps), 1, 4, 4, 4, generator=g)
            prev = []
            for i, t in enumerate(s.timesteps):
                xin = s.scale_model_input(x, t)
                x = s.step(outs[i], t, x, return_dict=False)[0] if name == "dpmpp2m" else s.step(outs[i] + 0 * xin, t, x, return_dict=False)[0]
                prev.append(x)
            p = f"{fx}.{name}.{n}"
            out[f"{p}.timesteps"] = s.timesteps.to(torch.float64)
            out[f"{p}.init_noise_sigma"] = torch.tensor([float(s.init_noise_sigma)], dtype=torch.float64)
            out[f"{p}.model_outputs"] = outs
            out[f"{p}.x_T"] = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(n))
            out[f"{p}.prev_samples"] = torch.stack(prev)
            if name == "euler":
                out[f"{p}.sigmas"] = s.sigmas.to(torch.float64)
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "karras.safetensors"))
print("wrote", len(out), "tensors")
