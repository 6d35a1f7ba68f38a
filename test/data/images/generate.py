"""Makes the small test images of test/unit/image*.test.ts and their Pillow oracle (expected.json).

Run: /work/venv/bin/python test/data/images/generate.py   (Pillow 12; numpy)
expected.json holds, per file, what Pillow's Image.open(f).convert('RGB') gives (size, mode,
sha256 of the HWC bytes) or the error it raises, and sha256 of Pillow Image.resize results.
"""
import hashlib, io, json, struct, zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

here = Path(__file__).parent
rng = np.random.default_rng(20251123)
sha = lambda a: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def icc_profile() -> bytes:
    """A minimal ICC v2 RGB display profile, deliberately not sRGB (gamma 1.0, wide primaries),
    so that a decoder that colour-manages would visibly change the pixels."""
    def s15(v): return struct.pack('>i', round(v * 65536))
    def xyz(x, y, z): return b'XYZ ' + b'\0' * 4 + s15(x) + s15(y) + s15(z)
    def curv(g): return b'curv' + b'\0' * 4 + struct.pack('>I', 1) + struct.pack('>H', round(g * 256)) + b'\0\0'
    def desc(s):
        a = s.encode() + b'\0'
        return b'desc' + b'\0' * 4 + struct.pack('>I', len(a)) + a + b'\0' * 8 + b'\0' * 3 + b'\0' * 67
    tags = [(b'desc', desc('tsvlm test gamma 1.0')), (b'wtpt', xyz(0.9642, 1.0, 0.8249)),
            (b'rXYZ', xyz(0.7977, 0.2880, 0.0)), (b'gXYZ', xyz(0.1352, 0.7119, 0.0)), (b'bXYZ', xyz(0.0313, 0.0001, 0.8249)),
            (b'rTRC', curv(1.0)), (b'gTRC', curv(1.0)), (b'bTRC', curv(1.0)),
            (b'cprt', b'text' + b'\0' * 4 + b'public domain\0')]
    off = 128 + 4 + 12 * len(tags)
    table, data = b'', b''
    for sig, body in tags:
        while (off + len(data)) % 4: data += b'\0'
        table += sig + struct.pack('>II', off + len(data), len(body))
        data += body
    size = off + len(data)
    header = (struct.pack('>I', size) + b'\0' * 4 + struct.pack('>I', 0x02100000) + b'mntrRGB XYZ ' + b'\0' * 12 + b'acsp'
              + b'\0' * 24 + struct.pack('>I', 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + b'\0' * 48)
    assert len(header) == 128
    return header + struct.pack('>I', len(tags)) + table + data


def png16(arr, color_type):
    h, w = arr.shape[:2]
    raw = b''.join(b'\0' + arr[y].astype('>u2').tobytes() for y in range(h))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, color_type, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


files = {}
def save(name, im, **kw):
    im.save(here / name, **kw)
    files[name] = None

noise = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)
save('rgb-noise.png', Image.fromarray(noise))
y, x = np.mgrid[0:19, 0:29]
gray = ((x * 9 + y * 5) % 256).astype(np.uint8)
gray[6:13, 10:19] = np.where((x[6:13, 10:19] + y[6:13, 10:19]) % 2, 255, 0)
save('gray-checker.png', Image.fromarray(gray))
save('la.png', Image.fromarray(np.stack([gray, 255 - gray], -1), 'LA'))
rgba = rng.integers(0, 256, (12, 20, 4), dtype=np.uint8)
rgba[:4, :4, 3] = 0
save('rgba.png', Image.fromarray(rgba))
pal = Image.fromarray(noise[:16, :24]).quantize(16)
save('palette-trns.png', pal, transparency=2)
save('icc-gamma1.png', Image.fromarray(noise[:16, :16]), icc_profile=icc_profile())
(here / 'rgb16.png').write_bytes(png16(rng.integers(0, 65536, (8, 12, 3), dtype=np.uint16), 2)); files['rgb16.png'] = None
(here / 'gray16.png').write_bytes(png16(rng.integers(0, 65536, (8, 12), dtype=np.uint16), 0)); files['gray16.png'] = None
smooth = np.stack([x * 8, y * 12, (x + y) * 5], -1).clip(0, 255).astype(np.uint8)[:16, :24]
ex = Image.Exif(); ex[0x0112] = 6
save('exif-rotate6.jpg', Image.fromarray(smooth), quality=90, exif=ex.tobytes())
save('cmyk.jpg', Image.fromarray(smooth).convert('CMYK'), quality=95)
save('lossy.webp', Image.fromarray(smooth), quality=80)
save('lossless-alpha.webp', Image.fromarray(rgba), lossless=True)
# Animated GIF: frame 0 has a transparent index and a local palette; the logical screen is then
# widened so that part of the canvas lies outside frame 0 (Pillow fills it with the transparent index).
frames = [Image.fromarray(rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)).quantize(8) for _ in range(3)]
buf = io.BytesIO()
frames[0].save(buf, format='GIF', save_all=True, append_images=frames[1:], transparency=3, duration=100, loop=0, disposal=2)
gif = bytearray(buf.getvalue())
gif[6:8] = struct.pack('<H', 17)  # screen width 14 -> 17
(here / 'anim-trns.gif').write_bytes(bytes(gif)); files['anim-trns.gif'] = None
# Pillow only interlaces GIFs whose sides are both at least 16.
Image.fromarray(rng.integers(0, 256, (18, 17, 3), dtype=np.uint8)).quantize(6).save(here / 'interlaced.gif', interlace=True)
files['interlaced.gif'] = None

expected = {'pillow': PIL.__version__, 'files': {}, 'resize': []}
for name in files:
    try:
        im = Image.open(here / name)
        rgb = np.asarray(im.convert('RGB'))
        expected['files'][name] = dict(format=im.format, mode=im.mode, width=im.size[0], height=im.size[1], rgb_sha256=sha(rgb))
    except Exception as e:  # noqa: BLE001
        expected['files'][name] = dict(error=f'{type(e).__name__}: {e}')

# Resize oracle: up/down/odd ratios, 1-pixel sides, one axis unchanged, boxes; RGB and L.
targets = [(1, 1), (1, 23), (37, 1), (37, 23), (36, 23), (37, 22), (74, 46), (111, 69), (19, 12), (12, 19), (5, 3),
           (8, 8), (40, 25), (3, 60), (100, 7), (18, 11), (13, 9), (2, 2), (29, 19), (64, 64)]
boxes = [None, (3, 2, 30, 20), (0.5, 1.25, 36.5, 22.0), (10, 5, 11, 6)]
for src in ['rgb-noise.png', 'gray-checker.png']:
    im = Image.open(here / src)
    for filt in ['BILINEAR', 'BICUBIC']:
        for (w, h) in targets:
            for box in boxes:
                if box is not None and src != 'rgb-noise.png':
                    continue
                r = im.resize((w, h), getattr(Image.Resampling, filt), box=box)
                expected['resize'].append(dict(src=src, filter=filt.lower(), width=w, height=h, box=box, sha256=sha(np.asarray(r))))
(here / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')
print(len(files), 'files,', len(expected['resize']), 'resize cases')
