"""Real containers for tests: a busybox image built FROM scratch and compose-labelled services.

No registry is reachable here, so the image is built from the host's static /bin/busybox with
an in-memory build context. Every container carries the compose labels the Docker runtime
looks for and uses host networking (or none): tests reach only 127.0.0.0/8, never a bridge
IP. A `DockerLab` owns one compose project; `cleanup()` removes every container of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from console.runtime.docker.runtime import short_reason

IMAGE = "vextrus-test/busybox:1"
BUSYBOX = "/bin/busybox"
HEALTH_BODY = b"ok\n"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
START_HINT = (
    "start it with: setsid dockerd --bridge=none --iptables=false --ip-forward=false "
    "--ip-masq=false &"
)
MS = 1_000_000  # Docker healthcheck durations are in nanoseconds


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_available() -> tuple[bool, str]:
    """(True, "") when a daemon answers; otherwise why not, in words a CI log can use."""
    try:
        client = docker.from_env(version="auto", timeout=5)
        client.ping()
        client.close()
    except Exception as exc:
        reason = short_reason(exc)
        return False, f"Docker daemon not reachable at {docker_host()}: {reason}; {START_HINT}"
    return True, ""


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on right now, below the kernel's ephemeral range.

    Binding to port 0 hands out a port from the ephemeral range (32768-60999), where the
    machine's own outgoing connections take ports at random: a server there can find its
    port taken, or take one a client wanted. So a port is drawn from 26000-31999 (fixed
    test ports sit at 24200-25999), checked free, and never handed out twice in a session.
    """
    for _ in range(200):
        port = random.randrange(26000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port in 26000-31999")


# --- the image ----------------------------------------------------------------------------


def _applets() -> list[str]:
    out = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    return [a for a in out.stdout.split() if a and a != "busybox"]


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def _add_link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)


def build_context() -> io.BytesIO:
    """Dockerfile + rootfs: busybox with every applet linked (sh, wget, nc, sleep, httpd...)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dockerfile = b'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["/bin/sh"]\n'
        _add_file(tar, "Dockerfile", dockerfile)
        for d in ("rootfs", "rootfs/bin", "rootfs/www", "rootfs/empty"):
            _add_dir(tar, d)
        _add_dir(tar, "rootfs/tmp", 0o1777)
        with open(BUSYBOX, "rb") as f:
            _add_file(tar, "rootfs/bin/busybox", f.read(), 0o755)
        for applet in _applets():
            _add_link(tar, f"rootfs/bin/{applet}", "busybox")
        _add_file(tar, "rootfs/www/health", HEALTH_BODY)
    buf.seek(0)
    return buf


def ensure_image(client: docker.DockerClient) -> str:
    """Build the test image once per daemon (it is kept between runs: it costs ~1 s)."""
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        client.images.build(
            fileobj=build_context(), custom_context=True, tag=IMAGE, rm=True,
            forcerm=True, network_mode="none", labels={"vextrus-test": "1"},
        )
    return IMAGE


# --- the lab ------------------------------------------------------------------------------


def _wget(port: int, path: str = "/health") -> list[str]:
    """No `-T`: Debian's busybox-static 1.35 wget segfaults on it (exit 139, no output)."""
    return ["wget", "-qO-", f"http://127.0.0.1:{port}{path}"]


def _httpd(port: int, root: str = "/www") -> list[str]:
    return ["httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", root]


def healthcheck(test: list[str], interval_ms: int = 200, retries: int = 1) -> dict[str, Any]:
    """A fast Docker healthcheck so `healthy`/`unhealthy` are reached in well under a second."""
    return {
        "test": ["CMD", *test], "interval": interval_ms * MS, "timeout": 2000 * MS,
        "retries": retries, "start_period": 0,
    }


class DockerLab:
    """Compose-labelled containers of one project, made to order for a test."""

    def __init__(self, project: str, client: docker.DockerClient | None = None) -> None:
        self.project = project
        self.client = client or docker.from_env(version="auto", timeout=30)
        self._image: str | None = None

    def labels(self, service: str) -> dict[str, str]:
        return {
            PROJECT_LABEL: self.project, SERVICE_LABEL: service,
            "com.docker.compose.container-number": "1", "com.docker.compose.oneoff": "False",
        }

    def run(
        self, service: str, command: list[str], network_mode: str = "host", **kwargs: Any
    ) -> Container:
        """`docker run -d` the way compose names and labels it: `<project>-<service>-1`."""
        if self._image is None:
            self._image = ensure_image(self.client)
        container: Container = self.client.containers.run(
            self._image, command, detach=True, name=f"{self.project}-{service}-1",
            labels=self.labels(service), network_mode=network_mode, **kwargs,
        )
        return container

    # --- ready-made services ---------------------------------------------------------------

    def healthy(self, service: str, port: int, with_healthcheck: bool = True) -> Container:
        """busybox httpd on 127.0.0.1:PORT serving /www/health; healthy when checked."""
        if with_healthcheck:
            self.with_healthcheck(service, _httpd(port), _wget(port))
            return self.wait_health(service, "healthy")
        c = self.run(service, _httpd(port))
        _wait_port(port)
        return c

    def unhealthy(self, service: str, port: int) -> Container:
        """httpd with no /health file (404) and a Docker healthcheck that fails on it."""
        self.with_healthcheck(service, _httpd(port, "/empty"), _wget(port))
        return self.wait_health(service, "unhealthy")

    def with_healthcheck(
        self, service: str, command: list[str], test: list[str], network_mode: str = "host"
    ) -> Container:
        return self.run(service, command, network_mode, healthcheck=healthcheck(test))

    def crash_loop(self, service: str, code: int = 3, restarts: int = 3) -> Container:
        """`echo boom; exit CODE` under restart policy `always`: a restart loop."""
        self.run(
            service, ["sh", "-c", f"echo boom; exit {code}"], restart_policy={"Name": "always"}
        )
        return self.wait_for(
            service, lambda a: a["RestartCount"] >= restarts, f"{restarts} restarts"
        )

    def hanging(self, service: str, port: int) -> Container:
        """Accepts connections on PORT and never says a word (a hung service).

        busybox nc: `-ll` keeps listening after each connection, `-e` hands the connection
        to a `sleep` that never writes (this busybox has no -k or -s; it binds all
        addresses, and probes connect to 127.0.0.1 only).
        """
        return self.run(service, ["nc", "-ll", "-p", str(port), "-e", "/bin/busybox",
                                  "sleep", "3600"])

    def exited(self, service: str, code: int) -> Container:
        self.run(service, ["sh", "-c", f"echo leaving with {code}; exit {code}"])
        return self.wait_for(service, lambda a: a["State"]["Status"] == "exited", "exited")

    def no_network(self, service: str, port: int) -> Container:
        """The port-forwarding fault: httpd answers inside, the host cannot reach it."""
        c = self.run(service, _httpd(port), network_mode="none")
        _retry(lambda: c.exec_run(_wget(port)).exit_code == 0, "httpd inside answering")
        return c

    def sleeper(self, service: str, network_mode: str = "none") -> Container:
        return self.run(service, ["sleep", "3600"], network_mode)

    def created(self, service: str) -> Container:
        """Created, never started (`docker create`): cheap bulk for listing benchmarks."""
        if self._image is None:
            self._image = ensure_image(self.client)
        container: Container = self.client.containers.create(
            self._image, ["sleep", "3600"], name=f"{self.project}-{service}-1",
            labels=self.labels(service), network_mode="none",
        )
        return container

    def kill(self, service: str, signal: str = "SIGKILL") -> None:
        self.container(service).kill(signal=signal)

    # --- waiting and cleanup ---------------------------------------------------------------

    def container(self, service: str) -> Container:
        return self.client.containers.get(f"{self.project}-{service}-1")

    def wait_for(
        self, service: str, ok: Callable[[dict], bool], what: str, timeout: float = 20
    ) -> Container:
        """Poll the container's inspect data until `ok(attrs)`; fail with the last state."""
        c = self.container(service)
        deadline = time.monotonic() + timeout
        while not ok(c.attrs):
            if time.monotonic() > deadline:
                raise AssertionError(f"{service}: not {what} after {timeout}s: {c.attrs['State']}")
            time.sleep(0.05)
            c.reload()
        return c

    def wait_health(self, service: str, health: str) -> Container:
        return self.wait_for(
            service, lambda a: (a["State"].get("Health") or {}).get("Status") == health, health
        )

    def cleanup(self) -> None:
        """Remove every container of the project, whatever state it is in."""
        found = self.client.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"}
        )
        for c in found:
            with contextlib.suppress(docker.errors.NotFound):
                c.remove(force=True)


def sweep_stale(client: docker.DockerClient, prefix: str = "vxtest-") -> list[str]:
    """Remove containers of `<prefix><pid>-<hex>` projects whose test process is gone.

    A test run killed from outside (a CI timeout) cannot clean up after itself.
    """
    removed = []
    for c in _list_settled(client):
        project = c.labels.get(PROJECT_LABEL, "")
        pid = project[len(prefix) :].split("-")[0]
        if project.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                c.remove(force=True)
                removed.append(c.name)
    return removed


def _list_settled(client: docker.DockerClient) -> list[Container]:
    """Labelled containers; a container removed while docker-py inspects the list (another
    test run on the same daemon) makes it raise NotFound, so the listing is asked again."""
    for _ in range(5):
        try:
            return list(client.containers.list(all=True, filters={"label": PROJECT_LABEL}))
        except docker.errors.NotFound:
            time.sleep(0.2)
    return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _retry(ok: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout}s")
        time.sleep(0.05)


def _wait_port(port: int, host: str = "127.0.0.1") -> None:
    def answers() -> bool:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            return False

    _retry(answers, f"listening on {host}:{port}")


# --- a second, disposable daemon ----------------------------------------------------------


class ScratchDaemon:
    """A second dockerd with its own socket, data-root and exec-root, to kill and restart.

    Outage tests cannot touch the shared daemon. The directory lives under /tmp with a
    short name: a unix socket path must stay under 108 bytes.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vxd-", dir="/tmp"))
        self.socket = self.root / "d.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def usable() -> tuple[bool, str]:
        if shutil.which("dockerd") is None:
            return False, "dockerd is not installed: cannot run a second daemon"
        if os.geteuid() != 0:
            return False, "a second dockerd needs root"
        return True, ""

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        r = self.root
        return [
            "dockerd", "--host", self.url, "--data-root", str(r / "data"),
            "--exec-root", str(r / "exec"), "--pidfile", str(r / "d.pid"),
            "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
        ]

    def start(self, timeout: float = 30) -> None:
        """Start and wait until it answers; a pidfile left by a SIGKILL is removed first."""
        (self.root / "d.pid").unlink(missing_ok=True)
        with open(self.root / "dockerd.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        _retry(self._answers, f"dockerd answering on {self.url}", timeout)

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = (self.root / "dockerd.log").read_text(errors="replace")[-800:]
            raise AssertionError(f"dockerd exited with {self.proc.returncode}: {tail}")
        try:
            client = docker.DockerClient(base_url=self.url, version="auto", timeout=2)
            client.ping()
            client.close()
            return True
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL, like a crash, and its containerd with it.

        Left alone, the orphaned containerd takes about a second to exit and holds its
        database lock meanwhile, so a quick restart would time out waiting for it.
        """
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        pid = self._containerd_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _retry(lambda: not _alive(pid), f"containerd {pid} gone")

    def _containerd_pid(self) -> int | None:
        try:
            return int((self.root / "exec" / "containerd" / "containerd.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def remove(self) -> None:
        """Stop it, undo the mounts dockerd made under its root, delete the directory."""
        self.stop()
        for mount in sorted(self._mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def _mounts(self) -> list[str]:
        with open("/proc/mounts") as f:
            points = [line.split()[1] for line in f]
        return [p for p in points if p == str(self.root) or p.startswith(f"{self.root}/")]
