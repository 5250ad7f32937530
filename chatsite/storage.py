"""Static files in production: hashed names, compressed copies (whitenoise)."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The pages are ES modules that import each other by relative path. Rewriting
    # those imports to the hashed names makes the whole module graph immutable and
    # cacheable for a year (whitenoise serves unhashed names for 60 s only, so every
    # later visit revalidated the chain one import at a time), and lets a page
    # `modulepreload` the very URLs its imports ask for.
    support_js_module_import_aggregation = True
