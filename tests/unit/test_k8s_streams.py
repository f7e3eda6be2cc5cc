"""Exec, logs and lists as a real API server serves them: v5 and v4 exec subprotocols, a
Status on the error channel whatever its reason, previous logs over replicas of which only
some crashed, the default-container annotation (a mesh sidecar listed first), paged lists
and server-side field selectors. All against tests/k8s_fake_api.py, through the real
client's transport.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from actions.base import CancelToken
from actions.kubernetes import ProbeInside
from cli.main import main
from console.model import HealthCheck, Service, Stack
from console.runtime.kubernetes.runtime import KubernetesActionError, KubernetesRuntime
from console.runtime.kubernetes.streams import exec_outcome
from console.runtime.kubernetes.watch import LIST_PAGE
from tests.k8s_fake_api import FakeKubeAPI, deployment, event, pod
from tests.unit.test_k8s_runtime import svc, until

# What containerd says through the kubelet when the binary is not in the image
MISSING_BINARY = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "Internal error occurred: error executing command in container: failed to exec "
               'in container: failed to start exec "5f1e": OCI runtime exec failed: exec '
               'failed: unable to start container process: exec: "wget": executable file not '
               "found in $PATH: unknown",
    "reason": "InternalError",
    "details": {"causes": [{"message": "error executing command in container: failed to exec "
                                       'in container: ... exec: "wget": executable file not '
                                       "found in $PATH: unknown"}]},
    "code": 500}


def auth_pods(fake: FakeKubeAPI, **kwargs: str) -> None:
    fake.put("Deployment", deployment("auth", 1, **kwargs))  # type: ignore[arg-type]
    fake.put("Pod", pod("auth", "a0", **kwargs))  # type: ignore[arg-type]


# --- exec -------------------------------------------------------------------------------


async def test_exec_speaks_v5_to_a_new_server_and_v4_to_an_old_one(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    auth_pods(fake)
    fake.exec_handler = lambda p, argv: (3, "half", " done\n")
    result = await runtime.exec(svc("auth"), ["check"], 5)
    assert fake.exec_protocol == "v5.channel.k8s.io"  # with the close signals for 1 and 2
    assert (result.exit_code, result.output) == (3, "half done\n")
    fake.exec_protocols = ("v4.channel.k8s.io",)  # a 1.29 server
    result = await runtime.exec(svc("auth"), ["check"], 5)
    assert fake.exec_protocol == "v4.channel.k8s.io"
    assert (result.exit_code, result.output) == (3, "half done\n")


async def test_probe_inside_with_the_binary_missing_says_so(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """The API answers InternalError (no exit code in its causes): a failed check in words,
    not a ValueError from parsing the message as a number."""
    auth_pods(fake)
    fake.exec_handler = lambda p, argv: (MISSING_BINARY, "", "")
    stack = Stack("t", (Service("auth", checks=(HealthCheck("http", port=3001),)),))
    events = [e async for e in ProbeInside(stack, runtime, "auth").run(CancelToken())]
    assert [(e.kind, e.step) for e in events] == [
        ("failed", "http 127.0.0.1:3001/health (inside)"), ("done", "auth")]
    assert events[0].message == ('wget not available inside the container: exec failed: '
                                 'exec: "wget": executable file not found in $PATH: unknown')


def run_here(pod_name: str, argv: list[str]) -> tuple[int, str, str]:
    """The pod's container is this machine: argv runs for real, as the kubelet would run it
    (blocking this exec's connection until it ends, whether or not the client still
    listens), so what a given-up exec leaves running can be counted in /proc."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode if done.returncode >= 0 else 128 - done.returncode, done.stdout, \
        done.stderr


def carrying(tags: list[str]) -> list[int]:
    """Pids on this machine whose environment holds one of the tags."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(tag.encode() in environ for tag in tags):
            found.append(int(entry.name))
    return found


async def test_a_timed_out_exec_is_killed_inside_the_pod_refresh_after_refresh(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """Closing the websocket does not end the command in a real cluster; every refresh of a
    hanging probe would add one more `sleep` inside. The second exec (the kill script) ends
    it: after each of 8 timed-out execs, no process carrying any of their tags is left."""
    auth_pods(fake)
    fake.exec_handler = run_here
    tags: list[str] = []
    for _ in range(8):
        with pytest.raises(TimeoutError, match=r"did not finish within 0\.3s: sleep 60"):
            await runtime.exec(svc("auth"), ["sleep", "60"], 0.3)
        tags.append(fake.exec_calls[-1][2][1])
        assert await runtime.reaped() == 0
        await until(lambda: not carrying(tags), timeout=10)
        assert carrying(tags) == []
    kills = [argv for _, _, argv in fake.exec_calls if argv[:2] == ["sh", "-c"]]
    assert [argv[-1] for argv in kills] == tags  # one kill each, aimed by its own tag
    ok = await runtime.exec(svc("auth"), ["echo", "still", "answers"], 5)
    assert (ok.exit_code, ok.output) == (0, "still answers\n")


async def test_an_image_without_env_runs_commands_as_given(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """A distroless image has no `env` to carry the tag: the command still runs (once
    retried, then directly), and a hang there is counted as one that could not be killed."""
    auth_pods(fake)
    no_env = json.loads(json.dumps(MISSING_BINARY).replace('\\"wget\\"', '\\"env\\"'))
    assert '"env"' in no_env["message"]

    def distroless(pod_name: str, argv: list[str]) -> tuple[int | dict, str, str]:
        if argv[0] == "env":
            return no_env, "", ""
        return (0, "pong\n", "") if argv[0] == "ping" else run_here(pod_name, argv)

    fake.exec_handler = distroless
    assert (await runtime.exec(svc("auth"), ["ping"], 5)).output == "pong\n"
    assert (await runtime.exec(svc("auth"), ["ping"], 5)).output == "pong\n"
    assert [argv[0] for _, _, argv in fake.exec_calls] == ["env", "ping", "ping"]  # remembered
    with pytest.raises(TimeoutError):
        await runtime.exec(svc("auth"), ["sleep", "1"], 0.2)
    assert await runtime.reaped() == 1


def test_exec_status_in_words_whatever_its_reason() -> None:
    assert exec_outcome('{"metadata": {}, "status": "Success"}') == (0, "")
    assert exec_outcome('{"status": "Failure", "reason": "NonZeroExitCode", "details": '
                        '{"causes": [{"reason": "ExitCode", "message": "137"}]}}') == (137, "")
    assert exec_outcome('{"status": "Failure", "reason": "InternalError", "message": '
                        '"Internal error occurred: container not running (2f1c)", "details": '
                        '{"causes": [{"message": "container not running"}]}}') == (
        -1, "exec failed: Internal error occurred: container not running (2f1c)")
    assert exec_outcome('{"status": "Failure", "message": "exec: \\"sh\\": permission '
                        'denied"}')[0] == 126
    assert exec_outcome("") == (-1, "exec: the stream closed without a status")
    assert exec_outcome("<html>proxy error</html>") == (
        -1, "exec: unreadable status: <html>proxy error</html>")


# --- logs -------------------------------------------------------------------------------


def crashed_replica(fake: FakeKubeAPI) -> None:
    """Three replicas; only auth-a1 crashed, so only it has a previous container."""
    fake.put("Deployment", deployment("auth", 3))
    for i in range(3):
        fake.put("Pod", pod("auth", f"a{i}"))
    fake.logs[("auth-a1", True)] = ["2025-09-25T09:59:00Z FATAL: out of memory"]


async def test_previous_logs_skip_the_replicas_that_did_not_crash(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    crashed_replica(fake)
    lines = [(line.text, line.stream) async for line in runtime.logs(svc("auth"), previous=True)]
    assert lines == [
        ("[auth-a0] no previous container: auth has not restarted", "note"),
        ("[auth-a2] no previous container: auth has not restarted", "note"),
        ("[auth-a1] FATAL: out of memory", "stdout")]
    del fake.logs[("auth-a1", True)]
    with pytest.raises(KubernetesActionError, match=r"no previous container in any pod "
                       r"\(auth-a0, auth-a1, auth-a2 have not restarted\)"):
        async for _ in runtime.logs(svc("auth"), previous=True):
            pass


def cli_files(fake: FakeKubeAPI, tmp_path: Path) -> list[str]:
    stack = tmp_path / "stack.toml"
    stack.write_text('[stack]\nname = "t"\n[stack.kubernetes]\nnamespace = "vextrus"\n'
                     '[services.auth]\ntier = "core"\n'
                     'checks = [{ kind = "http", port = 3001, path = "/health" }]\n',
                     encoding="utf-8")
    config = fake.write_kubeconfig(tmp_path / "kubeconfig", "dev-cluster")
    return ["--stack", str(stack), "--runtime", "kubernetes", "--kubeconfig", str(config),
            "--state-dir", str(tmp_path)]


def test_cli_previous_logs_print_the_crashed_replica_and_name_the_others(
    fake: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed_replica(fake)
    assert main([*cli_files(fake, tmp_path), "logs", "auth", "--previous"]) == 0
    out = capsys.readouterr()
    assert out.out == "2025-09-25T09:59:00 [auth-a1] FATAL: out of memory\n"
    assert "auth-a0] no previous container" in out.err and "auth-a2]" in out.err


# --- which container ----------------------------------------------------------------------


async def test_the_default_container_annotation_beats_a_sidecar_listed_first(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1, sidecar="istio-proxy", default_container="auth"))
    fake.put("Pod", pod("auth", "a0", sidecar="istio-proxy", default_container="auth"))
    fake.logs[("auth-a0", "auth", False)] = ["2025-09-25T10:00:01Z listening on 3001"]
    fake.logs[("auth-a0", "istio-proxy", False)] = ["2025-09-25T10:00:00Z envoy ready"]
    assert [line.text async for line in runtime.logs(svc("auth"))] == ["listening on 3001"]
    assert fake.requests_for("GET", "/log$")[-1].query["container"] == ["auth"]
    await runtime.exec(svc("auth"), ["true"], 5)
    assert fake.exec_calls[-1][:2] == ("auth-a0", "auth")
    stack = Stack("t", (Service("auth", checks=(HealthCheck("http", port=3001),)),))
    [*_] = [e async for e in ProbeInside(stack, runtime, "auth").run(CancelToken())]
    assert fake.exec_calls[-1][:2] == ("auth-a0", "auth")
    state = (await runtime.list_states([svc("auth")]))["auth"]
    assert state.workload is not None
    assert (state.workload.containers, state.workload.default_container) == (
        ("istio-proxy", "auth"), "auth")

    runtime.choose_container("auth", "istio-proxy")  # the operator's choice wins
    assert [line.text async for line in runtime.logs(svc("auth"))] == ["envoy ready"]
    runtime.choose_container("auth", "nope")
    with pytest.raises(KubernetesActionError, match="auth-a0 has no container 'nope' "
                       r"\(it has istio-proxy, auth\)"):
        async for _ in runtime.logs(svc("auth")):
            pass


async def test_without_the_annotation_the_first_container_as_kubectl_does(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1, sidecar="istio-proxy"))
    fake.put("Pod", pod("auth", "a0", sidecar="istio-proxy"))
    await runtime.exec(svc("auth"), ["true"], 5)
    assert fake.exec_calls[-1][:2] == ("auth-a0", "istio-proxy")


def test_cli_container_option_for_logs_and_probes(
    fake: FakeKubeAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.put("Deployment", deployment("auth", 1, sidecar="istio-proxy"))
    fake.put("Pod", pod("auth", "a0", sidecar="istio-proxy"))
    fake.logs[("auth-a0", "auth", False)] = ["2025-09-25T10:00:01Z listening on 3001"]
    args = cli_files(fake, tmp_path)
    assert main([*args, "logs", "auth", "-c", "auth"]) == 0
    assert capsys.readouterr().out == "2025-09-25T10:00:01 listening on 3001\n"
    fake.exec_handler = lambda p, argv: (0, '{"status":"ok"}', "")
    assert main([*args, "probe-inside", "auth", "--container", "auth"]) == 0
    assert fake.exec_calls[-1][:2] == ("auth-a0", "auth")
    assert main([*args, "--runtime", "none", "logs", "auth", "-c", "auth"]) == 2


# --- lists ------------------------------------------------------------------------------


async def test_a_namespace_of_thousands_of_pods_is_listed_in_pages(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    fake.put("Deployment", deployment("auth", 1200))
    for i in range(1200):
        fake.put("Pod", pod("auth", f"{i:04d}"))
    expired: list[bool] = []

    def compact_once() -> None:  # etcd compacts between two pages of the first list
        if not expired:
            expired.append(True)
            fake.expire()

    fake.on_list_page = compact_once
    state = (await runtime.list_states([svc("auth")]))["auth"]
    assert state.workload is not None and len(state.workload.pods) == 1200
    pages = [r.query for r in fake.requests_for("GET", "^/api/v1/namespaces/vextrus/pods$")
             if "watch" not in r.query]
    assert all(q["limit"] == [str(LIST_PAGE)] for q in pages)
    # first list: page 1, then its continue token is too old (410): a fresh list, 3 pages
    assert ["continue" in q for q in pages] == [False, True, False, True, True]


async def test_events_are_filtered_by_the_server_to_warnings(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    auth_pods(fake)
    fake.put("Event", event("auth-a0", "Pulled", "Successfully pulled image",
                            event_type="Normal"))
    fake.put("Event", event("auth-a0", "Unhealthy", "Readiness probe failed: 503"))
    await runtime.list_states([svc("auth")])
    informer = runtime.informers["Event"]
    await until(lambda: informer.synced.is_set())
    assert [e["reason"] for e in informer.items()] == ["Unhealthy"]
    fake.put("Event", event("auth-a0", "Started", "Started container auth", event_type="Normal"))
    fake.put("Event", event("auth-a0", "BackOff", "Back-off restarting failed container"))
    await until(lambda: len(informer.items()) == 2)
    assert sorted(e["reason"] for e in informer.items()) == ["BackOff", "Unhealthy"]
    watches = [r.query for r in fake.requests_for("GET", "/events$")]
    assert watches and all(q["fieldSelector"] == ["type=Warning"] for q in watches)


async def test_exec_never_lands_in_a_terminating_pod(
    fake: FakeKubeAPI, runtime: KubernetesRuntime
) -> None:
    """A deleted pod in its grace period may still say Ready; it is not the one to probe."""
    fake.put("Deployment", deployment("auth", 2))
    dying = pod("auth", "a0")
    dying["metadata"]["deletionTimestamp"] = "2025-09-25T10:42:00Z"
    fake.put("Pod", dying)
    fake.put("Pod", pod("auth", "a1"))
    await runtime.exec(svc("auth"), ["true"], 5)
    assert fake.exec_calls[-1][0] == "auth-a1"
    state = (await runtime.list_states([svc("auth")]))["auth"]
    assert state.workload is not None
    assert [(p.name, p.reason, p.ready) for p in state.workload.pods] == [
        ("auth-a0", "Terminating", False), ("auth-a1", "", True)]
    assert state.error == ""  # a pod going away is not what is wrong with the service
