"""Refuse to run when another project shares the ``guardrails`` import package (issue 18).

Other distributions on PyPI install an import package named ``guardrails`` too:
``guardrails`` (a 2021 code tool), ``guardrails-ai`` and ``openai-guardrails``.
pip lets them overwrite each other's files without a word:

(b) installed *before* this library, the other's files are overwritten by ours:
    it no longer works, and uninstalling it later deletes files of ours. Our
    ``__init__`` runs and finds the other's RECORD (:func:`check_at_init`).
(a) installed *after*, its ``__init__.py`` replaced ours: ``import guardrails``
    gives the other project and no code of ours runs. Our subpackages still load
    when imported by name (``guardrails.policy``, the pytest plugin, the command);
    the first leaf they load, ``guardrails._text``, sees that our ``__init__`` never
    ran (:func:`check_parent`) and says whose ``__init__.py`` it is.
(c) the other then *uninstalled*: ``guardrails/__init__.py`` is gone and Python
    imports ``guardrails`` as a namespace package; the same leaf check says so.

Only distributions installed in the directory that holds the package can overwrite
it, so only that directory's ``*.dist-info`` are read. :func:`check` reads every
RECORD there (the command line calls it); the check on ``import guardrails`` lists
the directory once and reads only the RECORDs of distributions whose name says
guardrails (every RECORD would cost tens of milliseconds in a large environment).
An editable install is no clash: its RECORD lists no file of the package.

``RUNTIME_GUARDRAILS_SKIP_INSTALL_CHECK=1`` skips every check, for a false alarm or
an environment that cannot be fixed yet.

This module imports only the standard library, and that lazily beyond ``os`` and
``sys``: it runs before anything else of the package, and when the package is broken.
"""

from __future__ import annotations

import os
import sys

__all__ = ["DISTRIBUTION", "SKIP_VARIABLE", "check", "check_at_init", "check_parent", "diagnose"]

#: The name this library is published under.
DISTRIBUTION = "runtime-guardrails"
#: Set to ``1`` to skip every check of this module.
SKIP_VARIABLE = "RUNTIME_GUARDRAILS_SKIP_INSTALL_CHECK"

_PACKAGE = "guardrails"  # not from __name__: the tests load this file on its own to diagnose
_PREFIX = _PACKAGE + "/"  # RECORD paths use "/" on every platform
_INIT = _PREFIX + "__init__.py"
_OURS_ONLY = _PREFIX + "_install.py"  # a file no other project ships: it marks a build of ours
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
#: Set on our package module by our ``__init__``: a leaf that sees it knows the
#: ``__init__`` that ran was ours.
_MARK = "__runtime_guardrails_init__"


class _Dist:
    """One ``*.dist-info`` beside the package: who it is and what it owns of the package."""

    __slots__ = ("name", "version", "owns_package", "ours_by_file", "init_hash")

    def __init__(self, entry: str, record: str | None) -> None:
        """``record``: the RECORD's text; ``None`` for ours by name, whose RECORD the
        check on import does not read (it would only tell what it knows)."""
        name, _, version = entry[: -len(".dist-info")].partition("-")
        self.name = _normalize(name)
        self.version = version
        self.owns_package = record is None
        self.ours_by_file = False
        #: RECORD's hash of ``guardrails/__init__.py`` (``sha256=...``), if it lists it.
        self.init_hash: str | None = None
        for line in (record or "").splitlines():
            if not line.startswith((_PREFIX, '"' + _PREFIX)):
                continue
            path, hash_ = _fields(line)
            self.owns_package = True
            if path == _OURS_ONLY:
                self.ours_by_file = True
            elif path == _INIT:
                self.init_hash = hash_ or None

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()


def check_at_init() -> None:
    """Run first by our ``__init__``: mark the package ours, then refuse it when another
    distribution also installed files into it (case b).

    Cheap: one listing of the directory that holds the package, and the RECORDs of
    the distributions named like guardrails, usually ours alone."""
    package = sys.modules.get(_PACKAGE)
    if package is not None:
        vars(package)[_MARK] = True
    if _skipped():
        return
    problem = _diagnose(_PACKAGE_DIR, thorough=False, init_ran=True)
    if problem is not None:
        raise ImportError(problem)


def check_parent() -> None:
    """Run by the first leaf our subpackages load: refuse to run under a ``guardrails``
    package whose ``__init__`` is another project's (case a) or missing (case c).

    Free when all is well (a dictionary look-up); raises only on a problem it can
    show, so it never stops a package it cannot read."""
    package = sys.modules.get(_PACKAGE)
    if package is None or vars(package).get(_MARK) or _skipped():
        return
    # No mark: another project's __init__ ran (or none did). Not trusted to be
    # ours while "initializing" either: the other's __init__ may import ours.
    problem = _diagnose(_PACKAGE_DIR, thorough=True, namespace=getattr(package, "__file__", None) is None)
    if problem is not None:
        raise ImportError(problem)


def check() -> None:
    """Raise ``ImportError`` naming the other distribution(s), and how to fix the
    environment, when this library's ``guardrails`` package is not its own alone.

    Reads the RECORD of every distribution installed beside the package: for the
    command line and for diagnosis, not for every import."""
    if _skipped():
        return
    problem = diagnose()
    if problem is not None:
        raise ImportError(problem)


def diagnose() -> str | None:
    """What is wrong with the installed ``guardrails`` package, as a message, or
    ``None``: read from the files on disk, whichever ``__init__`` Python ran (or
    none: the tests load this file on its own)."""
    package = sys.modules.get(_PACKAGE)
    init_ran = package is not None and bool(vars(package).get(_MARK))
    return _diagnose(_PACKAGE_DIR, thorough=True, init_ran=init_ran)


def _diagnose(
    package_dir: str, *, thorough: bool, init_ran: bool = False, namespace: bool = False
) -> str | None:
    """The problem with the package in ``package_dir``, or ``None``.

    ``init_ran``: our ``__init__`` ran, so it is there and ours. ``namespace``:
    Python imported the package without an ``__init__``."""
    site = os.path.dirname(package_dir)
    dists = _dists(site, thorough=thorough)
    # Ours: the published name; else (a build from before the rename) the one
    # that ships this module. The rest own files of ours, whatever their name.
    ours = [d for d in dists if d.name == DISTRIBUTION] or [d for d in dists if d.ours_by_file]
    others = sorted((d for d in dists if d not in ours), key=lambda d: d.name)
    own_name = ours[0].name if ours else DISTRIBUTION
    init_path = os.path.join(package_dir, "__init__.py")
    if init_ran:
        pass
    elif namespace or (os.path.isdir(package_dir) and not os.path.exists(init_path)):  # not in a zip
        return _missing_init(init_path, own_name, others)
    elif others:
        replaced_by = _init_owner(init_path, ours, others)
        if replaced_by is not None:
            return _replaced_init(init_path, replaced_by, own_name, others)
    if others:
        return _shared(site, own_name, others)
    return None


def _dists(site: str, *, thorough: bool) -> list[_Dist]:
    """The distributions in ``site`` that own files of the package.

    Not ``importlib.metadata``: importing it alone costs more than importing
    guardrails, and ``packages_distributions()`` reads every RECORD on sys.path."""
    try:
        entries = os.listdir(site)
    except OSError:  # a zip file, a directory gone or unreadable: nothing to compare
        return []
    found = []
    for entry in entries:
        if not entry.endswith(".dist-info"):
            continue
        if not thorough:
            name = _normalize(entry.partition("-")[0])  # the name escapes "-": the first ends it
            if _PACKAGE not in name:
                continue
            if name == DISTRIBUTION:
                found.append(_Dist(entry, None))
                continue
        record = _read(os.path.join(site, entry, "RECORD"))
        if record is None or _PREFIX not in record:
            continue
        dist = _Dist(entry, record)
        if dist.owns_package:
            found.append(dist)
    return found


def _init_owner(init_path: str, ours: list[_Dist], others: list[_Dist]) -> _Dist | None:
    """The other distribution whose ``__init__.py`` is on disk now, when it is not ours."""
    current = _file_hash(init_path)
    if current is None or any(d.init_hash == current for d in ours):
        return None
    return next((d for d in others if d.init_hash == current), None)


def _file_hash(path: str) -> str | None:
    """``sha256=<urlsafe base64, unpadded>``, as RECORD writes it; ``None`` when unreadable."""
    import base64  # only on the way to an error: not on a plain import
    import hashlib

    try:
        with open(path, "rb") as file:
            digest = hashlib.sha256(file.read()).digest()
    except OSError:
        return None
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _shared(site: str, own_name: str, others: list[_Dist]) -> str:
    if len(others) == 1:
        who, broken, them = "another project that uses", "it no longer works", "it"
    else:
        who, broken, them = "other projects that use", "they no longer work", "them"
    return (
        f"{DISTRIBUTION} cannot be imported: the import package 'guardrails' in {site} is shared with "
        f"{_names(others)}, {who} the same import name. Each install overwrites the other's files, so "
        f"{broken} as installed, and uninstalling {them} would delete files of {DISTRIBUTION}. "
        f"{_fix(own_name, others)} ({SKIP_VARIABLE}=1 skips this check, at your own risk.)"
    )


def _replaced_init(init_path: str, owner: _Dist, own_name: str, others: list[_Dist]) -> str:
    return (
        f"{DISTRIBUTION} cannot be imported: {init_path} is {owner}'s, installed after {DISTRIBUTION}: "
        f"both use the import name 'guardrails', so 'import guardrails' gives the other project. "
        f"{_fix(own_name, others)}"
    )


def _missing_init(init_path: str, own_name: str, others: list[_Dist]) -> str:
    return (
        f"{DISTRIBUTION} cannot be imported: {init_path} is missing, so Python imports 'guardrails' as "
        f"a namespace package. Another project that used the import name 'guardrails' was probably "
        f"uninstalled and took files of {DISTRIBUTION} with it. {_fix(own_name, others)}"
    )


def _fix(own_name: str, others: list[_Dist]) -> str:
    """The commands that leave this library alone in the environment, whole."""
    if not others and own_name == DISTRIBUTION:
        return f"Reinstall it: pip install --force-reinstall --no-deps {DISTRIBUTION}"
    names = " ".join([*sorted({d.name for d in others}), own_name])
    return (
        f"Fix the environment: pip uninstall -y {names} && pip install {DISTRIBUTION} "
        f"(or install the projects in separate virtual environments)."
    )


def _names(dists: list[_Dist]) -> str:
    texts = [str(d) for d in dists]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def _fields(line: str) -> tuple[str, str]:
    """A RECORD line's path and hash (CSV: a path with a comma is quoted)."""
    if line.startswith('"'):
        import csv  # rare: only a path with a comma or a quote in it

        row = next(csv.reader([line]), [])
    else:
        row = line.split(",")
    return (row[0] if row else ""), (row[1] if len(row) > 1 else "")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def _normalize(name: str) -> str:
    """A distribution's name as PEP 503 compares it (``guardrails_ai`` is ``guardrails-ai``)."""
    return name.lower().replace("_", "-").replace(".", "-")


def _skipped() -> bool:
    return os.environ.get(SKIP_VARIABLE, "") not in ("", "0")
