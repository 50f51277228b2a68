"""A ``guardrails`` package shared with another project is refused, with a message
that names the other distribution and says how to fix the environment (issue 18).

Other distributions on PyPI install an import package ``guardrails`` too:
``guardrails-ai``, ``openai-guardrails`` and ``guardrails`` (a 2021 code tool). The
tests in real virtual environments build our wheel from the working tree, download
those wheels once per session, and install them with ``--no-deps`` before ours,
after ours, and after ours then uninstalled. Their own dependencies are heavy and
left out, so their ``__init__`` fails on its imports: where it runs instead of ours,
the installed ``guardrails/_install.py`` is loaded on its own to show what it finds
(the 2021 ``guardrails`` needs nothing, and shows the whole path).

The download needs PyPI: without it these tests skip, except in CI (CI=true).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import guardrails
from guardrails import _install

ROOT = Path(__file__).resolve().parent.parent
#: The other projects, pinned: what they ship is what the tests expect.
OTHERS = {"guardrails-ai": "0.11.0", "openai-guardrails": "0.3.6", "guardrails": "2.0.0"}
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
BIN = "Scripts" if os.name == "nt" else "bin"


def run(command: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command; the environment without anything that could point Python at the
    working tree or skip the checks."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", _install.SKIP_VARIABLE}
    }
    return subprocess.run(
        command,
        cwd=cwd,
        env={**clean, "PYTHONNOUSERSITE": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def build_ours(out: Path) -> Path:
    """Our wheel, built by pip from the working tree (without build isolation when
    hatchling is here: isolation fetches it, seconds more)."""
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    result = run([*PIP, "wheel", "--no-deps", "-q", *isolation, str(ROOT), "-w", str(out)])
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def download_others(out: Path) -> dict[str, Path] | str:
    """The other projects' wheels from PyPI, or why they could not be had."""
    pins = [f"{name}=={version}" for name, version in OTHERS.items()]
    command = [*PIP, "download", "--no-deps", "--only-binary=:all:", "--ignore-requires-python", "-q"]
    result = run([*command, *pins, "-d", str(out)])
    if result.returncode != 0:
        return f"could not download {', '.join(pins)} from PyPI: {result.stderr.strip()[-500:]}"
    found = {}
    for name, version in OTHERS.items():
        (found[name],) = out.glob(f"{name.replace('-', '_')}-{version}-*.whl")
    return found


def distribution_of(wheel: Path) -> str:
    """The distribution name a wheel's file name carries, normalized: ours is
    ``guardrails`` or ``runtime-guardrails`` while the rename lands."""
    return wheel.name.split("-")[0].replace("_", "-").lower()


class Venv:
    """A throwaway virtual environment without pip: the outer pip installs into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / BIN / "python"
        self.site = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))

    @classmethod
    def create(cls, path: Path) -> Venv:
        result = run([sys.executable, "-m", "venv", "--without-pip", str(path)])
        assert result.returncode == 0, result.stderr
        return cls(path)

    def lend_dependencies(self) -> None:
        """Our dependencies (pydantic, wrapt) from the environment running the tests, on
        sys.path after the venv's own packages: as a user's venv has them, without
        installing them in each venv. (A path in a .pth is added; the .pth files there
        are not read, so the working tree's editable install stays out.) Last: pip in
        the venv would see that environment's distributions too."""
        outer = sysconfig.get_paths()["purelib"]
        (self.site / "zz_test_dependencies.pth").write_text(outer + "\n", encoding="utf-8")

    def copy(self, path: Path) -> Venv:
        """A copy, to go on from this one without repeating its pip runs (its scripts'
        shebangs still name this venv: the tests run ``python -m``)."""
        shutil.copytree(self.path, path, symlinks=True)
        return Venv(path)

    def install(self, *wheels: Path) -> Venv:
        """Install the wheels in one pip run, no dependencies, as pip does it."""
        files = [str(wheel) for wheel in wheels]
        self.pip("install", "--no-deps", "--no-index", "--no-compile", "--ignore-requires-python", *files)
        return self

    def uninstall(self, name: str) -> Venv:
        self.pip("uninstall", "-y", name)
        return self

    def pip(self, *args: str) -> None:
        result = run([*PIP, "--python", str(self.python), *args, "-q"])
        assert result.returncode == 0, result.stderr

    def py(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the venv's Python away from the working tree (the current directory is on
        sys.path for ``-c`` and ``-m``)."""
        return run([str(self.python), *args], cwd=self.path, **env)

    def diagnose(self) -> str:
        """What the installed ``guardrails/_install.py`` finds, loaded on its own:
        what the command says when no ``__init__`` of ours runs."""
        probe = (
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('probe', sys.argv[1])\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "print(module.diagnose())\n"
        )
        result = self.py("-c", probe, str(self.site / "guardrails" / "_install.py"))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


def make_everything(root: Path) -> dict[str, dict[str, str] | str]:
    """Build and download the wheels, then make a venv for each order, by name
    (``clean``, ``before``, ``after-X``, ``gone-X``): side by side, each going on
    from a copy of the one before it. Paths as text, for the other workers."""
    with ThreadPoolExecutor(1) as pool:
        building = pool.submit(build_ours, root / "ours")
        others = download_others(root / "others")
        wheels = {"ours": building.result()}
    if isinstance(others, str):
        return {"skip": others}
    wheels |= others

    def before() -> dict[str, Venv]:
        venv = Venv.create(root / "before").install(wheels["guardrails-ai"], wheels["openai-guardrails"])
        return {"before": venv.install(wheels["ours"])}

    def after_then_gone(clean: Venv, other: str, gone: bool) -> dict[str, Venv]:
        after = clean.copy(root / f"after-{other}").install(wheels[other])
        if not gone:
            return {f"after-{other}": after}
        return {f"after-{other}": after, f"gone-{other}": after.copy(root / f"gone-{other}").uninstall(other)}

    venvs: dict[str, Venv] = {}
    with ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(before)]
        venvs["clean"] = clean = Venv.create(root / "clean").install(wheels["ours"])
        jobs += [pool.submit(after_then_gone, clean, o, True) for o in ("guardrails-ai", "openai-guardrails")]
        if distribution_of(wheels["ours"]) != "guardrails":  # one name: pip would replace ours with it
            jobs.append(pool.submit(after_then_gone, clean, "guardrails", False))
        for job in jobs:
            venvs |= job.result()
    for venv in venvs.values():
        venv.lend_dependencies()
    return {
        "wheels": {key: str(path) for key, path in wheels.items()},
        "venvs": {name: str(venv.path) for name, venv in venvs.items()},
    }


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """:func:`make_everything`, once a session: under pytest-xdist the first worker
    that needs it makes it in the session's shared temporary directory, under a file
    lock, and the others wait for it and read it."""
    import fcntl  # POSIX, as these venvs' layout is

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of one session
    root, state = base / "install-clash", base / "install-clash.json"
    with (base / "install-clash.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not state.exists():
            root.mkdir(exist_ok=True)
            state.write_text(json.dumps(make_everything(root)), encoding="utf-8")
        result: dict[str, dict[str, str] | str] = json.loads(state.read_text(encoding="utf-8"))
    if isinstance(result.get("skip"), str):
        if os.environ.get("CI") == "true":
            pytest.fail(str(result["skip"]))
        pytest.skip(str(result["skip"]))
    return {key: value for key, value in result.items() if isinstance(value, dict)}


@pytest.fixture(scope="session")
def ours(made: dict[str, dict[str, str]]) -> str:
    """Our distribution's name, as built."""
    return distribution_of(Path(made["wheels"]["ours"]))


@pytest.fixture(scope="session")
def venvs(made: dict[str, dict[str, str]]) -> dict[str, Venv]:
    return {name: Venv(Path(path)) for name, path in made["venvs"].items()}


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The message that ended a failed run: an ImportError's (its traceback's last
    line, exit 1), or the command's own one line when its check caught it (exit 2)."""
    last = result.stderr.strip().splitlines()[-1]
    if result.returncode == 2 and last.startswith("runtime-guardrails: "):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # no traceback
        return last.removeprefix("runtime-guardrails: ")
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert last.startswith("ImportError: "), result.stderr
    return last.removeprefix("ImportError: ")


def fix(ours: str, others: str) -> str:
    return f"pip uninstall -y {others} {ours} && pip install runtime-guardrails"


def reinstall(ours: str) -> str:
    if ours == "runtime-guardrails":
        return "pip install --force-reinstall --no-deps runtime-guardrails"
    return fix(ours, "").replace("  ", " ")


#: What a user runs: each must fail with the message, or work in a clean venv.
Entry = Callable[[Venv], subprocess.CompletedProcess[str]]
IMPORTS: dict[str, Entry] = {
    "import guardrails": lambda v: v.py("-c", "import guardrails"),
    "from guardrails import governed": lambda v: v.py("-c", "from guardrails import governed"),
    "import guardrails.policy": lambda v: v.py("-c", "import guardrails.policy"),
    "from guardrails.runtime import governed": lambda v: v.py(
        "-c", "from guardrails.runtime import governed"
    ),
    "the pytest plugin": lambda v: v.py("-c", "import guardrails.testing.pytest_plugin"),
    "python -m guardrails --help": lambda v: v.py("-m", "guardrails", "--help"),
}


class TestACleanVenv:
    def test_ours_alone_works(self, venvs: dict[str, Venv]) -> None:
        """With no other project, every entry works and the checks find nothing."""
        venv = venvs["clean"]
        for name, entry in IMPORTS.items():
            result = entry(venv)
            assert result.returncode == 0, (name, result.stderr)
        probe = (
            "import guardrails, guardrails._install as i; i.check(); print(guardrails.__file__, i.diagnose())"
        )
        assert venv.py("-c", probe).stdout.split() == [str(venv.site / "guardrails" / "__init__.py"), "None"]
        assert venv.diagnose() == "None"


class TestAnotherProjectInstalledBefore:
    def test_every_entry_names_both_and_the_fix(self, venvs: dict[str, Venv], ours: str) -> None:
        """Ours overwrote their files and our ``__init__`` runs: it finds their RECORDs."""
        venv = venvs["before"]
        for name, entry in IMPORTS.items():
            message = failure(entry(venv))
            assert message.startswith(
                f"runtime-guardrails cannot be imported: the import package 'guardrails' in {venv.site} "
                "is shared with guardrails-ai 0.11.0 and openai-guardrails 0.3.6, other projects that use"
            ), name
            assert fix(ours, "guardrails-ai openai-guardrails") in message, name
            assert "separate virtual environments" in message
        assert venv.diagnose().startswith("runtime-guardrails cannot be imported: the import package")

    def test_the_skip_variable_imports_anyway(self, venvs: dict[str, Venv]) -> None:
        result = venvs["before"].py("-c", "import guardrails", **{_install.SKIP_VARIABLE: "1"})
        assert result.returncode == 0, result.stderr


class TestAnotherProjectInstalledAfter:
    @pytest.mark.parametrize("other", ["guardrails-ai", "openai-guardrails"])
    def test_their_init_replaced_ours(self, venvs: dict[str, Venv], ours: str, other: str) -> None:
        """``import guardrails`` runs their ``__init__``, never ours (here it fails on
        their missing dependencies); the file check names them as its owner."""
        venv = venvs[f"after-{other}"]
        init = venv.site / "guardrails" / "__init__.py"
        result = venv.py("-c", "import guardrails.policy")
        # Their __init__ runs first and fails on a dependency of theirs left out; with
        # them all, our subpackage would stop on the message below, which names it too.
        assert result.returncode == 1 and str(init) in result.stderr
        assert venv.diagnose() == (
            f"runtime-guardrails cannot be imported: {init} is {other} {OTHERS[other]}'s, installed after "
            "runtime-guardrails: both use the import name 'guardrails', so 'import guardrails' gives the "
            f"other project. Fix the environment: {fix(ours, other)} "
            "(or install the projects in separate virtual environments)."
        )

    def test_our_subpackages_stop_under_their_init(self, venvs: dict[str, Venv], ours: str) -> None:
        """The 2021 ``guardrails`` imports nothing, so its ``__init__`` runs; then our
        subpackages, the pytest plugin among them, stop with the message."""
        if "after-guardrails" not in venvs:
            pytest.skip(f"ours is still named {ours!r}: pip would replace it with the 2021 guardrails")
        venv = venvs["after-guardrails"]
        init = venv.site / "guardrails" / "__init__.py"
        for name in (
            "import guardrails.policy",
            "from guardrails.runtime import governed",
            "the pytest plugin",
        ):
            message = failure(IMPORTS[name](venv))
            assert message.startswith(
                f"runtime-guardrails cannot be imported: {init} is guardrails 2.0.0's, installed after"
            ), name
            assert fix(ours, "guardrails") in message
        # What no code of ours can catch: their __init__ has no `governed`.
        assert "cannot import name 'governed'" in IMPORTS["from guardrails import governed"](venv).stderr


class TestAnotherProjectUninstalledAfter:
    @pytest.mark.parametrize("other", ["guardrails-ai", "openai-guardrails"])
    def test_a_namespace_package_says_reinstall(self, venvs: dict[str, Venv], ours: str, other: str) -> None:
        """Uninstalling them took our ``__init__.py``; Python imports a namespace package,
        and our subpackages, the plugin and (where its __init__ survived) the command say
        to reinstall."""
        venv = venvs[f"gone-{other}"]
        init = venv.site / "guardrails" / "__init__.py"
        expected = (
            f"runtime-guardrails cannot be imported: {init} is missing, so Python imports 'guardrails' as a "
            "namespace package. Another project that used the import name 'guardrails' was probably "
            "uninstalled and took files of runtime-guardrails with it. "
        )
        names = ["import guardrails.policy", "from guardrails.runtime import governed", "the pytest plugin"]
        if other == "openai-guardrails":  # guardrails-ai's uninstall also took guardrails/cli/__init__.py
            names.append("python -m guardrails --help")
        for name in names:
            message = failure(IMPORTS[name](venv))
            assert message.startswith(expected) and reinstall(ours) in message, name
        assert venv.diagnose() == message
        # What no code of ours can catch: no __init__ at all.
        assert "cannot import name 'governed'" in IMPORTS["from guardrails import governed"](venv).stderr


# In-process checks of the detection on made-up directories: fast, no venv.


def site_with(tmp_path: Path, records: dict[str, list[str]]) -> Path:
    """A directory holding ``guardrails/`` and a ``*.dist-info`` per entry of
    ``records`` (its RECORD's paths); returns the package directory."""
    package = tmp_path / "guardrails"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for entry, paths in records.items():
        info = tmp_path / entry
        info.mkdir()
        (info / "RECORD").write_text("".join(f"{p},sha256=x,1\n" for p in [*paths, f"{entry}/RECORD"]))
    return package


OURS_RECORD = ["guardrails/__init__.py", "guardrails/_install.py", "guardrails/policy/__init__.py"]


class TestTheDetection:
    def test_the_import_check_reads_only_records_named_like_guardrails(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On import: one listing, and the RECORDs of names with 'guardrails' but ours
        only; a project of another name is found by the full check."""
        records = {f"pkg{i}-1.0.dist-info": [f"pkg{i}/__init__.py"] for i in range(200)}
        records["runtime_guardrails-1.0.dist-info"] = OURS_RECORD
        records["nemoguardrails-0.9.0.dist-info"] = ["nemoguardrails/__init__.py"]
        records["acme_tools-2.0.dist-info"] = ["guardrails/helpers.py"]
        package = site_with(tmp_path, records)
        read: list[str] = []
        real_read = _install._read

        def counted(path: str) -> str | None:
            read.append(path)
            return real_read(path)

        monkeypatch.setattr(_install, "_read", counted)
        assert _install._diagnose(str(package), thorough=False, init_ran=True) is None
        assert [Path(path).parent.name for path in read] == ["nemoguardrails-0.9.0.dist-info"]
        message = _install._diagnose(str(package), thorough=True, init_ran=True)
        assert message is not None and "shared with acme-tools 2.0" in message
        assert fix("runtime-guardrails", "acme-tools") in message

    def test_ours_under_its_old_name_is_ours(self, tmp_path: Path) -> None:
        """A build named ``guardrails`` (before the rename) ships ``_install.py``: ours;
        the 2021 ``guardrails`` does not."""
        package = site_with(tmp_path, {"guardrails-0.1.0.dist-info": OURS_RECORD})
        assert _install._diagnose(str(package), thorough=True) is None
        other = tmp_path / "other"
        other.mkdir()
        package = site_with(other, {"guardrails-2.0.0.dist-info": ["guardrails/__init__.py"]})
        message = _install._diagnose(str(package), thorough=False, init_ran=True)
        assert message is not None and "shared with guardrails 2.0.0" in message

    def test_a_leftover_build_under_the_old_name_is_another(self, tmp_path: Path) -> None:
        """Beside ``runtime-guardrails``, a ``guardrails`` build of ours still owns the
        files: uninstalling it would delete them too."""
        records = {
            "runtime_guardrails-0.2.0.dist-info": OURS_RECORD,
            "guardrails-0.1.0.dist-info": OURS_RECORD,
        }
        message = _install._diagnose(str(site_with(tmp_path, records)), thorough=False, init_ran=True)
        assert message is not None and fix("runtime-guardrails", "guardrails") in message

    def test_an_editable_install_is_no_clash(self, tmp_path: Path) -> None:
        """An editable install's RECORD lists a ``.pth``, no file of the package."""
        records = {"guardrails-0.1.0.dist-info": ["_editable_impl_guardrails.pth", "../../../bin/guardrails"]}
        assert _install._diagnose(str(site_with(tmp_path, records)), thorough=True) is None

    def test_a_quoted_record_path_is_read(self, tmp_path: Path) -> None:
        package = site_with(tmp_path, {"runtime_guardrails-1.0.dist-info": OURS_RECORD})
        info = tmp_path / "odd-1.0.dist-info"
        info.mkdir()
        (info / "RECORD").write_text('"guardrails/a,b.py",sha256=x,1\n')
        assert "odd 1.0" in (_install._diagnose(str(package), thorough=True) or "")

    def test_a_replaced_init_names_its_owner(self, tmp_path: Path) -> None:
        """Whose ``__init__.py`` is on disk: the RECORD whose hash matches it."""
        package = site_with(tmp_path, {"runtime_guardrails-1.0.dist-info": OURS_RECORD})
        (package / "__init__.py").write_text("from guardrails.client import *\n")
        current = _install._file_hash(str(package / "__init__.py"))
        for name, hash_ in (("openai_guardrails-0.3.6", current), ("guardrails_ai-0.11.0", "sha256=other")):
            (tmp_path / f"{name}.dist-info").mkdir()
            (tmp_path / f"{name}.dist-info" / "RECORD").write_text(f"guardrails/__init__.py,{hash_},33\n")
        message = _install._diagnose(str(package), thorough=True)
        assert message is not None and f"{package / '__init__.py'} is openai-guardrails 0.3.6's" in message
        assert fix("runtime-guardrails", "guardrails-ai openai-guardrails") in message
        # Ours on disk again: no longer "replaced", still shared.
        (tmp_path / "runtime_guardrails-1.0.dist-info" / "RECORD").write_text(
            f"guardrails/__init__.py,{current},33\n"
        )
        assert "is shared with guardrails-ai 0.11.0 and openai-guardrails 0.3.6" in (
            _install._diagnose(str(package), thorough=True) or ""
        )

    def test_a_missing_init_says_reinstall(self, tmp_path: Path) -> None:
        package = site_with(tmp_path, {"runtime_guardrails-1.0.dist-info": OURS_RECORD})
        (package / "__init__.py").unlink()
        message = _install._diagnose(str(package), thorough=True)
        assert message is not None and message.endswith(reinstall("runtime-guardrails"))

    def test_an_unreadable_directory_is_no_clash(self, tmp_path: Path) -> None:
        assert (
            _install._diagnose(str(tmp_path / "missing" / "guardrails"), thorough=True, init_ran=True) is None
        )

    def test_this_package_is_marked_and_passes(self) -> None:
        """Here (an editable install or the working tree) nothing is found, and our
        ``__init__`` marked the package, so the leaf check is one look-up."""
        assert vars(guardrails)[_install._MARK] is True
        _install.check_parent()
        _install.check()

    def test_the_skip_variable_skips_every_check(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        package = site_with(tmp_path, {"guardrails_ai-0.11.0.dist-info": ["guardrails/__init__.py"]})
        monkeypatch.setattr(_install, "_PACKAGE_DIR", str(package))
        with pytest.raises(ImportError, match=r"shared with guardrails-ai 0\.11\.0"):
            _install.check()
        monkeypatch.setenv(_install.SKIP_VARIABLE, "1")
        _install.check()
        _install.check_at_init()

    def test_the_module_imports_the_standard_library_only(self) -> None:
        """It runs first, and when the package is broken: no module of ours, nothing
        installed."""
        tree = ast.parse(Path(_install.__file__).read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


@pytest.fixture(autouse=True)
def _no_skip_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell may set it; these tests decide it themselves."""
    monkeypatch.delenv(_install.SKIP_VARIABLE, raising=False)
