"""Import diffusers 0.20.2 from a source checkout (DIFFUSERS_SRC, never committed) under today's
huggingface_hub / transformers, for test-data generators and benchmarks only.

Run-time shims (no diffusers source line is edited):
- huggingface_hub 1.x removed constants.hf_cache_home, HfFolder and cached_download, which
  diffusers 0.20.2 imports at module level (cache paths / hub auth only; never called here);
- transformers is hidden while `import diffusers` runs, so diffusers does not import its
  transformers-based pipelines (several use names transformers 5 removed); restored after.
"""
import os
import sys


def import_diffusers():
    src = os.environ.get("DIFFUSERS_SRC", "/work/ref/diffusers-0.20.2/src")
    if not os.path.isdir(os.path.join(src, "diffusers")):
        raise SystemExit(f"DIFFUSERS_SRC={src} has no diffusers/ package (export diffusers v0.20.2's src there)")
    sys.path.insert(0, src)
    import huggingface_hub
    import huggingface_hub.constants as hc

    if not hasattr(hc, "hf_cache_home"):
        hc.hf_cache_home = os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))
    if not hasattr(huggingface_hub, "HfFolder"):
        class HfFolder:  # noqa: D401 - stub
            @staticmethod
            def get_token():
                return None

        huggingface_hub.HfFolder = HfFolder
    if not hasattr(huggingface_hub, "cached_download"):
        def cached_download(*a, **k):
            raise RuntimeError("cached_download is not available (offline shim)")

        huggingface_hub.cached_download = cached_download
    import safetensors.torch  # noqa: F401  (diffusers uses safetensors.torch without importing it)

    saved = sys.modules.get("transformers")
    sys.modules["transformers"] = None
    try:
        import diffusers
    finally:
        if saved is not None:
            sys.modules["transformers"] = saved
        else:
            del sys.modules["transformers"]
    return diffusers
