"""`audit`: seed 002's hardening rules by file:line, and `--fix` against a real daemon."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from actions.audit.rules import audit_file, floating_reason
from cli.main import main

COMPOSE = """\
# Vextrus dev stack (hand-kept comments must survive --fix)
x-common: &common
  restart: unless-stopped

services:
  cache:
    <<: *common
    image: {image}   # the busybox stand-in
    command: ["sleep", "600"]
  traefik:
    image: "traefik:v3.1"
    command:
      - --api.insecure=true
      - --providers.docker
    ports: ["8080:8080"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
  hardened:
    image: busybox:1.36.1
    healthcheck:
      test: ["CMD", "true"]
    deploy:
      resources:
        limits:
          memory: 64M
    logging:
      driver: json-file
      options:
        max-size: 10m
  builder:
    build: .
    privileged: true
    logging:
      driver: syslog
    deploy:
      replicas: 2
"""


def write(tmp_path: Path, image: str = "redis:7-alpine", text: str = COMPOSE) -> Path:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text.format(image=image))
    return path


def test_every_rule_names_its_line(tmp_path: Path) -> None:
    found = [(f.line, f.service, f.rule) for f in audit_file(write(tmp_path))]
    assert found == [
        (6, "cache", "no-healthcheck"), (6, "cache", "no-log-rotation"),
        (6, "cache", "no-resource-limits"), (8, "cache", "unpinned-image"),
        (10, "traefik", "no-healthcheck"), (10, "traefik", "no-log-rotation"),
        (10, "traefik", "no-resource-limits"), (11, "traefik", "unpinned-image"),
        (13, "traefik", "insecure-proxy-flag"), (15, "traefik", "admin-ui-exposed"),
        (17, "traefik", "docker-socket"),
        (30, "builder", "no-healthcheck"), (30, "builder", "no-resource-limits"),
        (32, "builder", "privileged"),
    ]  # `hardened` passes every rule; syslog ships builder's logs elsewhere


@pytest.mark.parametrize(("image", "why"), [
    ("redis", "no tag (means latest)"), ("minio/minio:latest", "floating tag 'latest'"),
    ("redis:7-alpine", "floating tag '7-alpine' (no patch version)"),
    ("postgres:15", "floating tag '15' (no patch version)"),
    ("registry.local:5000/team/app", "no tag (means latest)"),
])
def test_floating_tags(image: str, why: str) -> None:
    assert floating_reason(image) == why


@pytest.mark.parametrize("image", [
    "redis:7.2.4-alpine", "postgres:15.5.1", "minio/minio:RELEASE.2024-09-13T20-26-02Z",
    "confluentinc/cp-kafka:7.5.3", "registry.local:5000/app:1.2.3",
    "redis@sha256:" + "a" * 64, "app:${APP_TAG}",
])
def test_pinned_images_pass(image: str) -> None:
    assert floating_reason(image) is None


def test_cli_lists_findings_and_exits_1_and_json_is_stable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    assert main(["--runtime", "none", "audit", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:13  insecure-proxy-flag" in out
    assert "14 findings (10 fixable with --fix)" in out
    assert main(["--runtime", "none", "audit", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == 1 and len(data["findings"]) == 14
    assert data["findings"][0] == {"rule": "no-healthcheck", "service": "cache",
                                   "file": str(path), "line": 6,
                                   "message": "cache: no healthcheck", "fixable": True}


@pytest.mark.parametrize(("text", "words"), [
    ("services:\n  a: [\n", "docker-compose.yml:3: expected the node content"),
    ("- just a list\n", "not a compose file (the top level is not a mapping)"),
    ("version: '3'\n", "no `services:` section"),
])
def test_files_it_cannot_read_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(text)
    assert main(["--runtime", "none", "audit", str(path), "--fix", "--yes"]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1
    assert path.read_text() == text and not list(tmp_path.glob("*.bak"))


def test_dry_run_shows_the_diff_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    before = path.read_text()
    assert main(["--runtime", "none", "audit", str(path), "--fix", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+    logging:\n+      driver: json-file\n+      options:\n" \
           "+        max-size: 10m\n+        max-file: '3'" in out
    assert "left: " in out and "no local image to pin to" in out
    assert "no observed usage (the service is not running)" in out
    assert path.read_text() == before and not list(tmp_path.glob("*.bak"))


def test_read_only_refuses_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    before = path.read_text()
    assert main(["--runtime", "none", "--read-only", "audit", str(path), "--fix", "--yes"]) == 2
    assert "refused in read-only mode" in capsys.readouterr().err
    assert path.read_text() == before


def test_an_interrupted_write_leaves_the_original_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path)
    before = path.read_text()
    real_replace = os.replace

    def power_cut(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == path:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", power_cut)
    assert main(["--runtime", "none", "audit", str(path), "--fix", "--yes"]) == 2
    assert "Input/output error" in capsys.readouterr().err
    assert path.read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- against the real daemon: pins to the local image, limits from what it uses ------------


