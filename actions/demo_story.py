"""The seeds' story, played headless: from seed 002's matrix (about 13-16% ready) to 100%.

`vextrus-console demo --script` runs this against a fresh demo and prints every step, so
CI and a newcomer without a terminal can watch the product do its work. Each chapter uses
the same guided actions the console and the CLI use (through `actions.base.execute`, so
the journal records them), in the order seed 002's plan gives:

1. the restart loop: pause the restarts of `configuration` and show the evidence (exit
   code, last log lines), "deploy the fix" (its fault file goes), restart it;
2. port forwarding: diagnose every port, start forwarders for the services that answer
   only on their own loopback;
3. the missing health endpoints of `workflow` and `api-gateway`: deploy, restart;
4. the phased bring-up of everything not started (minio, rabbitmq, the business services,
   the observability stack), waiting on probes, never sleeping;
5. secrets: scan the compose file, generate .env.production (0600), apply ${VAR}.
6. the readiness checklist (seed 002's "Success Metrics"): printed once every service is
   operational, then what the demo can fix is fixed (authentication on the admin UIs,
   CORS on the gateway, TLS and rate limits in the Traefik labels: see
   `console.demo.hardening`) and the checklist printed again. Items only time, a load test
   or a real database can settle (uptime > 10 min, p95s, usage) stay as they are, said.

The caller owns the session (and closes it); the story owns the forwarders it starts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from actions.base import ActionError, CancelToken, Progress, execute
from actions.bringup import BringUp
from actions.portproxy.fix import ForwarderFix, PortProxyDiagnose
from actions.restart import PauseRestarts, Restart
from actions.secrets.apply import SecretsApply
from actions.secrets.generate import SecretsGenerate
from actions.secrets.scan import Finding, scan_compose_text
from console.demo import hardening
from console.demo.apis import GRAFANA_TOKEN_ENV
from console.demo.session import DemoSession
from console.demo.stack import CRASH_LOOP, NO_HEALTH, clear_fault
from console.forwarder import ForwarderManager
from console.journal import Journal
from console.monitor import Monitor
from console.runtime.local.runtime import LocalRuntime
from console.status.types import StackStatus

if TYPE_CHECKING:
    from actions.readiness import Scorecard

Say = Callable[[str], None]
LOOP_WAIT_S = 30.0


class Story:
    """Plays the chapters in order; `readiness` holds every figure it printed."""

    def __init__(self, session: DemoSession, monitor: Monitor, journal: Journal | None,
                 say: Say, timeout: float = 60.0, checklist: bool = True) -> None:
        self.session, self.monitor, self.journal = session, monitor, journal
        self.say, self.timeout = say, timeout
        self.checklist = checklist  # chapter 6; off: the story as it was before it
        self.scores: list[Scorecard] = []  # the checklist before and after its fixes
        self.forwarders = ForwarderManager()
        self.readiness: list[tuple[int, int]] = []
        self.cancel = CancelToken()

    @property
    def runtime(self) -> LocalRuntime:
        assert self.session.runtime is not None
        return self.session.runtime

    async def play(self) -> StackStatus:
        try:
            name = CRASH_LOOP[0]
            looping = await self._wait_for(lambda st: st.get(name).restart_loop, LOOP_WAIT_S,
                                           f"{name} to be seen looping")
            # The status that showed the loop, not a new one: between two crashes a new
            # refresh may catch the service starting again (a loaded machine, a slow start).
            await self.checkpoint("the seeds' situation (seed 002)", looping)
            await self.restart_loop()
            await self.port_forwarding()
            await self.health_endpoints()
            await self.bring_up()
            await self.secrets()
            if self.checklist:
                await self.readiness_checklist()
            return await self.checkpoint("the end")
        finally:
            await self.forwarders.stop_all()

    async def checkpoint(self, title: str, status: StackStatus | None = None) -> StackStatus:
        status = status or await self.monitor.refresh()
        self.readiness.append((status.operational, status.total))
        self.say(f"== {title}: readiness {status.readiness:.0%} · "
                 f"{status.operational}/{status.total} operational")
        for s in status.services:
            if s.issues:
                self.say(f"   {s.name:<22} {s.state.value:<13} {'; '.join(s.issues)}")
        return status

    # --- chapters ---------------------------------------------------------------------------

    async def restart_loop(self) -> None:
        name = CRASH_LOOP[0]
        self.say(f"-- 1. {name} is in a restart loop (GraphQL schema conflict)")
        await self._run(PauseRestarts(self.session.stack, self.runtime, name))
        async for line in self.runtime.logs(self.session.stack.service(name), tail=4):
            self.say(f"   evidence: {line.text[:150]}")
        self.say(f"   deploying the fix for {name} (duplicate GraphQL type removed)")
        assert self.session.demo is not None
        clear_fault(self.session.demo, name)
        await self.runtime.set_restart_policy(self.session.stack.service(name), "on-failure")
        await self._run(Restart(self.session.stack, self.runtime, self.monitor, name,
                                timeout=self.timeout))
        await self.checkpoint(f"{name} fixed")

    async def port_forwarding(self) -> None:
        self.say("-- 2. core services are healthy inside but unreachable from the host")
        diagnose = PortProxyDiagnose(self.session.stack, self.runtime,
                                     forwarders=self.forwarders)
        await self._run(diagnose, show=("done",), findings_only=True)
        for finding in diagnose.findings:
            if not finding.ok and finding.status != "service down":
                self.say(f"   ✗ {finding.service}:{finding.port}: {finding.status}: "
                         f"{finding.detail}")
        down = sorted({f.service for f in diagnose.findings if f.status == "service down"})
        self.say(f"   ({len(down)} services down: not started yet, the bring-up's job)")
        fix = ForwarderFix(diagnose.findings, self.forwarders, target=self.session.stack.name,
                           exec_supported=False)
        await self._run(fix, show=("ok", "failed", "done"))
        await self.checkpoint("forwarders running")

    async def health_endpoints(self) -> None:
        self.say(f"-- 3. {' and '.join(NO_HEALTH)} have no health endpoint")
        assert self.session.demo is not None
        for name in NO_HEALTH:
            self.say(f"   deploying the health module of {name} (GET /health)")
            clear_fault(self.session.demo, name)
            await self._run(Restart(self.session.stack, self.runtime, self.monitor, name,
                                    timeout=self.timeout))
        await self.checkpoint("health endpoints deployed")

    async def bring_up(self) -> None:
        self.say("-- 4. phased bring-up of everything not started")
        action = BringUp(self.session.stack, self.runtime, self.monitor, self.journal,
                         parallel=6, timeout=self.timeout)
        await self._run(action)
        slowest = sorted(action.startup_seconds.items(), key=lambda kv: -kv[1])[:3]
        if slowest:
            words = ", ".join(f"{n} {s:.1f}s" for n, s in slowest)
            self.say(f"   slowest to become healthy: {words}")

    async def secrets(self) -> None:
        assert self.session.demo is not None
        compose = self.session.demo.compose_path
        env = compose.with_name(".env.production")
        self.say(f"-- 5. hardcoded secrets in {compose.name}")
        findings = _scan(compose)
        self.say(f"   scan: {len(findings)} hardcoded secret(s), e.g. "
                 + ", ".join(f"{Path(f.path).name}:{f.line} {f.key} [{f.masked}]"
                             for f in findings[:3]))
        await self._run(SecretsGenerate(env, compose))
        mode = oct(env.stat().st_mode & 0o777)
        self.say(f"   {env.name} written, mode {mode}")
        await self._run(SecretsApply(compose, env))
        left = _scan(compose)
        self.say(f"   after apply: {len(left)} hardcoded secret(s) left in {compose.name}")

    async def readiness_checklist(self) -> None:
        demo = self.session.demo
        assert demo is not None
        self.say("-- 6. seed 002's success checklist, live (vextrus-console readiness)")
        await self.scorecard("the checklist at 100% service readiness")
        names = hardening.secure_admin_uis(demo)
        self.say(f"   deploying authentication on the admin UIs: {', '.join(names)}")
        gateway = hardening.restrict_cors(demo)
        self.say(f"   {gateway}: CORS allows only {', '.join(hardening.ALLOWED_ORIGINS)}")
        for name in [*names, gateway]:
            await self._run(Restart(self.session.stack, self.runtime, self.monitor, name,
                                    timeout=self.timeout))
        routers = hardening.tls_and_rate_limit(demo.compose_path)
        self.say(f"   {demo.compose_path.name}: TLS, cert resolver and rate limit on routers "
                 f"{', '.join(routers) or '(already there)'}")
        await self.scorecard("the checklist after the fixes")

    async def scorecard(self, title: str) -> Scorecard:
        from datetime import UTC, datetime

        from actions.readiness import Inputs, evaluate
        from actions.readiness.report import cli_lines

        demo = self.session.demo
        assert demo is not None
        status = await self.monitor.refresh()
        env = {**os.environ, GRAFANA_TOKEN_ENV: demo.grafana_token}
        state = self.journal.path.parent if self.journal is not None else None
        card = await evaluate(Inputs(self.session.stack, status, lambda: datetime.now(UTC),
                                     demo.compose_path, state, timeout=3.0, env=env))
        self.scores.append(card)
        lines = cli_lines(card)
        self.say(f"== {title}: {lines[0]}")
        for line in lines[1:]:
            self.say(f"   {line}")
        return card

    # --- helpers ----------------------------------------------------------------------------

    async def _run(self, action: object, show: tuple[str, ...] = (),
                   findings_only: bool = False) -> None:
        """Run through `execute` (journaled); a failed step stops the story unless the
        action's failures are its findings (a diagnosis)."""
        events: AsyncIterator[Progress] = execute(action, self.cancel,  # type: ignore[arg-type]
                                                  self.journal)
        async for event in events:
            if not show or event.kind in show:
                self.say(f"   {event.line()}")
            if event.kind == "failed" and not findings_only:
                raise ActionError(f"{event.step}: {event.message}")

    async def _wait_for(self, done: Callable[[StackStatus], bool], timeout: float,
                        what: str) -> StackStatus:
        """The first refreshed status for which `done` holds."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if done(status := await self.monitor.refresh()):
                return status
            await asyncio.sleep(0.25)
        raise ActionError(f"timed out waiting for {what}")


def _scan(compose: Path) -> list[Finding]:
    return scan_compose_text(compose.read_text(encoding="utf-8"), str(compose)).findings
