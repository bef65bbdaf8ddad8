"""Package facades whose public names are imported on first use (PEP 562).

Each package's ``__init__.py`` lists its exports by private module and calls
:func:`lazy_exports` once, so that importing a package (as the command line does to
build its parser) imports none of the heavy libraries its modules need.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: MutableMapping[str, Any], exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a facade.

    Parameters
    ----------
    namespace : dict
        The facade's ``globals()`` (it has ``__name__`` and ``__all__``).
    exports : mapping
        Submodule (relative, e.g. ``"_space"``) -> the public names it defines.
    """
    package = namespace["__name__"]
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        try:
            module = home[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace["__all__"]})

    return __getattr__, __dir__
