#!/usr/bin/env python3
"""Reference values of the DICOM reader, decoded by pydicom, for test/unit/dicom.test.ts.

    python3 -m venv /tmp/pydicom-venv
    /tmp/pydicom-venv/bin/pip install pydicom==3.0.2 numpy pylibjpeg pylibjpeg-openjpeg pyjpegls
    /tmp/pydicom-venv/bin/python scripts/golden/dicom_golden.py   # writes test/unit/golden/dicom.json

Inputs are the real files in test/fixtures/dicom/ (see PROVENANCE.txt there). The script also
writes two lossless re-encodings of CT_small.dcm with pydicom's own encoders, RLE Lossless
(pydicom's native encoder) and JPEG-LS Lossless (pyjpegls / CharLS), so that those decoders are
tested on files made by another implementation.

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

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_windowing
from pydicom.uid import JPEGLSLossless, RLELossless

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'dicom')
OUT = os.path.join(HERE, '..', '..', 'test', 'unit', 'golden', 'dicom.json')
FILES = ['CT_small.dcm', '693_UNCR.dcm', 'MR_small.dcm', 'emri_small.dcm', 'US1_UNCR.dcm', 'RG1_J2KI.dcm']
DERIVED = {'CT_small_rle.dcm': RLELossless, 'CT_small_jpegls.dcm': JPEGLSLossless}


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


def main():
    write_derived()
    out = {
        'generator': f'scripts/golden/dicom_golden.py with pydicom {pydicom.__version__}, numpy {np.__version__}',
        'files': [describe(f) for f in FILES + list(DERIVED)],
    }
    with open(OUT, 'w') as f:  # one line per file
        f.write('{"generator": %s, "files": [\n' % json.dumps(out['generator']))
        f.write(',\n'.join(json.dumps(e) for e in out['files']))
        f.write('\n]}\n')
    print('wrote', os.path.relpath(OUT))


if __name__ == '__main__':
    main()
