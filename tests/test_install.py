"""The distribution, end to end: build the wheel, install it in fresh virtual environments, and
follow docs/install.md literally in a brand-new `django-admin startproject` project.

The snippets are read from the guide (blocks after an ``<!-- install-test: ... -->`` marker),
so guide and test cannot drift. First run: no extras, SQLite. Second run: the API on
PostgreSQL, over real HTTP (``runserver``). Needs PyPI (or pip's cache) for the dependencies.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import require_service

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parent.parent
GUIDE = REPO / "docs" / "install.md"
DISTRIBUTION = "django-schedules-reconciler"
MARKER = re.compile(
    r"^<!-- install-test: (?P<action>\w+)(?: (?P<target>[^\s(]+))?(?: \(when (?P<extra>\w+)\))? -->\n"
    r"```\w*\n(?P<body>.*?)^```",
    re.MULTILINE | re.DOTALL,
)
# pip's notices about this machine's configured local indexes, not about our package
MACHINE_NOISE = re.compile(r"Location 'file://[^']*' is ignored")


@dataclass(frozen=True)
class Step:
    action: str  # pip | append | write | run
    target: str | None
    extra: str | None  # applied only when this extra is installed
    body: str


def guide_steps() -> list[Step]:
    text = GUIDE.read_text(encoding="utf-8")
    return [Step(m["action"], m["target"], m["extra"], m["body"]) for m in MARKER.finditer(text)]


def test_guide_has_the_steps_the_test_follows() -> None:
    steps = guide_steps()
    assert [s.action for s in steps if s.action in ("pip", "run")] == ["pip", "run"]
    assert {s.target for s in steps if s.action != "run"} >= {
        "mysite/settings.py", "mysite/celery.py", "mysite/__init__.py", "mysite/urls.py",
        "billing/tasks.py", "schedules/billing.yaml", None,
    }
    assert all(s.action in ("pip", "append", "write", "run") for s in steps)


def _quiet_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "VIRTUAL_ENV"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # else setuptools warns that it cannot byte-compile
    env.pop("PYTHONPATH", None)
    return env


def _noise_free(output: str) -> list[str]:
    return [line for line in output.splitlines() if "warn" in line.lower() and not MACHINE_NOISE.search(line)]


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path
    output: str


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and, built from it, the wheel: once per test session."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], env=_quiet_env(),
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = out.glob("*.whl")
    [sdist] = out.glob("*.tar.gz")
    return Dist(wheel, sdist, build.stdout + build.stderr)


def test_build_prints_no_warning(dist: Dist) -> None:
    assert _noise_free(dist.output) == []


def test_wheel_holds_the_reconciler_package_only(dist: Dist) -> None:
    names = zipfile.ZipFile(dist.wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"reconciler"}
    assert {"reconciler/py.typed", "reconciler/migrations/0001_initial.py"} <= set(names)
    from reconciler import __version__

    assert dist.wheel.name == f"django_schedules_reconciler-{__version__}-py3-none-any.whl"


def test_sdist_holds_the_package_and_its_documents_only(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    top = {name.split("/")[0] for name in names}
    assert top == {
        "reconciler", "django_schedules_reconciler.egg-info", "CHANGELOG.md", "PKG-INFO", "README.md",
        "pyproject.toml", "setup.cfg",
    }


class Project:
    """A fresh virtual environment with the wheel, and a new project made by startproject."""

    def __init__(self, root: Path, dist: Dist, extras: tuple[str, ...] = (), own_settings: str = "") -> None:
        self.root, self.dist, self.extras, self.own_settings = root, dist, extras, own_settings
        self.venv = root / "venv"
        self.site = root / "site"
        self.env = {**_quiet_env(), "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def shell(self, command: str, *, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd or self.site, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        assert done.returncode == 0, f"$ {command}\n{done.stdout}{done.stderr}"
        return done

    def create(self) -> Project:
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=120)
        self.site.mkdir()
        return self

    def follow_guide(self) -> dict[str, str]:
        """Apply every step of the guide; returns each `run` command's output."""
        outputs: dict[str, str] = {}
        for step in guide_steps():
            if step.extra and step.extra not in self.extras:
                continue
            if step.action == "pip":
                self._install(step.body)
                self._existing_project()
            elif step.action in ("append", "write"):
                assert step.target
                path = self.site / step.target
                path.parent.mkdir(parents=True, exist_ok=True)
                before = path.read_text() if step.action == "append" and path.exists() else ""
                path.write_text(before + ("\n" if before else "") + step.body)
            else:
                for command in step.body.splitlines():
                    if command.strip():
                        done = self.shell(command)
                        outputs[command] = done.stdout + done.stderr
        return outputs

    def _install(self, body: str) -> None:
        """The guide's `pip install` line, with the wheel in place of the name on PyPI."""
        [line] = body.strip().splitlines()
        wheel = f"{self.dist.wheel}[{','.join(self.extras)}]" if self.extras else str(self.dist.wheel)
        assert line == f"pip install {DISTRIBUTION}"
        done = self.shell(f"python -m pip install -q {shlex.quote(wheel)}", cwd=self.root, timeout=600)
        assert _noise_free(done.stdout + done.stderr) == []

    def _existing_project(self) -> None:
        """What the team already has: a project, an app of their own with tasks."""
        self.shell("django-admin startproject mysite . && python manage.py startapp billing")
        with (self.site / "mysite" / "settings.py").open("a") as settings:
            settings.write(f'\nINSTALLED_APPS += ["billing"]\n{self.own_settings}')


def _check_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"\(([\w.]+\.[EWI]\d{3})\)", output)))


def test_guide_on_sqlite_with_no_extras(tmp_path: Path, dist: Dist) -> None:
    project = Project(tmp_path, dist).create()
    outputs = project.follow_guide()
    # The guide's Redis broker without the [redis] extra: the one thing `check` has to say.
    assert _check_ids(outputs["python manage.py check"]) == ["reconciler.W004"]
    assert "[redis]" in outputs["python manage.py check"]
    assert "1 task checked: valid" in outputs["python manage.py reconcile validate"]
    assert "send-invoices-eu" in outputs["python manage.py reconcile plan --adopt"]
    assert "1 created" in outputs["python manage.py reconcile apply --adopt"]
    assert "No changes" in outputs["python manage.py reconcile plan --detailed-exitcode"]
    assert not list((project.venv / "lib").glob("python*/site-packages/project"))
    # The console script of the pre-commit hook, from the wheel.
    assert "1 task checked: valid" in project.shell("reconcile-schema-check schedules/billing.yaml").stdout
    # A feature without its extra: one line that names the extra.
    watch = subprocess.run(
        ["bash", "-c", "python manage.py reconcile watch"], cwd=project.site, env=project.env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert (watch.returncode, watch.stderr.strip()) == (1, (
        "Error: reconcile watch needs the watchdog package, which is not installed: "
        "pip install 'django-schedules-reconciler[watch]'"
    ))


@pytest.fixture
def postgres_database() -> Iterator[str]:
    try:
        import psycopg

        admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception as exc:
        require_service("PostgreSQL", str(exc))
    name = f"reconciler_install_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, user: str, password: str, timeout: float = 30) -> tuple[int, object]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def test_guide_with_the_api_on_postgresql(tmp_path: Path, dist: Dist, postgres_database: str) -> None:
    on_postgresql = (
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'NAME': '{postgres_database}', 'USER': 'postgres', 'HOST': '127.0.0.1', 'PORT': '5432'}}}}\n"
    )
    project = Project(tmp_path, dist, ("api", "postgres", "redis"), on_postgresql).create()
    outputs = project.follow_guide()
    assert _check_ids(outputs["python manage.py check"]) == []
    assert "1 created" in outputs["python manage.py reconcile apply --adopt"]

    project.shell(
        "DJANGO_SUPERUSER_PASSWORD=pw python manage.py createsuperuser --no-input --username ops --email o@x.io"
    )
    port = _free_port()
    log = (project.root / "runserver.log").open("w")
    server = subprocess.Popen(
        ["python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=project.site,
        env=project.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api/schedules"
        _wait_for_port(port, server, project.root / "runserver.log")
        status, tasks = _get(f"{base}/tasks/", "ops", "pw")
        assert status == 200
        assert "billing.tasks.send_invoices" in json.dumps(tasks)
        status, schedules = _get(f"{base}/schedules/", "ops", "pw")
        assert status == 200
        assert "send-invoices-eu" in json.dumps(schedules)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"runserver did not listen on {port}:\n{log.read_text()}")
