"""trainer.device: which torch device a run trains on, checked before any folder is made.

    auto     the first available of cuda, mps, cpu
    cpu      the CPU (the numbers of every version before devices existed)
    cuda     the current CUDA device; cuda:N the N-th one
    mps      Apple's Metal backend

The name is checked without torch (a typo is refused at once, like every other value); whether the device is there
needs torch, so `require_available` imports it only for a name other than auto and cpu, which are always there.
"""

from __future__ import annotations

import os
import re
from typing import Any

from runner.errors import ConfigError
from runner.registry import did_you_mean

NAMES = ("auto", "cpu", "cuda", "mps")
ALLOWED = "auto, cpu, cuda, cuda:N (N = 0, 1, ...), mps"
# Names people type for a device that difflib would match to the wrong one ("gpu" is closest to "cpu").
HINTS = {"gpu": "cuda", "nvidia": "cuda", "metal": "mps", "apple": "mps"}
_CUDA_N = re.compile(r"cuda:(\d+)")


def check_name(key: str, value: Any) -> None:
    """A ConfigError unless `value` is one of the device forms (no torch: only the spelling is checked)."""
    if isinstance(value, str) and (value in NAMES or _CUDA_N.fullmatch(value)):
        return
    text = str(value).strip().lower()
    hint = f"; did you mean {HINTS[text]!r}?" if text in HINTS else did_you_mean(text, list(NAMES))
    raise ConfigError(f"{key}={value}: unknown device; allowed: {ALLOWED}{hint}")


def unavailable_reason(name: str) -> str | None:
    """Why the device `name` cannot be used on this machine, or None when it can (auto and cpu always can)."""
    if name in ("auto", "cpu"):
        return None
    import torch

    if name == "mps":
        return None if torch.backends.mps.is_available() else "torch sees no MPS (Apple Metal) device here"
    if not torch.cuda.is_available():
        build = f"this torch {torch.__version__} has no CUDA support" if torch.version.cuda is None else None
        return build or "torch sees no CUDA device here"
    match = _CUDA_N.fullmatch(name)
    count = torch.cuda.device_count()
    if match and int(match.group(1)) >= count:
        return f"torch sees {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
    return None


def require_available(key: str, name: str) -> None:
    """A ConfigError naming what this machine has, when `name` is not available on it."""
    reason = unavailable_reason(name)
    if reason is not None:
        raise ConfigError(f"{key}={name}: not available ({reason}); allowed here: {', '.join(available_names())}")


def available_names() -> list[str]:
    import torch

    names = ["auto", "cpu"]
    if torch.cuda.is_available():
        names += ["cuda", *(f"cuda:{i}" for i in range(torch.cuda.device_count()))]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names


def auto_choice() -> str:
    """auto's device: cuda, then mps, then cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve(name: str, key: str = "trainer.device") -> Any:
    """The torch.device for a trainer.device value, with its index filled in (cuda -> cuda:0), set up for
    repeatable results; a ConfigError when it is not available."""
    import torch

    require_available(key, name)
    device = torch.device(auto_choice() if name == "auto" else name)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        make_cuda_repeatable()
    return device


def make_cuda_repeatable() -> None:
    """The cheap switches that make CUDA runs repeat bit for bit on the same GPU and software (README, Devices).

    cuDNN's autotuner may pick a different convolution algorithm on each run, and some algorithms sum in a varying
    order: benchmark off and deterministic on fix the choice. cuBLAS needs a fixed workspace configuration, read
    when it first starts (so set it here, before the model moves to the GPU). Ops without a deterministic CUDA
    kernel warn instead of failing (warn_only), so a run never stops for them; those are what stays unrepeatable.
    """
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def describe(device: Any) -> str:
    """The device as the log names it: cuda:0 (NVIDIA H100 80GB HBM3), mps, cpu."""
    if device.type == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
