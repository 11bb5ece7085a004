"""omcache: memcached client on the omcache-rs Rust engine (placeholder, filled in by its owner)."""

from . import _native  # noqa: F401
