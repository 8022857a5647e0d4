"""The action's comment script: the body, finding the bot's own comment, create or update.

The HTTP side runs against a small fake API on the loopback interface (the real script,
urllib and all); only GitHub itself is left out.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.review.comment import MARKER, MAX_BODY, Target, comment_body, find_comment, main, next_page, upsert

BOT = {"login": "github-actions[bot]", "type": "Bot"}
MALLORY = {"login": "mallory", "type": "User"}


def test_body_carries_the_marker_once_at_the_end() -> None:
    body = comment_body(f"**Schedules:** plan\n\n{MARKER}\n")
    assert body == f"**Schedules:** plan\n\n{MARKER}\n"
    assert comment_body("plain").endswith(f"\n\n{MARKER}\n")


def test_a_long_body_is_cut_without_leaving_details_open() -> None:
    rows = "".join(f"<details><summary>t{i}</summary>\n\n- {'x' * 200}\n\n</details>\n" for i in range(1000))
    body = comment_body("**Schedules:** many\n\n" + rows)
    assert len(body) <= MAX_BODY
    assert body.count("<details>") == body.count("</details>")
    assert "too long for a comment" in body and body.endswith(MARKER + "\n")


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        ([], None),
        ([{"id": 1, "body": "LGTM", "user": BOT}, {"id": 2, "body": None, "user": MALLORY}], None),
        ([{"id": 1, "body": "LGTM", "user": BOT}, {"id": 2, "body": f"plan\n{MARKER}", "user": BOT},
          {"id": 3, "body": MARKER, "user": BOT}], 2),
        ([{"id": 1, "body": f"spoof\n{MARKER}", "user": MALLORY}, {"id": 2, "body": f"plan\n{MARKER}", "user": BOT}],
         2),
        ([{"id": 1, "body": f"spoof\n{MARKER}", "user": MALLORY}, {"id": 2, "body": f"x\n{MARKER}"}], None),
        ([{"id": 1, "body": f"spoof\n{MARKER}", "author": {"username": "mallory"}},
          {"id": 2, "body": f"plan\n{MARKER}", "author": {"username": "github-actions[bot]"}}], 2),
    ],
    ids=["none", "only-people", "oldest-marked", "planted-by-someone-else", "no-author", "gitlab-notes"],
)
def test_find_comment_only_the_bots_own(comments: list[dict[str, Any]], expected: int | None) -> None:
    found = find_comment(comments, "github-actions[bot]")
    assert (found["id"] if found else None) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ('<https://api.example/x?page=1>; rel="prev", <https://api.example/x?page=3>; rel="next"',
         "https://api.example/x?page=3"),
        ('<https://api.example/x?page=1>; rel="first"', None),
    ],
)
def test_next_page(header: str | None, expected: str | None) -> None:
    assert next_page(header) == expected


class FakeApi(BaseHTTPRequestHandler):
    """Two pages of issue comments; records every write."""

    comments: list[dict[str, Any]] = []
    writes: list[tuple[str, str, dict[str, Any], str | None]] = []
    me: dict[str, Any] | None = None  # None: /user is refused, as it is to GITHUB_TOKEN

    def do_GET(self) -> None:
        if self.path == "/user":
            if self.me is None:
                self.send_response(403)
                self.end_headers()
                self.wfile.write(b'{"message": "Resource not accessible by integration"}')
                return
            self._reply(self.me, {})
            return
        page = 2 if "page=2" in self.path else 1
        items = self.comments[:2] if page == 1 else self.comments[2:]
        link = f'<http://127.0.0.1:{self.server.server_port}{self.path.split("?")[0]}?page=2>; rel="next"'
        self._reply(items, {"Link": link} if page == 1 else {})

    def _write(self) -> None:
        length = int(self.headers["Content-Length"])
        payload = json.loads(self.rfile.read(length))
        self.writes.append((self.command, self.path, payload, self.headers["Authorization"]))
        self._reply({"id": 99}, {})

    do_POST = do_PATCH = _write

    def _reply(self, payload: object, headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        for key, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    FakeApi.writes = []
    FakeApi.me = None
    server = HTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def env(api: str) -> dict[str, str]:
    return {"GITHUB_API_URL": api, "GITHUB_REPOSITORY": "acme/shop", "PR_NUMBER": "7", "GITHUB_TOKEN": "t0ken"}


def test_updates_its_own_comment_found_on_the_second_page(api: str, tmp_path: Path) -> None:
    FakeApi.comments = [{"id": 1, "body": "LGTM", "user": MALLORY},
                        {"id": 2, "body": f"nit\n{MARKER}", "user": MALLORY},
                        {"id": 3, "body": f"old\n{MARKER}", "user": BOT}]
    plan = tmp_path / "plan.md"
    plan.write_text(f"**Schedules:** new\n\n{MARKER}\n")
    assert main(["--body-file", str(plan)], env=env(api)) == 0
    assert FakeApi.writes == [(
        "PATCH", "/repos/acme/shop/issues/comments/3", {"body": f"**Schedules:** new\n\n{MARKER}\n"}, "Bearer t0ken",
    )]


def test_creates_a_comment_when_there_is_none(api: str) -> None:
    FakeApi.comments = [{"id": 1, "body": "LGTM"}]
    assert upsert(Target.github(env(api)), f"x\n\n{MARKER}\n") == "created"
    assert [(m, p) for m, p, _, _ in FakeApi.writes] == [("POST", "/repos/acme/shop/issues/7/comments")]


def test_an_identical_comment_is_left_alone(api: str) -> None:
    FakeApi.comments = [{"id": 5, "body": f"x\n\n{MARKER}\n", "user": BOT}]
    assert upsert(Target.github(env(api)), f"x\n\n{MARKER}\n") == "unchanged"
    assert FakeApi.writes == []


def test_gitlab_target() -> None:
    target = Target.gitlab({
        "CI_API_V4_URL": "https://gitlab.example/api/v4", "CI_PROJECT_ID": "12", "CI_MERGE_REQUEST_IID": "3",
        "GITLAB_TOKEN": "glpat",
    })
    assert target.list_url == "https://gitlab.example/api/v4/projects/12/merge_requests/3/notes"
    assert (target.update_method, target.update_url.format(id=9)) == ("PUT", target.list_url + "/9")
    assert target.headers == {"PRIVATE-TOKEN": "glpat"}


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(SystemExit, match="GITHUB_TOKEN"):
        Target.github({"GITHUB_REPOSITORY": "a/b", "PR_NUMBER": "1"})


def test_a_marked_comment_planted_by_someone_else_is_never_edited(api: str) -> None:
    FakeApi.comments = [{"id": 1, "body": f"planted\n{MARKER}\n", "user": MALLORY}]
    assert upsert(Target.github(env(api)), f"x\n\n{MARKER}\n") == "created"
    assert [(m, p) for m, p, _, _ in FakeApi.writes] == [("POST", "/repos/acme/shop/issues/7/comments")]


def test_a_personal_token_edits_its_own_users_comment(api: str) -> None:
    FakeApi.me = {"login": "release-bot"}
    FakeApi.comments = [{"id": 1, "body": f"a\n{MARKER}", "user": BOT}, {"id": 2, "body": f"b\n{MARKER}",
                                                                       "user": {"login": "release-bot"}}]
    assert upsert(Target.github(env(api)), f"x\n\n{MARKER}\n") == "updated"
    assert [(m, p) for m, p, _, _ in FakeApi.writes] == [("PATCH", "/repos/acme/shop/issues/comments/2")]


def test_a_body_file_that_is_not_utf8_is_still_posted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.md"
    plan.write_bytes(b"**Schedules:** caf\xe9.yaml\n\n" + MARKER.encode() + b"\n")
    assert main(["--body-file", str(plan), "--dry-run"]) == 0
    assert capsys.readouterr().out == f"**Schedules:** caf\ufffd.yaml\n\n{MARKER}\n"
