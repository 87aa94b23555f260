"""Keeps the user's terminal to our own output: TensorFlow's start-up noise is filtered out of stderr.

TensorFlow's C++ core logs a dozen lines at import and first use (oneDNN notices, "Could not find cuda drivers",
`E0000 ... failed call to cuInit` on machines without a GPU, CPU-feature notices), several of them before absl's
log level applies, so `TF_CPP_MIN_LOG_LEVEL` cannot silence them. `quiet_stderr()` puts a filter between file
descriptor 2 and the terminal: glog-style lines of severity I and W, the no-GPU errors and the known notices are
dropped; everything else (our messages, Python tracebacks, progress bars, other errors) passes unchanged.
Python-level noise (TFDS deprecation warnings, absl INFO lines, TensorFlow's Python warnings) is turned down at the
same time.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
import warnings

# glog format: severity letter, MMDD, time, thread id, file:line]
_GLOG = re.compile(rb"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ ([\w.\-]+):\d+\]")
_NO_GPU_SOURCES = (b"cuda_platform.cc", b"cuda_executor.cc", b"cuda_diagnostics.cc", b"cudart_stub.cc",
                   b"cuda_dnn.cc", b"cuda_fft.cc", b"cuda_blas.cc")
# logged as an error by oneDNN when an int32 op falls back to Eigen: harmless (same results)
_KNOWN_HARMLESS_ERROR = b"oneDNN supports DT_INT32 only on platforms with AVX-512"
_NOTICES = (b"WARNING: All log messages before absl::InitializeLog()",
            b"To enable the following instructions:", b"This TensorFlow binary is optimized")
_PREFIXES = (b"I", b"W", b"E", b"F", b"WARNING: All", b"To enable", b"This TensorFlow")


def is_noise(line: bytes) -> bool:
    """True for one stderr line (without its end) that is TensorFlow start-up noise."""
    match = _GLOG.match(line)
    if match:
        return line[:1] in (b"I", b"W") or match.group(1) in _NO_GPU_SOURCES or _KNOWN_HARMLESS_ERROR in line
    return line.startswith(_NOTICES)


def _could_become_noise(partial: bytes) -> bool:
    """True when an unfinished line may still turn out to be noise (so it is held until it ends)."""
    return any(partial.startswith(p) or p.startswith(partial) for p in _PREFIXES)


def _pump(read_fd: int, write_fd: int):
    pending = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        pending += chunk
        out = []
        while True:  # complete segments end with "\n" or "\r" (progress bars redraw with "\r")
            ends = [i for i in (pending.find(b"\n"), pending.find(b"\r")) if i >= 0]
            if not ends:
                break
            end = min(ends) + 1
            segment, pending = pending[:end], pending[end:]
            if not is_noise(segment.rstrip(b"\r\n")):
                out.append(segment)
        if pending and not _could_become_noise(pending):
            out.append(pending)
            pending = b""
        if out:
            os.write(write_fd, b"".join(out))
    if pending and not is_noise(pending):
        os.write(write_fd, pending)


def quiet_stderr():
    """Filters TensorFlow's noise out of this process's stderr from now on (call before importing TensorFlow).

    Idempotent; the filter drains at interpreter exit.
    """
    if getattr(quiet_stderr, "active", False):
        return
    quiet_stderr.active = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*FeatureConnector\.dtype.*")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.WARNING)
        logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS deprecation notices come through it
    except ImportError:
        pass
    # TensorFlow's Python warnings (e.g. "N out of the last N calls ... triggered tf.function retracing" when an
    # evaluation traces one compiled loop per scheduler and step count): about its internals, not the user's input
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    sys.stderr.flush()
    terminal = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_pump, args=(read_fd, terminal), daemon=True, name="stderr-filter")
    thread.start()

    def drain():
        sys.stderr.flush()
        os.dup2(terminal, 2)  # closes the pipe's last write end: the pump sees the end and finishes
        thread.join(timeout=5)

    atexit.register(drain)
