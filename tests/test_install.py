"""The distribution, end to end: build the wheel, install it in fresh virtual environments, and
follow docs/install.md literally in a brand-new directory.

The blocks are read from the guide (those after an ``<!-- install-test: ... -->`` marker) and
executed exactly, in order, and nothing else: a step the guide lacks is a failure of the guide.
The test's only own doings, which the guide's introduction states: a fresh venv with the built
wheel in place of ``pip install`` from PyPI, the database (SQLite as ``startproject`` writes
it; PostgreSQL for the API run, appended once ``mysite/settings.py`` exists), and the values of
the environment variables the guide documents (``CELERY_BROKER_URL``: the test's Redis
database; ``PORT``: a free port). ``start`` blocks are long-running processes (beat, worker,
``runserver``): started in the background, observed, stopped with SIGTERM at the end.
First run: no extras, SQLite. Second run: the API on PostgreSQL with Redis, beat and a worker,
over real HTTP. Needs PyPI (or pip's cache) for the dependencies.
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
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

from tests.conftest import require_service

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
LOCAL_STATE = (".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")


@dataclass(frozen=True)
class Step:
    action: str  # pip | append | write | run | start
    target: str | None
    extra: str | None  # applied only when this extra is installed
    body: str


def guide_steps() -> list[Step]:
    text = GUIDE.read_text(encoding="utf-8")
    return [Step(m["action"], m["target"], m["extra"], m["body"]) for m in MARKER.finditer(text)]


def test_guide_has_the_steps_the_test_follows() -> None:
    steps = guide_steps()
    assert steps[0].action == "pip" and steps[1].body.strip() == "django-admin startproject mysite ."
    assert {s.target for s in steps if s.action in ("append", "write")} == {
        "mysite/settings.py", "mysite/celery.py", "mysite/__init__.py", "mysite/urls.py",
        "billing/tasks.py", "schedules/billing.yaml",
    }
    assert all(s.action in ("pip", "append", "write", "run", "start") for s in steps)
    runs = [line for s in steps if s.action == "run" for line in s.body.splitlines()]
    # the app is made and installed before its task is written; check runs last, every setting in place
    assert "python manage.py startapp billing" in runs and runs[-1] == "python manage.py check"
    starts = [line for s in steps if s.action == "start" for line in s.body.splitlines()]
    assert any(line.startswith("celery -A mysite beat ") for line in starts)
    assert any(line.startswith("celery -A mysite worker ") for line in starts)


def test_guide_mounts_the_api_where_the_readme_and_the_api_reference_say() -> None:
    mount = 'path("api/", include("reconciler.api.urls"))'
    assert mount in GUIDE.read_text() and "api/schedules/\"" not in GUIDE.read_text()
    assert mount in (REPO / "docs" / "api.md").read_text()
    assert "`/api/`" in (REPO / "README.md").read_text()


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


def _source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source tree without its local state, in a directory of this worker's own.

    setuptools builds in the source directory (the egg-info, a release tree it then removes): two
    xdist workers building from the repository at once removed each other's files.
    """
    source = tmp_path_factory.mktemp("source") / "repo"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LOCAL_STATE), symlinks=True)
    return source


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and, built from it, the wheel: once per test session."""
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(_source_copy(tmp_path_factory))], env=_quiet_env(),
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
    [license_file] = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    licence = zipfile.ZipFile(dist.wheel).read(license_file).decode()
    assert licence.startswith("BSD 3-Clause License") and "the django-schedules-reconciler authors" in licence
    metadata = zipfile.ZipFile(dist.wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: BSD-3-Clause" in metadata and "License-File: LICENSE" in metadata
    from reconciler import __version__

    assert dist.wheel.name == f"django_schedules_reconciler-{__version__}-py3-none-any.whl"


def test_sdist_holds_the_package_and_its_documents_only(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    top = {name.split("/")[0] for name in names}
    assert top == {
        "reconciler", "django_schedules_reconciler.egg-info", "CHANGELOG.md", "LICENSE", "PKG-INFO", "README.md",
        "pyproject.toml", "setup.cfg",
    }
    with tarfile.open(dist.sdist) as archive:
        [member] = [m for m in archive.getmembers() if m.name.endswith("/LICENSE")]
        assert (archive.extractfile(member) or io.BytesIO()).read() == (REPO / "LICENSE").read_bytes()


class Project:
    """A fresh virtual environment with the wheel, and a new project made by startproject."""

    def __init__(
        self, root: Path, dist: Dist, extras: tuple[str, ...] = (), database: str = "",
        environment: dict[str, str] | None = None,
    ) -> None:
        self.root, self.dist, self.extras, self.database = root, dist, extras, database
        self.venv = root / "venv"
        self.site = root / "site"
        self.env = {
            **_quiet_env(), "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ['PATH']}", **(environment or {}),
        }
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

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

    def follow_guide(self) -> list[tuple[str, str]]:
        """Apply every step of the guide, in order; returns each `run` command with its output.
        `start` commands keep running (``self.started``) until ``stop``."""
        outputs: list[tuple[str, str]] = []
        for step in guide_steps():
            if step.extra and step.extra not in self.extras:
                continue
            if step.action == "pip":
                self._install(step.body)
            elif step.action in ("append", "write"):
                assert step.target
                path = self.site / step.target
                path.parent.mkdir(parents=True, exist_ok=True)
                before = path.read_text() if step.action == "append" and path.exists() else ""
                path.write_text(before + ("\n" if before else "") + step.body)
            else:
                for command in filter(str.strip, step.body.splitlines()):
                    if step.action == "start":
                        self._start(command)
                    else:
                        done = self.shell(command)
                        outputs.append((command, done.stdout + done.stderr))
            self._choose_database()
        return outputs

    def _choose_database(self) -> None:
        """The test's own choice of database, once startproject has written the settings."""
        settings = self.site / "mysite" / "settings.py"
        if self.database and settings.exists() and self.database not in settings.read_text():
            with settings.open("a") as out:
                out.write(f"\n{self.database}")

    def _start(self, command: str) -> None:
        log = self.root / f"started-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"], cwd=self.site, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.started.append((command, process, log))

    def log_of(self, prefix: str) -> Path:
        [log] = [log for command, _, log in self.started if command.startswith(prefix)]
        return log

    def stop(self, timeout: float = 60) -> dict[str, int | None]:
        """SIGTERM to each started command (a warm shutdown for Celery), then to what is left of
        its process group; returns each command's exit code (None: it had to be killed)."""
        codes: dict[str, int | None] = {}
        for command, process, _ in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                codes[command] = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                codes[command] = None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.started.clear()
        return codes

    def _install(self, body: str) -> None:
        """The guide's `pip install` line, with the wheel in place of the name on PyPI."""
        [line] = body.strip().splitlines()
        wheel = f"{self.dist.wheel}[{','.join(self.extras)}]" if self.extras else str(self.dist.wheel)
        assert line == f"pip install {DISTRIBUTION}"
        done = self.shell(f"python -m pip install -q {shlex.quote(wheel)}", cwd=self.root, timeout=600)
        assert _noise_free(done.stdout + done.stderr) == []


def _check_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"\(([\w.]+\.[EWI]\d{3})\)", output)))


def _outputs_of(outputs: list[tuple[str, str]], command: str) -> list[str]:
    found = [output for ran, output in outputs if ran == command]
    assert found, f"the guide never runs {command!r}"
    return found


def _output(outputs: list[tuple[str, str]], command: str) -> str:
    [found] = _outputs_of(outputs, command)
    return found


NO_RUNS = "run health (ok, late, failing, never-run) needs recorded runs: "


def test_guide_on_sqlite_with_no_extras(tmp_path: Path, dist: Dist) -> None:
    project = Project(tmp_path, dist).create()
    outputs = project.follow_guide()
    assert project.started == []  # beat, the worker and runserver need the [redis] and [api] extras
    # The guide's Redis broker without the [redis] extra: the one thing `check` has to say, at
    # step 6 and again at the end.
    for check in _outputs_of(outputs, "python manage.py check"):
        assert _check_ids(check) == ["reconciler.W004"] and "[redis]" in check
    assert len(_outputs_of(outputs, "python manage.py check")) == 2
    assert "1 task checked: valid" in _output(outputs, "python manage.py reconcile validate")
    assert "send-invoices-eu" in _output(outputs, "python manage.py reconcile plan --adopt")
    assert "1 created" in _output(outputs, "python manage.py reconcile apply --adopt")
    assert "No changes" in _output(outputs, "python manage.py reconcile plan --detailed-exitcode")
    # No django-celery-results: status still lists the schedule, and says what run health needs.
    status = _output(outputs, "python manage.py reconcile status").splitlines()
    assert status[1].split()[:2] == ["send-invoices-eu", "enabled"]
    assert status[-1].startswith(NO_RUNS) and "[results]" in status[-1]
    assert not list((project.venv / "lib").glob("python*/site-packages/project"))

    # After the guide, claims it makes. A feature without its extra: one line naming the extra.
    watch = subprocess.run(
        ["bash", "-c", "python manage.py reconcile watch"], cwd=project.site, env=project.env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert (watch.returncode, watch.stderr.strip()) == (1, (
        "Error: reconcile watch needs the watchdog package, which is not installed: "
        "pip install 'django-schedules-reconciler[watch]'"
    ))
    # The console script of the pre-commit hook, from the wheel.
    assert "1 task checked: valid" in project.shell("reconcile-schema-check schedules/billing.yaml").stdout


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


def _request(
    url: str, *, method: str = "GET", accept: str = "application/json", timeout: float = 30,
) -> tuple[int, str, bytes]:
    """As the guide's staff user ``ops`` (basic authentication)."""
    token = base64.b64encode(b"ops:change-me").decode()
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Basic {token}", "Accept": accept})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_guide_with_the_api_beat_and_a_worker_on_postgresql(
    tmp_path: Path, dist: Dist, postgres_database: str, redis_broker: str,
) -> None:
    on_postgresql = (
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', "
        f"'NAME': '{postgres_database}', 'USER': 'postgres', 'HOST': '127.0.0.1', 'PORT': '5432'}}}}\n"
    )
    port = _free_port()
    project = Project(
        tmp_path, dist, ("api", "postgres", "redis"), on_postgresql,
        {"CELERY_BROKER_URL": redis_broker, "PORT": str(port)},
    ).create()
    try:
        outputs = project.follow_guide()
        for check in _outputs_of(outputs, "python manage.py check"):
            assert _check_ids(check) == []
        assert "1 created" in _output(outputs, "python manage.py reconcile apply --adopt")
        assert _output(outputs, "python manage.py reconcile status").splitlines()[-1].startswith(NO_RUNS)
        _the_api_serves_its_schema_and_docs(project, port)
        beat, worker = project.log_of("celery -A mysite beat"), project.log_of("celery -A mysite worker")
        # Beat started with the reconciling scheduler, applied the folder, holds the lock and loaded the entry.
        _wait_for(beat, "in sync: no changes (1 tasks)")
        _wait_for(beat, "acquired the beat lock")
        _wait_for(worker, "ready.")
        # The declared schedule, sent now as beat would send it, is run by the guide's worker.
        status, _, body = _request(f"http://127.0.0.1:{port}/api/schedules/send-invoices-eu/run/", method="POST")
        assert status == 202, body
        task_id = json.loads(body)["id"]
        _wait_for(worker, f"Task billing.tasks.send_invoices[{task_id}] succeeded")
    finally:
        codes = project.stop()
    assert codes["celery -A mysite beat -l info -S reconciler.scheduler:ReconcilingScheduler"] == 0, beat.read_text()
    assert codes["celery -A mysite worker -l info"] == 0, worker.read_text()


def _the_api_serves_its_schema_and_docs(project: Project, port: int) -> None:
    base = f"http://127.0.0.1:{port}/api"
    _wait_for_port(port, project.started[-1][1], project.log_of("python manage.py runserver"))
    status, _, body = _request(f"{base}/")
    assert status == 200
    endpoints = json.loads(body)["endpoints"]
    assert endpoints["schema"]["url"] == f"{base}/schema/" and endpoints["docs"]["url"] == f"{base}/docs/"
    status, _, body = _request(f"{base}/tasks/")
    assert status == 200 and "billing.tasks.send_invoices" in body.decode()
    status, _, body = _request(f"{base}/schedules/")
    assert status == 200 and "send-invoices-eu" in body.decode()
    # The schema and the docs the root advertises: an OpenAPI document, an HTML page and its assets.
    status, _, body = _request(f"{base}/schema/")
    schema = json.loads(body)
    assert status == 200 and schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Schedules reconciler API"
    assert {"/api/schedules/", "/api/schedules/{name}/run/", "/api/tasks/"} <= set(schema["paths"])
    status, content_type, body = _request(f"{base}/docs/", accept="text/html")
    page = body.decode()
    assert status == 200 and content_type.startswith("text/html")
    assert page.startswith("<!DOCTYPE html>") and "SwaggerUIBundle(" in page and "https://" not in page
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', page)
    assert len(assets) == 4
    import drf_spectacular_sidecar

    dist = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar" / "swagger-ui-dist"
    for asset in assets:
        status, _, content = _request(f"http://127.0.0.1:{port}{asset}", accept="*/*")
        assert status == 200 and content == (dist / asset.rsplit("/", 1)[1]).read_bytes()


def _wait_for(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in {log.name} after {timeout} s:\n{log.read_text(errors='replace')}")


def _wait_for_port(port: int, server: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"runserver did not listen on {port}:\n{log.read_text()}")
