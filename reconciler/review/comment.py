"""Post the plan as a pull-request comment, or update the bot's own: a comment carrying the
marker AND written by the token's own user (anyone can paste the marker into a comment).

Used by the GitHub Action (``action.yml``) and the GitLab CI job of docs/ci.md::

    python -m reconciler.review.comment --body-file plan.md            # GitHub
    python -m reconciler.review.comment --body-file plan.md --gitlab   # GitLab merge request

Standard library only, and no Django: it runs after the plan, with the token, and nothing else
does. The token is read from the environment (``GITHUB_TOKEN`` / ``GITLAB_TOKEN``), never
from the command line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- schedules-plan -->"
GITHUB_ACTIONS_BOT = "github-actions[bot]"  # who GITHUB_TOKEN writes as (it may not read /user)
MAX_BODY = 65_536  # GitHub refuses longer comments; GitLab's limit is higher
TRUNCATED = "\n\n… the plan is too long for a comment: the job's log has all of it.\n"


def comment_body(markdown: str, *, limit: int = MAX_BODY) -> str:
    """The comment: the plan, cut to the limit without leaving a ``<details>`` open, and
    always carrying the marker (last), so that the next push finds it. The renderers never let
    the marker into user-derived text, so only their own marker lines are taken out."""
    body = "\n".join(line for line in markdown.splitlines() if line.strip() != MARKER).rstrip("\n")
    tail = f"\n\n{MARKER}\n"
    if len(body) + len(tail) > limit:
        room = limit - len(tail) - len(TRUNCATED) - len("\n</details>") * 20
        cut = body[:room].rsplit("\n", 1)[0]
        unclosed = cut.count("<details") - cut.count("</details>")
        body = cut + TRUNCATED + "\n</details>" * max(unclosed, 0)
    return body + tail


def find_comment(comments: Sequence[Mapping[str, Any]], author: str) -> Mapping[str, Any] | None:
    """The oldest comment that ``author`` wrote and that carries the marker; a marked comment
    somebody else wrote is never ours to edit."""
    return next((c for c in comments if written_by(c) == author and MARKER in str(c.get("body") or "")), None)


def written_by(comment: Mapping[str, Any]) -> str | None:
    """The login of a GitHub comment's ``user``, the username of a GitLab note's ``author``."""
    github, gitlab = comment.get("user"), comment.get("author")
    if isinstance(github, Mapping) and github.get("login"):
        return str(github["login"])
    if isinstance(gitlab, Mapping) and gitlab.get("username"):
        return str(gitlab["username"])
    return None


_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def next_page(link_header: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (GitHub and GitLab paginate alike)."""
    found = _NEXT.search(link_header or "")
    return found.group(1) if found else None


@dataclass(frozen=True)
class Target:
    """Where the comments of one pull (merge) request live, and how to authenticate."""

    list_url: str
    update_url: str   # with {id}
    update_method: str
    headers: Mapping[str, str]
    user_url: str     # who the token is
    fallback_author: str | None = None  # when the token may not read user_url

    @classmethod
    def github(cls, env: Mapping[str, str]) -> Target:
        api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        repo, number = _required(env, "GITHUB_REPOSITORY"), _required(env, "PR_NUMBER")
        return cls(
            f"{api}/repos/{repo}/issues/{number}/comments", f"{api}/repos/{repo}/issues/comments/{{id}}", "PATCH",
            {"Authorization": f"Bearer {_required(env, 'GITHUB_TOKEN')}", "Accept": "application/vnd.github+json",
             "X-GitHub-Api-Version": "2022-11-28"},
            f"{api}/user", env.get("COMMENT_AUTHOR") or GITHUB_ACTIONS_BOT,
        )

    @classmethod
    def gitlab(cls, env: Mapping[str, str]) -> Target:
        api = _required(env, "CI_API_V4_URL").rstrip("/")
        project, iid = _required(env, "CI_PROJECT_ID"), _required(env, "CI_MERGE_REQUEST_IID")
        notes = f"{api}/projects/{project}/merge_requests/{iid}/notes"
        return cls(notes, f"{notes}/{{id}}", "PUT", {"PRIVATE-TOKEN": _required(env, "GITLAB_TOKEN")},
                   f"{api}/user", env.get("COMMENT_AUTHOR") or None)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise SystemExit(f"error: the environment variable {name} is not set")
    return value


Send = Callable[[str, str, Mapping[str, str], bytes | None], tuple[Any, Mapping[str, str]]]


def http(method: str, url: str, headers: Mapping[str, str], data: bytes | None) -> tuple[Any, Mapping[str, str]]:
    request = urllib.request.Request(url, data=data, method=method, headers={
        **headers, "Content-Type": "application/json", "User-Agent": "schedules-reconciler",
    })
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null"), dict(response.headers)


def comments(target: Target, send: Send) -> Iterator[Mapping[str, Any]]:
    url: str | None = f"{target.list_url}?per_page=100&sort=asc"
    while url:
        page, headers = send("GET", url, target.headers, None)
        yield from page
        url = next_page(headers.get("Link") or headers.get("link"))


def token_user(target: Target, send: Send) -> str:
    """The login the token writes as: ``/user`` when the token may read it (a personal or
    project token), else the fallback (GITHUB_TOKEN writes as github-actions[bot])."""
    try:
        me, _ = send("GET", target.user_url, target.headers, None)
    except (OSError, ValueError):  # urllib's HTTPError is an OSError
        me = None
    login = (me.get("login") or me.get("username")) if isinstance(me, Mapping) else None
    if login:
        return str(login)
    if target.fallback_author:
        return target.fallback_author
    raise SystemExit("error: cannot tell who the token is (GET /user failed): set COMMENT_AUTHOR to its username")


def upsert(target: Target, body: str, send: Send = http) -> str:
    """Update the bot's comment, or create it; returns what was done."""
    mine = find_comment(list(comments(target, send)), token_user(target, send))
    payload = json.dumps({"body": body}).encode()
    if mine is None:
        send("POST", target.list_url, target.headers, payload)
        return "created"
    if mine.get("body") == body:
        return "unchanged"
    send(target.update_method, target.update_url.format(id=mine["id"]), target.headers, payload)
    return "updated"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="post or update the schedules plan comment")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--gitlab", action="store_true", help="a GitLab merge-request note instead")
    parser.add_argument("--dry-run", action="store_true", help="print the comment, post nothing")
    options = parser.parse_args(argv)
    body = comment_body(options.body_file.read_bytes().decode("utf-8", errors="replace"))
    if options.dry_run:
        sys.stdout.write(body)
        return 0
    env = env if env is not None else os.environ
    target = Target.gitlab(env) if options.gitlab else Target.github(env)
    print(f"schedules plan comment: {upsert(target, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
