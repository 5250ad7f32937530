"""Static files in production: the project's scripts minified, hashed names,
compressed copies (whitenoise)."""

from __future__ import annotations

from typing import Any

import rjsmin
from django.core.files.base import ContentFile
from whitenoise.storage import CompressedManifestStaticFilesStorage


class _Minified:
    """A source storage whose scripts read minified: the hashed copies (what pages
    load) are then the minified text, hashed and import-rewritten as it is."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage

    def open(self, path: str, mode: str = "rb") -> ContentFile[bytes]:
        with self.storage.open(path, mode) as source:
            text = source.read().decode("utf-8")
        return ContentFile(rjsmin.jsmin(text).encode("utf-8"), name=path)


def _ours(name: str) -> bool:
    """A script of the project's own (the vendored libraries come minified)."""
    return name.endswith(".js") and not name.startswith("vendor/")


class StaticStorage(CompressedManifestStaticFilesStorage):
    # The pages are ES modules that import each other by relative path. Rewriting
    # those imports to the hashed names makes the whole module graph immutable and
    # cacheable for a year (whitenoise serves unhashed names for 60 s only, so every
    # later visit revalidated the chain one import at a time), and lets a page
    # `modulepreload` the very URLs its imports ask for.
    support_js_module_import_aggregation = True

    def post_process(self, paths: dict[str, Any], dry_run: bool = False, **options: Any) -> Any:
        # The sources keep their comments (they explain the code); the copies served
        # lose them and their indentation: a third of the chat page's own bytes.
        paths = {
            name: (_Minified(storage), path) if _ours(name) else (storage, path)
            for name, (storage, path) in paths.items()
        }
        yield from super().post_process(paths, dry_run, **options)
