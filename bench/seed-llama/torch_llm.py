"""Peer for bench/seed-llama: transformers LlamaForCausalLM on the bench's random LLaMA (same
safetensors), CPU fp32, 2 threads: prefill of the given prompt ids, then the given 33 span ids
one by one with the KV cache. Prints one JSON line.
  python torch_llm.py LLAMA_DIR PROMPT_IDS_JSON SPAN_IDS_JSON WARMUP RUNS"""
import json, os, resource, sys, time
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tools'))
from torchvision_shim import tolerate_torchvision_meta_registrations  # noqa: E402

tolerate_torchvision_meta_registrations()
import transformers  # noqa: E402
from transformers import LlamaForCausalLM

torch.set_num_threads(2)
d, prompt, span = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
warm, runs = int(sys.argv[4]), int(sys.argv[5])
model = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
ids = torch.tensor([prompt])


def once():
    with torch.inference_mode():
        t = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        first = int(out.logits[0, -1].argmax())
        pre = time.perf_counter() - t
        past = out.past_key_values
        t = time.perf_counter()
        for tok in span:
            out = model(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            int(out.logits[0, -1].argmax())
        return pre, time.perf_counter() - t, first


for _ in range(warm):
    once()
res = sorted((once() for _ in range(runs)), key=lambda r: r[0] + r[1])
pre, draw, first = res[len(res) // 2]
print(json.dumps({"prefill_s": pre, "draw_s": draw, "first": first, "threads": torch.get_num_threads(), "torch": torch.__version__,
                  "version": transformers.__version__, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
