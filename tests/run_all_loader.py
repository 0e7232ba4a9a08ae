"""``benchmarks/run_all.py`` loaded once per test process, shared by the tests of the record.

The benchmarks folder is scripts, not a package: both test files of ``run_all.py`` use this
one loader, so the module (and its dataclasses, which look their module up by name) exists
once per process.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "run_all.py"


def load_run_all() -> ModuleType:
    """``benchmarks/run_all.py`` as the module ``run_all`` (loaded on the first call only)."""
    loaded = sys.modules.get("run_all")
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == SCRIPT:
        return loaded
    spec = importlib.util.spec_from_file_location("run_all", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


run_all = load_run_all()
