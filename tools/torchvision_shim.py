"""Lets torchvision 0.28 import against the CPU torch 2.13 of the venv, for test-data generators
and benchmarks only: its meta registrations for the C++ nms/qnms ops fail there ("operator
torchvision::nms does not exist"); those ops are never used, so a failing registration is
skipped instead of aborting `import torchvision` (which transformers and timm import)."""
import torch


def tolerate_torchvision_meta_registrations():
    register_fake = torch.library.register_fake
    if getattr(register_fake, "_tsvlm_tolerant", False):
        return

    def tolerant(op, *args, **kwargs):
        inner = register_fake(op, *args, **kwargs)
        if not callable(inner):
            return inner

        def register(fn):
            try:
                return inner(fn)
            except RuntimeError:
                return fn

        return register

    tolerant._tsvlm_tolerant = True
    torch.library.register_fake = tolerant
