"""The native part of omcache.pylibmc, named as pylibmc's is (``_pylibmc``).

Everything lives in the extension module ``omcache._native`` (submodule ``pylibmc``): the
base type ``client``, the exception classes, and the constants.
"""

from omcache._native import pylibmc as _impl

_public = [name for name in dir(_impl) if not name.startswith("__")]
globals().update({name: getattr(_impl, name) for name in _public})
__version__ = _impl.__version__
__all__ = list(_public)
