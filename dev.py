#!/usr/bin/env python3
"""One-command bootstrap for working on django-fallback-storage.

    python3 dev.py test            run the test suite (tox -e tests)
    python3 dev.py demo            run the example site (tox -e demo) and print its address
    python3 dev.py tox ARGS...     run tox with ARGS, e.g. `python3 dev.py tox -e lint,typing`

The first run creates .venv/ in the repository with tox and tox-uv installed from the package
index (tox-uv makes tox build its environments with uv: a fresh test environment takes seconds
where pip takes half a minute); later runs reuse it. Every Python 3.10-3.13 that pyenv has
installed is made visible to tox (and to nothing else), so `python3 dev.py tox -e py310-django42`
works without activating anything. Uses the standard library only and runs on Python 3.10 and newer.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
# Version-named links to the pyenv interpreters live here; only this folder is put on PATH,
# so `python` and `python3` keep meaning what they meant. Two levels below .venv/, because
# Python looks for a pyvenv.cfg beside its executable and one level up.
PYTHONS = VENV / "pythons" / "bin"
SUPPORTED_MINORS = ("3.10", "3.11", "3.12", "3.13")


def venv_bin(name: str) -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / name


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def fail(message: str) -> None:
    print(f"dev.py: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def ensure_venv() -> Path:
    """Create .venv/ with tox and tox-uv unless they are already there; return its tox."""
    tox = venv_bin("tox")
    if tox.exists():
        version = subprocess.run([str(tox), "--version"], capture_output=True, text=True)
        if version.returncode == 0:
            # tox lists its plugins: a .venv/ from before tox-uv is topped up, not rebuilt.
            if "tox-uv" not in version.stdout:
                install_tox()
            return tox
    say(f"creating {VENV.relative_to(ROOT)}/ with {sys.executable} ({sys.version.split()[0]})")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(VENV, ignore_errors=True)
        minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
        hint = (
            "on Debian or Ubuntu install the python3-venv package "
            f"(apt-get install python3-venv, or python{minor}-venv) and run dev.py again"
        )
        fail(f"could not create a virtual environment in {VENV} ({error}); {hint}.")
    install_tox(remove_on_failure=True)
    return tox


def install_tox(*, remove_on_failure: bool = False) -> None:
    """Install what tox.ini ``requires`` (tox and tox-uv) into .venv/ with its pip, or fail."""
    lines = tox_ini().get("tox", "requires").splitlines()
    requirements = [line.strip() for line in lines if line.strip()]
    say(f"installing {', '.join(requirements)} into {VENV.relative_to(ROOT)}/")
    python = str(venv_bin("python"))
    install = [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip", *requirements]
    if subprocess.run(install).returncode != 0:
        if remove_on_failure:
            shutil.rmtree(VENV, ignore_errors=True)
        fail(f"installing {' and '.join(requirements)} failed; see pip's output above.")


def pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    if shutil.which("pyenv"):
        result = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    default = Path.home() / ".pyenv"
    return default if default.is_dir() else None


def version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split("."))


def link_pyenv_pythons() -> list[str]:
    """Link python3.X of the newest pyenv-installed 3.X into PYTHONS; return what was linked."""
    root = pyenv_root()
    versions = root / "versions" if root else Path(os.devnull)
    newest: dict[str, str] = {}
    if versions.is_dir():
        for entry in versions.iterdir():
            match = re.fullmatch(r"(3\.\d+)\.\d+", entry.name)
            if match and match.group(1) in SUPPORTED_MINORS:
                minor = match.group(1)
                if minor not in newest or version_key(entry.name) > version_key(newest[minor]):
                    newest[minor] = entry.name
    wanted: dict[str, Path] = {}
    for minor, version in newest.items():
        executable = versions / version / "bin" / f"python{minor}"
        if os.access(executable, os.X_OK):
            wanted[f"python{minor}"] = executable
    PYTHONS.mkdir(parents=True, exist_ok=True)
    for link in PYTHONS.iterdir():
        if link.name not in wanted and not link.name.startswith("."):
            link.unlink(missing_ok=True)
    for name, executable in wanted.items():
        link = PYTHONS / name
        if os.path.islink(link) and Path(os.readlink(link)) == executable:
            continue
        # Replace atomically: another dev.py may be running tox with these links right now.
        temporary = PYTHONS / f".{name}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(executable)
        os.replace(temporary, link)
    linked = sorted((path.parent.parent.name for path in wanted.values()), key=version_key)
    return linked


def run_tox(args: list[str]) -> int:
    tox = ensure_venv()
    env = os.environ.copy()
    linked = link_pyenv_pythons()
    if linked:
        env["PATH"] = os.pathsep.join([str(PYTHONS), env.get("PATH", "")])
        say(f"pyenv Pythons visible to tox: {', '.join(linked)}")
    command = [str(tox), *args]
    say(f"running {' '.join(['tox', *args])}")
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl+C reached tox as well (same process group): let it stop its command
            # (the demo's server, say) and report, instead of killing it.
            continue


def tox_ini() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    return config


def has_tox_env(name: str) -> bool:
    return tox_ini().has_section(f"testenv:{name}")


USAGE = __doc__.split("\n\n")[1] if __doc__ else ""


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py may be started by any python3
        fail(f"Python 3.10 or newer is needed, this is {sys.version.split()[0]}.")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(f"usage:\n{USAGE}")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "test":
        return run_tox(["-e", "tests", *(["--", *rest] if rest else [])])
    if command == "demo":
        if not has_tox_env("demo"):
            fail("the demo is not built yet: tox.ini has no [testenv:demo] section.")
        return run_tox(["-e", "demo", *(["--", *rest] if rest else [])])
    if command == "tox":
        return run_tox(rest)
    print(f"dev.py: unknown command {command!r}\nusage:\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
