"""The api process's memory settings."""

from __future__ import annotations

import ctypes
import platform


def keep_freed_memory(trim: int = 64 << 20, mmap: int = 16 << 20) -> bool:
    """Let glibc's malloc keep up to ``trim`` bytes of freed memory per arena, and serve blocks
    below ``mmap`` bytes from it. A suggestion scores its candidates in arrays of a few MB;
    with glibc's defaults each one is a fresh mapping whose pages fault in one by one, which
    costs more than the arithmetic. Process-wide; a no-op (False) off glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_trim_threshold, trim)) and bool(mallopt(m_mmap_threshold, mmap))
