"""Reference for plain text-to-image: the steps of diffusers 0.20.2 StableDiffusionPipeline.__call__
(encode_prompt with the "" negative, prepare_latents from torch.Generator().manual_seed(seed),
the guided loop, vae.decode, VaeImageProcessor rounding) on the tiny SD 2.x-shaped folder that
test/helpers/tiny-sd.ts assembles (unclip-tiny's UNet without the class embedding, VAE, scheduler;
clip-text-sd2-tiny's text encoder and tokenizer), for each scheduler. Writes txt2img.safetensors.

  DIFFUSERS_SRC=/path/to/diffusers-0.20.2/src /work/venv/bin/python test/data/diffusion/make_txt2img.py

The pipeline class itself cannot be imported here (diffusers 0.20.2's transformers-based pipelines
need names transformers 5 removed), so its __call__ body is followed line by line with the real
components: transformers CLIPTokenizer / CLIPTextModel, diffusers UNet2DConditionModel,
AutoencoderKL and the schedulers.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../../tools"))
sys.modules.setdefault("torchvision", None)  # a torchvision built for another torch breaks transformers' imports; unused here
from transformers import CLIPTextModel, CLIPTokenizer  # noqa: E402  (before the shim hides transformers)
from diffusers_shim import import_diffusers  # noqa: E402

diffusers = import_diffusers()

fixtures = os.environ.get("TSVLM_FIXTURES", os.path.join(here, "../../../../shared/fixtures"))
unclip = os.path.join(fixtures, "unclip-tiny")
clip = os.path.join(fixtures, "clip-text-sd2-tiny")

cfg = json.load(open(os.path.join(unclip, "unet", "config.json")))
cfg.pop("real_checkpoint", None)
cfg.pop("_fixture_note", None)
cfg["class_embed_type"] = None
cfg["projection_class_embeddings_input_dim"] = None
unet = diffusers.UNet2DConditionModel.from_config(cfg).eval()
from safetensors.torch import load_file  # noqa: E402

sd = {k: v for k, v in load_file(os.path.join(unclip, "unet", "diffusion_pytorch_model.safetensors")).items() if not k.startswith("class_embedding.")}
unet.load_state_dict(sd, strict=True)
vae = diffusers.AutoencoderKL.from_pretrained(os.path.join(unclip, "vae")).eval()
tok = CLIPTokenizer.from_pretrained(os.path.join(clip, "tokenizer"))
te = CLIPTextModel.from_pretrained(os.path.join(clip, "text_encoder"), torch_dtype=torch.float32).eval()
sched_cfg = json.load(open(os.path.join(unclip, "scheduler", "scheduler_config.json")))

PROMPT, SEED, STEPS, GUIDANCE, H, W = "a lighthouse at dusk!", 7, 3, 7.5, 48, 64


def encode(texts):
    ids = tok(texts, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt").input_ids
    return te(ids, attention_mask=None)[0]


out = {}
with torch.no_grad():
    cond = encode([PROMPT])
    uncond = encode([""])
    out["prompt_embeds"] = cond.contiguous()
    out["negative_prompt_embeds"] = uncond.contiguous()
    embeds = torch.cat([uncond, cond])
    for name, cls in [("pndm", "PNDMScheduler"), ("ddim", "DDIMScheduler"), ("dpmpp2m", "DPMSolverMultistepScheduler"), ("euler", "EulerDiscreteScheduler")]:
        sched = getattr(diffusers, cls).from_config(sched_cfg)
        sched.set_timesteps(STEPS)
        g = torch.Generator().manual_seed(SEED)
        latents = diffusers.utils.torch_utils.randn_tensor((1, 4, H // 8, W // 8), generator=g, dtype=torch.float32)
        out[f"{name}.initial_noise"] = latents.clone()
        latents = latents * sched.init_noise_sigma
        steps = []
        kw = {"generator": g} if "generator" in sched.step.__code__.co_varnames else {}
        for t in sched.timesteps:
            x = sched.scale_model_input(torch.cat([latents] * 2), t)
            pred = unet(x, t, encoder_hidden_states=embeds, return_dict=False)[0]
            u, c = pred.chunk(2)
            latents = sched.step(u + GUIDANCE * (c - u), t, latents, **kw, return_dict=False)[0]
            steps.append(latents.clone())
        out[f"{name}.timesteps"] = sched.timesteps.to(torch.float32)
        out[f"{name}.latents_after_step"] = torch.stack(steps)
        image = vae.decode(latents / vae.config.scaling_factor, return_dict=False)[0]
        img = (image / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).float().numpy()
        out[f"{name}.image_u8"] = torch.from_numpy((img * 255).round().astype("uint8"))
save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(here, "txt2img.safetensors"),
          metadata={"prompt": PROMPT, "seed": str(SEED), "steps": str(STEPS), "guidance": str(GUIDANCE), "height": str(H), "width": str(W)})
print("wrote", os.path.join(here, "txt2img.safetensors"))
