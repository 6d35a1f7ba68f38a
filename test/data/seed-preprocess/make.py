"""Test-data generator: SEED's reference image transform on real photos, recorded as hashes.

SEED's tokenizer processor (models/seed_llama_tokenizer.py) is torchvision
Resize((224, 224), interpolation=3 [bicubic]) -> ToTensor -> Normalize(CLIP mean/std);
models/transforms.py uses the same with the default bilinear. tsvlm must produce the same float32
bytes, so cases.json records, per image and filter, the sha256 of the little-endian float32 CHW
tensor plus a few values and the sum for diagnostics (no 600 KB tensors committed).

Run: /work/venv/bin/python test/data/seed-preprocess/make.py [FIXTURES_ROOT]
"""
import hashlib, json, os, sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../tools'))
from torchvision_shim import tolerate_torchvision_meta_registrations  # noqa: E402

tolerate_torchvision_meta_registrations()
from PIL import Image  # noqa: E402
from torchvision import transforms  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '../../../../shared/fixtures')
cases = []
for name in ['chelsea.png', 'chelsea_q90.jpg', 'rgba.png', 'gray.png']:
    for resample, interp in [('bicubic', 3), ('bilinear', 2)]:
        t = transforms.Compose([transforms.Resize((224, 224), interpolation=interp), transforms.ToTensor(),
                                transforms.Normalize(mean=(0.48145466, 0.4578275, 0.40821073),
                                                     std=(0.26862954, 0.26130258, 0.27577711))])
        x = t(Image.open(os.path.join(root, 'images', name)).convert('RGB')).numpy().astype('<f4')
        cases.append({'image': name, 'resample': resample, 'size': 224, 'shape': list(x.shape),
                      'sha256': hashlib.sha256(x.tobytes()).hexdigest(), 'sum': float(x.astype('f8').sum()),
                      'head': [float(v) for v in x.reshape(-1)[:4]]})
with open(os.path.join(here, 'cases.json'), 'w') as f:
    json.dump({'transform': 'torchvision Resize((224,224), interpolation) -> ToTensor -> Normalize(CLIP)',
               'cases': cases}, f, indent=1)
print(len(cases), 'cases')
