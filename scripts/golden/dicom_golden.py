#!/usr/bin/env python3
"""Reference values of the DICOM reader, decoded by pydicom, for test/unit/dicom.test.ts.

    python3 -m venv /tmp/pydicom-venv
    /tmp/pydicom-venv/bin/pip install pydicom==3.0.2 numpy pylibjpeg pylibjpeg-openjpeg pyjpegls pillow
    /tmp/pydicom-venv/bin/python scripts/golden/dicom_golden.py   # writes test/unit/golden/dicom.json

Inputs are the real files in test/fixtures/dicom/ (see PROVENANCE.txt there). The script also
writes two lossless re-encodings of CT_small.dcm with pydicom's own encoders, RLE Lossless
(pydicom's native encoder) and JPEG-LS Lossless (pyjpegls / CharLS), so that those decoders are
tested on files made by another implementation; and two JPEG Baseline files made with Pillow
(libjpeg), decoded by pydicom with Pillow: the grey display values of CT_small.dcm (quality 90),
and the middle 128x128 of US1_UNCR.dcm in colour (quality 90, no chroma subsampling, YBR_FULL).
Lossy JPEG decoders may differ by a few units (IDCT and colour conversion arithmetic), so for
those the JSON keeps the mean of every 8x8 block and channel, 16 samples and the overall mean,
for a tolerance test. pydicom gives each written file new UIDs, so the re-encoded files are
written only when absent (`--rewrite` writes them again); the reference values are always
recomputed from the files as they are.

Per file the JSON holds, rather than whole arrays:
- the header fields the reader uses, and the shape;
- sha256 of pydicom's `pixel_array` as little-endian int32 (stored values, frame-major,
  colour interleaved), which a reader must reproduce exactly;
- the Modality LUT values (`apply_modality_lut`, HU for CT): min, max, mean, and 16 samples;
- the 8-bit display values: the file's window (VOI LUT linear function, PS3.3 C.11.2.1.2.1,
  output 0..255, rounded half up) when it has one, else min-max over the image or volume
  ((v - lo) * (255 / (hi - lo)), rounded half up), then MONOCHROME1 inverted; sha256 and 16
  samples. The windowed values are checked here against pydicom's `apply_windowing` (whose
  output range is mapped affinely onto 0..255) before they are written;
- for colour images, the grey luma of PIL's `convert('L')`: (19595 R + 38470 G + 7471 B + 32768) >> 16.
"""
import hashlib
import json
import os
import sys

import io

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut, apply_windowing
from pydicom.uid import JPEGBaseline8Bit, JPEGLSLossless, RLELossless

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'dicom')
OUT = os.path.join(HERE, '..', '..', 'test', 'unit', 'golden', 'dicom.json')
FILES = ['CT_small.dcm', '693_UNCR.dcm', 'MR_small.dcm', 'emri_small.dcm', 'US1_UNCR.dcm', 'RG1_J2KI.dcm']
DERIVED = {'CT_small_rle.dcm': RLELossless, 'CT_small_jpegls.dcm': JPEGLSLossless}
JPEGS = ['CT_small_jpeg.dcm', 'US1_crop_jpeg.dcm']


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def sample_indices(n):
    return [int(round(i * (n - 1) / 15)) for i in range(16)]


def round_half_up(y):
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def window_linear(x, c, w):
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0.0, np.where(x > c - 0.5 + (w - 1) / 2, 255.0, y))
    return y


def describe(name):
    ds = pydicom.dcmread(os.path.join(FIXTURES, name))
    arr = ds.pixel_array
    frames = int(ds.get('NumberOfFrames', 1) or 1)
    samples = int(ds.SamplesPerPixel)
    entry = {
        'file': name,
        'transferSyntax': str(ds.file_meta.TransferSyntaxUID),
        'rows': int(ds.Rows),
        'columns': int(ds.Columns),
        'frames': frames,
        'samples': samples,
        'photometric': str(ds.PhotometricInterpretation),
        'storedSha256': sha(arr.astype('<i4')),
    }
    flat = arr.astype(np.float64).ravel()
    idx = sample_indices(flat.size)
    entry['sampleIndices'] = idx
    if samples == 3:
        rgb = arr.astype(np.int64).reshape(-1, 3)
        luma = ((rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 32768) >> 16).astype(np.uint8)
        entry['storedSamples'] = [int(flat[i]) for i in idx]
        entry['lumaSha256'] = sha(luma)
        entry['lumaSamples'] = [int(luma[i]) for i in sample_indices(luma.size)]
        return entry
    mod = apply_modality_lut(arr, ds).astype(np.float64)
    m = mod.ravel()
    entry['rescale'] = {'slope': float(ds.get('RescaleSlope', 1)), 'intercept': float(ds.get('RescaleIntercept', 0))}
    entry['modality'] = {'min': float(m.min()), 'max': float(m.max()), 'mean': float(m.mean()), 'samples': [float(m[i]) for i in idx]}
    if 'WindowCenter' in ds and 'WindowWidth' in ds:
        c = float(pydicom.multival.MultiValue(float, ds.WindowCenter)[0]) if ds['WindowCenter'].VM > 1 else float(ds.WindowCenter)
        w = float(pydicom.multival.MultiValue(float, ds.WindowWidth)[0]) if ds['WindowWidth'].VM > 1 else float(ds.WindowWidth)
        y = window_linear(m, c, w)
        # pydicom's windowing, its output range mapped onto 0..255: the same function
        ref = apply_windowing(mod.copy(), ds).astype(np.float64).ravel()
        ends = apply_windowing(np.array([-1e12, 1e12]), ds).astype(np.float64)
        ref = (ref - ends[0]) / (ends[1] - ends[0]) * 255
        assert np.max(np.abs(ref - y)) < 1e-6, (name, np.max(np.abs(ref - y)))
        entry['window'] = {'center': c, 'width': w}
        display = round_half_up(y)
    else:
        lo, hi = m.min(), m.max()
        display = round_half_up((m - lo) * (255.0 / (hi - lo)))
    if entry['photometric'] == 'MONOCHROME1':
        entry['displayBeforeInversionSamples'] = [int(display[i]) for i in idx]
        display = (255 - display).astype(np.uint8)
    entry['displaySha256'] = sha(display)
    entry['displaySamples'] = [int(display[i]) for i in idx]
    return entry


def write_derived():
    src = pydicom.dcmread(os.path.join(FIXTURES, 'CT_small.dcm'))
    for name, syntax in DERIVED.items():
        ds = pydicom.dcmread(os.path.join(FIXTURES, 'CT_small.dcm'))
        ds.compress(syntax)
        ds.save_as(os.path.join(FIXTURES, name), enforce_file_format=True)
        back = pydicom.dcmread(os.path.join(FIXTURES, name)).pixel_array
        assert np.array_equal(back, src.pixel_array), name


def write_jpeg(name, base, pixels, mode, photometric):
    ds = pydicom.dcmread(os.path.join(FIXTURES, base))
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, format='JPEG', quality=90, subsampling=0)
    for k in ['RescaleSlope', 'RescaleIntercept', 'WindowCenter', 'WindowWidth', 'PlanarConfiguration']:
        if k in ds:
            del ds[k]
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if mode == 'RGB' else 1
    if mode == 'RGB':
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PixelData = encapsulate([buf.getvalue()])
    ds['PixelData'].VR = 'OB'
    ds['PixelData'].is_undefined_length = True
    ds.save_as(os.path.join(FIXTURES, name), enforce_file_format=True)


def write_jpegs():
    ct = pydicom.dcmread(os.path.join(FIXTURES, 'CT_small.dcm'))
    m = apply_modality_lut(ct.pixel_array, ct).astype(np.float64)
    grey = round_half_up((m - m.min()) * (255.0 / (m.max() - m.min())))
    write_jpeg('CT_small_jpeg.dcm', 'CT_small.dcm', grey, 'L', 'MONOCHROME2')
    us = pydicom.dcmread(os.path.join(FIXTURES, 'US1_UNCR.dcm')).pixel_array
    write_jpeg('US1_crop_jpeg.dcm', 'US1_UNCR.dcm', np.ascontiguousarray(us[176:304, 256:384]), 'RGB', 'YBR_FULL')


def describe_jpeg(name):
    ds = pydicom.dcmread(os.path.join(FIXTURES, name))
    arr = ds.pixel_array.astype(np.float64)  # Pillow; YBR_FULL comes back as RGB
    rows, cols = arr.shape[:2]
    blocks = arr.reshape(rows // 8, 8, cols // 8, 8, -1).mean(axis=(1, 3))  # (rows/8, cols/8, channels)
    flat = arr.ravel()
    idx = sample_indices(flat.size)
    return {
        'file': name,
        'transferSyntax': str(ds.file_meta.TransferSyntaxUID),
        'rows': int(ds.Rows),
        'columns': int(ds.Columns),
        'frames': 1,
        'samples': int(ds.SamplesPerPixel),
        'photometric': str(ds.PhotometricInterpretation),
        'mean': float(flat.mean()),
        'sampleIndices': idx,
        'pixelSamples': [int(flat[i]) for i in idx],
        'blockMeans': [round(float(v), 3) for v in blocks.ravel()],
    }


def main():
    rewrite = '--rewrite' in sys.argv
    if rewrite or not all(os.path.exists(os.path.join(FIXTURES, f)) for f in list(DERIVED) + JPEGS):
        write_derived()
        write_jpegs()
    out = {
        'generator': f'scripts/golden/dicom_golden.py with pydicom {pydicom.__version__}, numpy {np.__version__}',
        'files': [describe(f) for f in FILES + list(DERIVED)],
        'jpeg': [describe_jpeg(f) for f in JPEGS],
    }
    with open(OUT, 'w') as f:  # one line per file
        f.write('{"generator": %s, "files": [\n' % json.dumps(out['generator']))
        f.write(',\n'.join(json.dumps(e) for e in out['files']))
        f.write('\n], "jpeg": [\n')
        f.write(',\n'.join(json.dumps(e) for e in out['jpeg']))
        f.write('\n]}\n')
    print('wrote', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
