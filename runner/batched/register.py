"""Make `hydra/launcher=batched` available however clr-lab is installed.

Hydra finds launcher classes by scanning the `hydra_plugins` namespace package and accepts only classes defined
there. An installed wheel ships runner/batched/plugin/ as hydra_plugins.clr_lab_batched (pyproject.toml), which the
scan finds. A source checkout on PYTHONPATH, or an editable install made before the plugin existed, has no such
package on the path: then the shim beside this module is loaded under that name. Either way the class is then
registered with Hydra's public `Plugins.register`, so the launcher never depends on how the scan sees the path.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from runner.hydra_compat import pickle_by_value

PACKAGE = "hydra_plugins.clr_lab_batched"
MODULE = f"{PACKAGE}.batched_launcher"
_SOURCE = Path(__file__).resolve().parent / "plugin"


def _load_from_source() -> None:
    """The shim in this checkout, under its plugin name (its parent namespace package first)."""
    import hydra_plugins  # the namespace package: hydra-joblib-launcher, a dependency, provides it

    spec = importlib.util.spec_from_file_location(
        PACKAGE, _SOURCE / "__init__.py", submodule_search_locations=[str(_SOURCE)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    hydra_plugins.clr_lab_batched = package
    module = importlib.import_module(MODULE)
    # A parallel worker cannot import this name: the classes travel by value (runner/hydra_compat.py, 12).
    pickle_by_value(package)
    pickle_by_value(module)


def register_plugin() -> None:
    """Import the shim (this checkout's when it has one) and register its launcher class with Hydra."""
    from hydra.core.plugins import Plugins

    if PACKAGE not in sys.modules and (_SOURCE / "batched_launcher.py").is_file():
        _load_from_source()
    module = importlib.import_module(MODULE)
    Plugins.instance().register(module.BatchedLauncher)
