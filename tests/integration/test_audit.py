"""The integration tests of tests/unit/test_audit.py (same subject, other layer).

`audit`: seed 002's hardening rules by file:line, and `--fix` against a real daemon.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from actions.audit.rules import audit_file
from cli.main import main
from console.journal import Journal
from tests.dockerlab import DockerLab, build_context
from tests.unit.test_audit import (
    write,
)


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
