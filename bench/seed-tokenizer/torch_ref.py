"""PyTorch side of bench/seed-tokenizer: the ORIGINAL SEED v2 modules (AILab-CVC/SEED
models/seed_qformer, imported from a checkout given by --seed-repo, never copied) at the real
sizes (EVA ViT-g 1408 x --vit-layers, Q-Former 768 x 12, codebook 8192 x 32), default random init.

  torch_ref.py write DIR   -> DIR/model.safetensors (the state dict, fp32, streamed tensor by
                              tensor) + DIR/config.json, so tsvlm runs the same weights
  torch_ref.py time DIR    -> times get_codebook_indices at each batch, prints one JSON line

Run-time shims for transformers 5 (no reference line edited), as the fixture generator uses:
apply_chunking_to_forward / prune_linear_layer re-exported from pytorch_utils,
find_pruneable_heads_and_indices stubbed, init_weights / get_head_mask / invert_attention_mask
restored as in 4.x, torchvision's failing nms meta registrations skipped, BERT config/tokenizer/pretrained downloads replaced by local construction,
create_eva_vit_g builds the reference VisionTransformer with the requested depth, no download.
"""
import argparse, json, os, struct, sys, time

import torch

p = argparse.ArgumentParser()
p.add_argument('mode', choices=['write', 'time'])
p.add_argument('dir')
p.add_argument('--seed-repo', default=os.environ.get('SEED_REPO', '/work/ref/SEED'))
p.add_argument('--vit-layers', type=int, default=39)
p.add_argument('--batches', default='1,8')
p.add_argument('--runs', type=int, default=2)
p.add_argument('--threads', type=int, default=0)
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
sys.path.insert(0, a.seed_repo)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tools'))
from torchvision_shim import tolerate_torchvision_meta_registrations  # noqa: E402

tolerate_torchvision_meta_registrations()

import transformers.modeling_utils as mu
import transformers.pytorch_utils as pu

mu.apply_chunking_to_forward = pu.apply_chunking_to_forward
mu.prune_linear_layer = pu.prune_linear_layer


def _no_prune(*_a, **_k):
    raise NotImplementedError('prune_heads is not used')


mu.find_pruneable_heads_and_indices = _no_prune

from transformers import BertConfig  # noqa: E402
from models.seed_qformer import blip2, eva_vit, qformer_causual  # noqa: E402
from models.seed_qformer.qformer_quantizer import Blip2QformerQuantizer  # noqa: E402

BertPre = qformer_causual.BertPreTrainedModel
BertPre.init_weights = lambda self: self.apply(self._init_weights)


def get_head_mask(self, head_mask, num_hidden_layers, is_attention_chunked=False):
    assert head_mask is None
    return [None] * num_hidden_layers


def invert_attention_mask(self, mask):
    ext = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None, :, :]
    ext = ext.to(dtype=self.dtype)
    return (1.0 - ext) * torch.finfo(self.dtype).min


BertPre.get_head_mask = get_head_mask
BertPre.invert_attention_mask = invert_attention_mask
blip2.Blip2Base.init_tokenizer = classmethod(lambda cls, truncation_side='right': None)


class _Cfg:
    @staticmethod
    def from_pretrained(_name):
        # bert-base-uncased's values
        return BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                          intermediate_size=3072, hidden_act='gelu', max_position_embeddings=512,
                          type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)


class _Lm:
    @staticmethod
    def from_pretrained(_name, config):
        return qformer_causual.BertLMHeadModel(config)


blip2.BertConfig = _Cfg
blip2.BertLMHeadModel = _Lm


def create_eva_vit_g(img_size=224, drop_path_rate=0.4, use_checkpoint=False, precision='fp16'):
    from functools import partial
    return eva_vit.VisionTransformer(img_size=img_size, patch_size=14, use_mean_pooling=False, embed_dim=1408,
                                     depth=a.vit_layers, num_heads=1408 // 88, mlp_ratio=4.3637, qkv_bias=True,
                                     drop_path_rate=drop_path_rate, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                                     use_checkpoint=use_checkpoint)


blip2.create_eva_vit_g = create_eva_vit_g

torch.manual_seed(0)
model = Blip2QformerQuantizer(vit_precision='fp32').eval()

if a.mode == 'write':
    os.makedirs(a.dir, exist_ok=True)
    sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()}
    header, off = {}, 0
    for k, v in sd.items():
        n = v.numel() * 4
        header[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = os.path.join(a.dir, 'model.safetensors.tmp')
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for v in sd.values():
            f.write(v.numpy().tobytes())
    os.replace(tmp, os.path.join(a.dir, 'model.safetensors'))
    with open(os.path.join(a.dir, 'config.json'), 'w') as f:
        json.dump({'model_type': 'seed_qformer_quantizer', 'vision': {'num_heads': 16}, 'qformer': {'num_attention_heads': 12}}, f)
    print(json.dumps({'tensors': len(sd), 'bytes': off}))
else:
    # The same weights as tsvlm: DIR/model.safetensors, tensor by tensor into the module.
    from safetensors import safe_open
    params = dict(model.state_dict())
    with safe_open(os.path.join(a.dir, 'model.safetensors'), 'pt') as f:
        for k in f.keys():
            params[k].copy_(f.get_tensor(k))
    gen = torch.Generator().manual_seed(1)
    out = {'threads': torch.get_num_threads(), 'images_per_s': {}}
    for B in [int(x) for x in a.batches.split(',')]:
        x = torch.randn(B, 3, 224, 224, generator=gen)
        with torch.inference_mode():
            model.get_codebook_indices(x)  # warm-up
            ts = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                model.get_codebook_indices(x)
                ts.append(time.perf_counter() - t0)
        ts.sort()
        out['images_per_s'][str(B)] = B / ts[len(ts) // 2]
    print(json.dumps(out))
