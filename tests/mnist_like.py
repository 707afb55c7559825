"""The MNIST-shaped data of ``assets/make_mnist_like.py`` for tests (the script is not a
package module, so it is loaded from its file)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "assets" / "make_mnist_like.py"
_spec = importlib.util.spec_from_file_location("make_mnist_like", _PATH)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

make_mnist_like = _module.make_mnist_like
write_npz = _module.write_npz
write_zip = _module.write_zip
