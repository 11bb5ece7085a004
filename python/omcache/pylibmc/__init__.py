"""omcache.pylibmc: pylibmc 1.6's API on the omcache-rs engine (placeholder)."""
