"""Test data for the PyTorch checkpoint reader (src/io/pytorch.ts), written with torch.save.

Run: /work/venv/bin/python test/data/pt/make.py [FIXTURES_ROOT]   (default ../shared/fixtures)

Writes next to this script:
- seed-v2/seed_quantizer.pt      seed-tokenizer-tiny's state dict as torch.save(model.state_dict())
                                 writes it (flat OrderedDict, fp32, + the int64 position_ids buffer)
- seed-v1/seed_tokenizer.pth     seed-v1-tokenizer-tiny wrapped as {"model": {name: nn.Parameter}, "epoch": 3}
- siglip-bin/                    siglip-tiny as two pytorch_model-0000x-of-00002.bin shards +
                                 pytorch_model.bin.index.json (+ the fixture's config files)
- misc.pt / misc.safetensors     every storage dtype, fp16/bf16, one storage shared by two views,
                                 a 0-d and an empty tensor; the .safetensors holds the same values
- nested.pt / nested.safetensors nested dicts and lists, names joined with '.'
- bad/*.pt + bad/cases.json      hostile and broken files, each with the error it must produce.
                                 Hostile payloads run `touch /tmp/tsvlm-hostile-marker` when loaded
                                 by Python's pickle; this script proves that (unrestricted
                                 torch.load in a child process creates the marker) before keeping them.
"""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
FIX = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "fixtures"
MARKER = "/tmp/tsvlm-hostile-marker"
CMD = f"touch {MARKER}"


def save(obj, path, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path, **kw)


def fixtures():
    v2 = load_file(FIX / "seed-tokenizer-tiny" / "model.safetensors")
    sd = OrderedDict(v2)
    sd["Qformer.bert.embeddings.position_ids"] = torch.arange(512, dtype=torch.int64)[None]
    save(sd, HERE / "seed-v2" / "seed_quantizer.pt")

    v1 = load_file(FIX / "seed-v1-tokenizer-tiny" / "model.safetensors")
    model = OrderedDict((k, torch.nn.Parameter(v, requires_grad=False)) for k, v in v1.items())
    save({"model": model, "epoch": 3, "note": "wrapped like SEED v1 .pth files"}, HERE / "seed-v1" / "seed_tokenizer.pth")

    sig = load_file(FIX / "siglip-tiny" / "model.safetensors")
    out = HERE / "siglip-bin"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    names = list(sig)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate([names[:half], names[half:]]):
        shard = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        save(OrderedDict((k, sig[k]) for k in part), out / shard)
        weight_map.update({k: shard for k in part})
    (out / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))
    for f in ["config.json", "preprocessor_config.json"]:
        shutil.copy(FIX / "siglip-tiny" / f, out / f)


def misc():
    g = torch.Generator().manual_seed(1818)
    base = torch.randn(24, generator=g)
    shared = torch.arange(40, dtype=torch.float32) * 0.5
    sd = OrderedDict()
    sd["f32"] = torch.randn(3, 5, generator=g)
    sd["f16"] = torch.randn(4, 3, generator=g).half()
    sd["bf16"] = torch.randn(2, 7, generator=g).bfloat16()
    sd["f64"] = torch.randn(5, generator=g).double()
    sd["i64"] = torch.tensor([[-3, 1 << 40], [7, -(1 << 50)]], dtype=torch.int64)
    sd["i32"] = torch.tensor([-2147483648, 5, 2147483647], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 0, 32767], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 3, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    # Two views of one storage (torch.save writes the storage once): offset 4 elements and 16.
    sd["view_a"] = shared[4:16].view(3, 4)
    sd["view_b"] = shared[16:40].view(2, 3, 4)
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["row"] = base.view(4, 6)[2]  # contiguous row view at offset 12
    save(sd, HERE / "misc.pt")
    back = torch.load(HERE / "misc.pt")
    assert back["view_a"].untyped_storage().data_ptr() == back["view_b"].untyped_storage().data_ptr()
    save_file({k: v.clone().contiguous() for k, v in sd.items()}, HERE / "misc.safetensors")

    nested = {
        "encoder": {"layer": {"weight": torch.randn(2, 2, generator=g)}, "bias": torch.randn(2, generator=g)},
        "heads": [torch.randn(3, generator=g), {"proj": torch.randn(1, 3, generator=g)}],
        "step": 12,
        "tag": b"\x00\xffbytes",
    }
    save(nested, HERE / "nested.pt")
    flat = {"encoder.layer.weight": nested["encoder"]["layer"]["weight"], "encoder.bias": nested["encoder"]["bias"],
            "heads.0": nested["heads"][0], "heads.1.proj": nested["heads"][1]["proj"]}
    save_file(flat, HERE / "nested.safetensors")


# --- hostile and broken files -------------------------------------------------------------------

def su(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def torch_zip(path, pkl, storages=None, compress_storage=False):
    """A zip laid out like torch.save's (archive/data.pkl, archive/data/<key>, version, byteorder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for k, data in (storages or {}).items():
            z.writestr(f"archive/data/{k}", data, compress_type=zipfile.ZIP_DEFLATED if compress_storage else zipfile.ZIP_STORED)
        z.writestr("archive/version", "3\n")


def tensor_pkl(size, numel, stride=None):
    """{'w': _rebuild_tensor_v2(FloatStorage key '0' numel, 0, size, stride, False, OrderedDict())}"""
    stride = stride or [1] * len(size)
    tup = lambda xs: b"(" + b"".join(b"J" + struct.pack("<i", x) if x < 2**31 else b"\x8a\x08" + struct.pack("<q", x) for x in xs) + b"t"
    pid = b"(" + su("storage") + b"ctorch\nFloatStorage\n" + su("0") + su("cpu") + b"\x8a\x08" + struct.pack("<q", numel) + b"tQ"
    return (b"\x80\x02}" + su("w") + b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"K\x00" + tup(size) + tup(stride)
            + b"\x89ccollections\nOrderedDict\n)RtRs.")


class Evil:
    def __reduce__(self):
        return (os.system, (CMD,))


def bad():
    out = HERE / "bad"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    cases = {}

    def hostile(name, pkl, expect):
        torch_zip(out / name, pkl, {"0": b"\0" * 16})
        cases[name] = {"expect": expect, "hostile": True}

    cmd = su(CMD)
    hostile("os-system-reduce.pt", b"\x80\x02cos\nsystem\n" + cmd + b"\x85R.", r"global os\.system")
    hostile("posix-system-stack-global.pt", b"\x80\x04" + b"\x8c\x05posix\x8c\x06system\x93" + cmd + b"\x85R.", r"global posix\.system")
    hostile("builtins-eval.pt", b"\x80\x02cbuiltins\neval\n" + su(f"__import__('os').system('{CMD}')") + b"\x85R.", r"global builtins\.eval")
    hostile("builtins-exec.pt", b"\x80\x02cbuiltins\nexec\n" + su(f"import os; os.system('{CMD}')") + b"\x85R.", r"global builtins\.exec")
    hostile("inst-os-system.pt", b"\x80\x02(" + cmd + b"ios\nsystem\n.", r"opcode INST")
    hostile("obj-os-system.pt", b"\x80\x02(cos\nsystem\n" + cmd + b"o.", r"global os\.system")
    # An os.system hidden in a dict value, after a valid-looking tensor entry.
    hostile("nested-reduce.pt", b"\x80\x02}" + su("a") + b"cos\nsystem\n" + cmd + b"\x85Rs.", r"global os\.system")
    # A real torch.save of an object whose __reduce__ is os.system.
    save({"w": torch.zeros(2), "x": Evil()}, out / "torch-save-reduce.pt")
    cases["torch-save-reduce.pt"] = {"expect": r"global (posix|os)\.system", "hostile": True}

    def broken(name, pkl, expect, **kw):
        torch_zip(out / name, pkl, {"0": b"\0" * 16}, **kw)
        cases[name] = {"expect": expect, "hostile": False}

    # Allowed names used the wrong way, and names that merely look like torch's.
    broken("obj-allowed-class.pt", b"\x80\x02(ccollections\nOrderedDict\no.", r"opcode OBJ")
    broken("newobj.pt", b"\x80\x02ccollections\nOrderedDict\n)\x81.", r"opcode NEWOBJ")
    broken("torch-load-global.pt", b"\x80\x02ctorch\nload\n" + su("x.pt") + b"\x85R.", r"global torch\.load")
    broken("torch-module-prefix.pt", b"\x80\x02ctorch._utils\n_rebuild_device_tensor_from_numpy\n)R.", r"global torch\._utils\._rebuild_device_tensor_from_numpy")
    broken("reduce-storage-class.pt", b"\x80\x02ctorch\nFloatStorage\n)R.", r"REDUCE of torch\.FloatStorage")
    broken("ext1.pt", b"\x80\x02\x82\x01.", r"opcode EXT1")
    broken("bad-memo.pt", b"\x80\x02h\x07.", r"memo entry 7")
    broken("truncated-pickle.pt", tensor_pkl([4], 4)[:40], r"truncated")
    # Sizes that do not fit the bytes: a 2^40-element tensor, a storage declaring 2^50 elements.
    broken("huge-tensor.pt", tensor_pkl([1 << 40], 4), r"runs past its storage")
    broken("huge-storage.pt", tensor_pkl([4], 1 << 50), r"declares \d+ × F32 elements but the record holds 16 bytes")
    broken("compressed-storage.pt", tensor_pkl([4], 4), r"compressed", compress_storage=True)
    broken("missing-storage.pt", tensor_pkl([4], 4).replace(su("0"), su("9")), r"data/9 is missing")
    save({"t": torch.arange(6.0).view(2, 3).t()}, out / "non-contiguous.pt")
    cases["non-contiguous.pt"] = {"expect": r"non-contiguous view \(shape \[3,2\], stride \[1,3\]\)", "hostile": False}
    save({"w": torch.zeros(3)}, out / "legacy.pt", _use_new_zipfile_serialization=False)
    cases["legacy.pt"] = {"expect": r"legacy PyTorch serialization", "hostile": False}
    whole = (HERE / "misc.pt").read_bytes()
    (out / "truncated.pt").write_bytes(whole[: len(whole) // 2])
    cases["truncated.pt"] = {"expect": r"end-of-central-directory|truncated", "hostile": False}
    (out / "not-a-checkpoint.pt").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\0" * 32)
    cases["not-a-checkpoint.pt"] = {"expect": r"neither safetensors nor a PyTorch checkpoint", "hostile": False}

    # Prove the hostile files are hostile: unrestricted torch.load (child process) runs the payload.
    for name, c in cases.items():
        if not c["hostile"]:
            continue
        if os.path.exists(MARKER):
            os.remove(MARKER)
        code = f"import torch\ntry: torch.load({str(out / name)!r}, weights_only=False)\nexcept Exception: pass"
        subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
        assert os.path.exists(MARKER), f"{name}: payload did not run under an unrestricted torch.load"
        os.remove(MARKER)
    (out / "cases.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    fixtures()
    misc()
    bad()
    print("wrote", HERE)
