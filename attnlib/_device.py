"""Where the arithmetic runs: ``"cpu"``, ``"cuda"`` or ``"auto"``, resolved once, with the reason.

The experiments' ``device=`` arguments and the command line's ``--device`` go
through :func:`resolve_device`: ``"cpu"`` is the CPU, ``"cuda"`` the first CUDA
GPU (an error where there is none), ``"auto"`` the GPU when torch sees one and
the CPU otherwise. The answer carries the reason, so the output can say which
was picked and why. Where the *data* are drawn is a separate choice
(:func:`attnlib.chain.task.check_draws`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICES", "Device", "resolve_device"]

#: The values ``device=`` and ``--device`` accept.
DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class Device:
    """A resolved device.

    Attributes
    ----------
    name : {"cpu", "cuda"}
        Where the arithmetic runs (a ``torch.device`` string).
    asked : {"cpu", "cuda", "auto"}
        What was asked for.
    reason : str
        Why ``auto`` picked ``name`` (empty when it was asked for by name).
    """

    name: str
    asked: str
    reason: str = ""

    def describe(self) -> str:
        """One phrase for the output, e.g. ``"cpu (auto: no CUDA device found)"``.

        Examples
        --------
        >>> Device("cpu", "auto", "auto: no CUDA device found").describe()
        'cpu (auto: no CUDA device found)'
        >>> Device("cpu", "cpu").describe()
        'cpu'
        """
        return f"{self.name} ({self.reason})" if self.reason else self.name


def resolve_device(device="cpu", *, what: str = "device") -> Device:
    """``device`` checked and resolved; ``what`` names it in the one-line error (e.g. ``"--device"``).

    Examples
    --------
    >>> resolve_device("cpu")
    Device(name='cpu', asked='cpu', reason='')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device must be one of 'cpu', 'cuda', 'auto', got 'gpu'
    """
    if device not in DEVICES:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, DEVICES))}, got {device!r}")
    if device == "cpu":
        return Device("cpu", "cpu")
    import torch

    found = torch.cuda.is_available()
    if device == "cuda":
        if not found:
            raise ValueError(f"{what} 'cuda' needs a CUDA GPU, and torch {torch.__version__} finds none here; "
                             f"use {what} cpu or auto")  # fmt: skip
        return Device("cuda", "cuda")
    if found:
        return Device("cuda", "auto", f"auto: CUDA device found, {torch.cuda.get_device_name(0)}")
    return Device("cpu", "auto", "auto: no CUDA device found")
