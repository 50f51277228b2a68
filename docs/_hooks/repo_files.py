"""MkDocs hook: links from a page to the repository's own files.

A page links an example or a benchmark result by its path in the repository
(``../examples/budgets.py``), so the link works where the Markdown is read
on its own. The site holds only ``docs/``: this hook copies each file so
linked into the site under ``_repo/`` and points the link at the copy. A link
to anything else (a folder, a file that is not there) is left as written, and
``mkdocs build --strict`` reports it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

LINK = re.compile(r"(?<=\]\()\.\./[^)\s#]+")
PREFIX = "_repo"


def _in_repository(page_uri: str, target: str, docs: Path) -> str | None:
    """The target's path in the repository, when it is a file outside ``docs/``."""
    root = docs.parent
    path = (docs / posixpath.dirname(page_uri) / target).resolve()
    if not path.is_file() or docs in path.parents or root not in path.parents:
        return None
    return path.relative_to(root).as_posix()


def on_files(files: Files, config: Any) -> Files:
    docs = Path(config.docs_dir).resolve()
    for page in list(files.documentation_pages()):
        text = Path(page.abs_src_path or "").read_text(encoding="utf-8")
        for target in LINK.findall(text):
            path = _in_repository(page.src_uri, target, docs)
            uri = f"{PREFIX}/{path}"
            if path is not None and files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(docs.parent / path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    docs = Path(config.docs_dir).resolve()

    def relink(match: re.Match[str]) -> str:
        path = _in_repository(page.file.src_uri, match.group(), docs)
        if path is None:
            return match.group()
        return posixpath.relpath(f"{PREFIX}/{path}", posixpath.dirname(page.file.src_uri) or ".")

    return LINK.sub(relink, markdown)
