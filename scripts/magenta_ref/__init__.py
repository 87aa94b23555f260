"""Runs magenta, our reference implementation, in a separate process (scripts, benchmarks and tests only: the
library never imports this package; tests find it through `pythonpath = scripts` in pytest.ini).

magenta is installed with `--no-deps` (see the Makefile) and only works with Keras 2, which TensorFlow selects
when `TF_USE_LEGACY_KERAS=1` is set before it is imported. Our own code uses Keras 3, so magenta always runs
in a child process: parity tests, benchmarks and checks write their inputs to files, call a script from
`scripts/magenta_ref/`, and read its outputs back. Nothing in the library imports magenta.
"""
import os
import pathlib
import subprocess
import sys

SCRIPTS_DIR = pathlib.Path(__file__).resolve().parent


class MagentaUnavailable(RuntimeError):
    """magenta is not installed in this environment (install it with `pip install --no-deps magenta==2.1.4`)."""


def magenta_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("magenta") is not None


def run_magenta_script(script: str, *args, timeout: float = 1800, capture: bool = True) -> str:
    """Runs `scripts/magenta_ref/<script>` with `args` under Keras 2 and returns its stdout.

    Raises `MagentaUnavailable` when magenta is not installed, and `RuntimeError` with the child's stderr
    when the script fails.
    """
    if not magenta_available():
        raise MagentaUnavailable("magenta is not installed: run `make install-test`")
    path = pathlib.Path(script)
    if not path.is_absolute():
        path = SCRIPTS_DIR / script
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, str(path), *map(str, args)],
        env=env, capture_output=capture, text=True, timeout=timeout, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{path.name} failed with exit code {proc.returncode}:\n{(proc.stderr or '')[-4000:]}")
    return proc.stdout or ""
