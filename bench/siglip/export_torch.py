"""Reference for bench/siglip: torch.onnx.export of transformers' SiglipVisionModel with the
same random weights (the route transformers.js users take). Writes vision.onnx (+ external data).
Usage: python export_torch.py CHECKPOINT_DIR OUT_DIR"""
import json, sys, os
import torch
from safetensors.torch import load_file
from transformers import SiglipVisionConfig, SiglipVisionModel

ckpt, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(os.path.join(ckpt, "config.json")))
vc = SiglipVisionConfig(**cfg["vision_config"])
model = SiglipVisionModel(vc).eval()
sd = {k: v for k, v in load_file(os.path.join(ckpt, "model.safetensors")).items() if k.startswith("vision_model.")}
# Depending on the transformers version the module's keys carry the "vision_model." prefix or not.
if not any(k.startswith("vision_model.") for k in model.state_dict()):
    sd = {k[len("vision_model."):]: v for k, v in sd.items()}
missing, unexpected = model.load_state_dict(sd, strict=False)
assert not [m for m in missing if "position_ids" not in m], missing
x = torch.zeros(1, 3, vc.image_size, vc.image_size)
os.makedirs(out, exist_ok=True)
path = os.path.join(out, "vision.onnx")
with torch.no_grad():
    torch.onnx.export(model, (x,), path, input_names=["pixel_values"], output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={"pixel_values": {0: "batch"}}, opset_version=17, dynamo=False)
import onnx
m = onnx.load(path)
onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location="vision.onnx.data")
print("exported", path)
