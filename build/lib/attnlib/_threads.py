"""One context manager: run torch on a single thread inside a block, then restore the caller's setting."""

from __future__ import annotations

__all__ = ["single_torch_thread"]


class single_torch_thread:
    """Run torch single-threaded inside the block, then restore the caller's setting.

    The engine and the variants make many small torch calls; torch's intra-op
    threads gain little on them (1.25x measured on 2 idle cores) and stall
    badly at every barrier when another program holds a core (5-10x slower
    measured). Parallelism, where there is any, comes from processes instead.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with single_torch_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """

    def __enter__(self):
        import torch

        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.saved)
        return False
