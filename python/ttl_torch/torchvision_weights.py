"""torchvision's ImageNet weights (``"weights": "torchvision-imagenet"``, the torch engine only).

torchvision's published ``IMAGENET1K_V1`` checkpoints of the architectures the torch engine builds
torchvision's way (resnet18, resnet50 — torchvision's ResNet v1.5, stride on the 3×3 —,
densenet121), fetched with torch alone (no torchvision needed) into torch's own hub cache,
``$TORCH_HOME/hub/checkpoints/<file>`` (default ``~/.cache/torch/hub/checkpoints``), where
torchvision keeps them too. The download is the one ``torch.hub.load_state_dict_from_url(url,
check_hash=True)`` makes (``torch.hub.download_url_to_file`` with the hash prefix); that
function is not called itself because it loads a file already in the cache unchecked, while
here every file is checked against the SHA-256 prefix in its name (torchvision's convention),
also one that was put there by hand, before it is loaded; its tensors are then mapped onto our layer names
(`torch_names.load_reference_state_dict`). Offline, the error names the URL and the exact path
to put the file at.

Not the Keras weights of ``"weights": "imagenet"`` (resnet50 there is the Keras v1 network):
these are distinct weights of a distinct architecture, hence a distinct name.
"""

import hashlib
import re
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .models.graph import Net
from .torch_names import load_reference_state_dict
from .weights import WeightsError

#: The value of ``model.weights`` that asks for these weights.
TORCHVISION_IMAGENET = "torchvision-imagenet"

#: backbone → torchvision's ``IMAGENET1K_V1`` checkpoint (torchvision.models.*_Weights).
URLS: Dict[str, str] = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
    "densenet121": "https://download.pytorch.org/models/densenet121-a639ec97.pth",
}

_HASH = re.compile(r"-([a-f0-9]+)\.")


def checkpoint_path(url: str) -> Path:
    """Where torch's hub cache keeps the file of `url`: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def check_file(path: Path, url: str) -> None:
    """The SHA-256 of `path` starts with the prefix in `url`'s file name.
    :raises WeightsError: naming the file, the digest and what was expected.
    """
    m = _HASH.search(url.rsplit("/", 1)[-1])
    if not m:
        return
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if not digest.startswith(m.group(1)):
        raise WeightsError(f"{path} is not the file of {url}: its SHA-256 starts {digest[:len(m.group(1))]}, expected {m.group(1)}; delete it and fetch it again")


def fetch(url: str) -> Path:
    """The checkpoint of `url` in torch's hub cache, downloaded there first when missing (hash
    checked by torch); checked against its hash prefix either way.
    :raises WeightsError: offline (naming the URL and the path to put the file at) or for a wrong file.
    """
    path = checkpoint_path(url)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(url, str(path), hash_prefix=_HASH.search(path.name).group(1), progress=False)
        except RuntimeError as e:
            # torch's own hash check of the download
            raise WeightsError(f"{url}: the download does not match its hash ({e})") from None
        except Exception as e:  # noqa: BLE001 - URLError, OSError, HTTP errors: all mean "not fetched"
            raise WeightsError(f"could not download {url} ({type(e).__name__}: {e}); offline, download it elsewhere and put it at {path}") from None
    check_file(path, url)
    return path


def load_file(net: Net, path: Path, source: Optional[str] = None) -> List[str]:
    """Loads a torchvision checkpoint (a state dict in torchvision's naming) into `net`."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign file
        raise WeightsError(f"{path}: not a torch checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: not a state dict")
    return load_reference_state_dict(net, state, source or str(path))


def load_torchvision_imagenet(net: Net) -> List[str]:
    """torchvision's ImageNet weights of `net` (fetched if needed), mapped onto our layers.
    :raises WeightsError: for a backbone torchvision has no such weights of, offline, or a wrong file.
    """
    url = URLS.get(net.name)
    if url is None or net.spec.layout != "torchvision":
        raise WeightsError(f'"{TORCHVISION_IMAGENET}" is available for {", ".join(URLS)} only, not {net.name}')
    return load_file(net, fetch(url))


#: The extensions of a user's torch checkpoint in ``model.weights``.
PTH_SUFFIXES = (".pth", ".pt")

#: Where common checkpoints keep the state dict (a training script's ``{"state_dict": …}``, ``{"model": …}``).
_WRAPPERS = ("state_dict", "model")

_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", re.S)


def is_pth(weights: Optional[str]) -> bool:
    """Whether `weights` names a user's torch checkpoint (``.pth``/``.pt``)."""
    return bool(weights) and str(weights).lower().endswith(PTH_SUFFIXES)


def read_pth(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of a user's ``.pth``/``.pt`` file, read with ``weights_only=True`` (no
    arbitrary object is unpickled): a bare state dict, or one under ``state_dict`` / ``model``.
    :raises WeightsError: one line naming the file: unreadable, refused by ``weights_only``, not a state dict.
    """
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: not found") from None
    except Exception as e:  # noqa: BLE001 - UnpicklingError (weights_only), a corrupt or foreign file
        text = str(e)
        g = _UNSUPPORTED_GLOBAL.search(text)
        if g:
            raise WeightsError(
                f"{path}: torch.load(weights_only=True) refuses it: it pickles {g.group(1)}, not only tensors; save the model's state_dict() instead and use that file"
            ) from None
        u = _UNPICKLER.search(text)
        detail = u.group(1).strip() if u else (text.splitlines() or [type(e).__name__])[0]
        raise WeightsError(f"{path}: not a torch checkpoint torch.load(weights_only=True) can read ({type(e).__name__}: {detail})") from None
    state = obj
    if isinstance(obj, dict):
        for key in _WRAPPERS:
            inner = obj.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                state = inner
                break
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        what = type(obj).__name__ if not isinstance(obj, dict) else f"a dict of {', '.join(sorted({type(v).__name__ for v in obj.values()})) or 'nothing'}"
        raise WeightsError(f"{path}: not a state dict (found {what}); expected tensors by name, or a checkpoint holding them under {' or '.join(repr(k) for k in _WRAPPERS)}")
    return state


def load_pth(net: Net, path: str) -> List[str]:
    """A user's ``.pth``/``.pt`` in torchvision's naming (``module.`` stripped, the classifier
    ignored), mapped onto `net`'s layers; nothing is assigned unless every weight fits.
    :raises WeightsError: for a backbone without torchvision names, or a file that does not fit (names, shapes).
    """
    if net.name not in URLS or net.spec.layout != "torchvision":
        raise WeightsError(f"{path}: a .pth file is read in torchvision's naming, available for {', '.join(URLS)} only, not {net.name}")
    state = read_pth(path)
    try:
        return load_reference_state_dict(net, state, str(path))
    except WeightsError as e:
        example = "layer1.0.conv1.weight" if net.name.startswith("resnet") else "features.denseblock1.denselayer1.conv1.weight"
        raise WeightsError(f"{e}; expected torchvision's {net.name} layout (e.g. {example})") from None
