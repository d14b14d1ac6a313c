"""TTL Studio's PyTorch engine.

The same backbones, layer names, cut points and weights as the TypeScript engine
(`src/engine/models/`), computed by PyTorch on CUDA, Apple MPS or the CPU. See
`docs/torch-engine.md` for the layout, the layer-name map and the weight exchange format.

Entry point: ``python -m ttl_torch doctor`` (and ``python -m ttl_torch.parity`` for the tests).
"""

__version__ = "0.1.0"

#: The oldest torch the engine runs on.
MIN_TORCH = (2, 1)
#: What to tell a user without a (recent enough) torch.
INSTALL_HINT = "pip install 'torch>=2.1'"
