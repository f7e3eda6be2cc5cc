"""`audit`: seed 002's hardening rules by file:line, and `--fix` against a real daemon."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from actions.audit.rules import audit_file, floating_reason
from cli.main import main
from console.journal import Journal
from tests.dockerlab import DockerLab, build_context

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


@pytest.fixture
def versioned_image(docker_lab: DockerLab) -> Iterator[str]:
    """A local image labelled with its version (as official images are), under a floating tag."""
    repo = f"vxaudit-{os.getpid()}"
    docker_lab.client.images.build(
        fileobj=build_context(), custom_context=True, tag=f"{repo}:latest", rm=True,
        network_mode="none", labels={"org.opencontainers.image.version": "1.36.1"})
    yield repo
    for tag in (f"{repo}:latest", f"{repo}:1.36.1"):
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_lab.client.images.remove(tag, force=True)


@pytest.mark.docker
def test_fix_pins_adds_healthcheck_limits_rotation_keeps_comments_and_a_backup(
        tmp_path: Path, docker_lab: DockerLab, versioned_image: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    docker_lab.run("cache", ["sh", "-c", "head -c 50000000 /dev/zero | tail > /dev/null & "
                             "sleep 600"])
    stack = tmp_path / "stack.toml"
    stack.write_text(f"""[stack]\nname = "t"\nproject = "{docker_lab.project}"\n
[services.cache]\ntier = "infrastructure"
checks = [{{ kind = "http", port = 6380, path = "/health" }}]\n""")
    path = write(tmp_path, image=versioned_image)
    path.chmod(0o640)
    before = path.read_text()
    state = tmp_path / "state"
    argv = ["--stack", str(stack), "--state-dir", str(state), "audit", str(path), "--fix",
            "--yes"]
    assert main(argv) == 1  # fixed what it could; the rest needs a decision
    out = capsys.readouterr().out
    assert "finished: ok" in out
    after = path.read_text()
    assert "# Vextrus dev stack (hand-kept comments must survive --fix)" in after
    assert f"image: {versioned_image}:1.36.1   # the busybox stand-in" in after
    docker_lab.client.images.get(f"{versioned_image}:1.36.1")  # the pin resolves locally
    cache = yaml.safe_load(after)["services"]["cache"]
    assert cache["healthcheck"] == {
        "test": ["CMD", "wget", "-qO-", "http://127.0.0.1:6380/health"],
        "interval": "30s", "timeout": "10s", "retries": 3, "start_period": "60s"}
    assert cache["logging"] == {"driver": "json-file",
                                "options": {"max-size": "10m", "max-file": "3"}}
    limits = cache["deploy"]["resources"]["limits"]
    assert limits["memory"].endswith("M") and int(limits["memory"][:-1]) >= 128
    assert float(limits["cpus"]) >= 0.25
    assert cache["restart"] == "unless-stopped"  # the anchor still merges
    backup = path.with_name(path.name + ".bak")
    assert backup.read_text() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    rules = {(f.service, f.rule) for f in audit_file(path)}
    assert not {r for s, r in rules if s == "cache"}  # every cache finding fixed
    assert ("traefik", "insecure-proxy-flag") in rules  # left for a person
    journal = Journal(state / "journal.sqlite3", stack="t")
    try:
        assert any("audit --fix finished: ok" in e.text for e in journal.timeline(limit=5))
    finally:
        journal.close()
