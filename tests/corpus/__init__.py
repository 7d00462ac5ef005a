"""A pinned corpus of real PyPI distributions, and the cache that holds their bytes."""
