"""Conformance: what README.md and docs/ promise, proven the same way on every deployment target.

Each scenario is written once and runs against every target configuration of targets.py
(local with 1 worker: the dev environment exactly as shipped; local with 2; compose with 1
and 2 replicas), through the CLI as a user runs it, in this order: start, status, the
groups the scenarios need, exact rate limits, smoke, a change under load, a failing change, a
master-key rotation under load, a backup round trip, and `down`.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.testing.load import Load, LoadReport, stream_chunks
from tests import prometheus_in_container as prom
from tests.conformance.deployment import Deployment
from tests.conformance.targets import (
    DOCKER,
    LIMITED_RPM,
    LONG_CHUNK_MS,
    LONG_CHUNKS,
    PROCESS,
    SWARM,
    SWARM_STACK,
)
from tests.k8s_tools import kubectl_path

# Every runtime's `status --format json` has exactly these keys, and its units these.
STATUS_KEYS = {"env", "runtime", "running", "healthy", "url", "build", "drift", "note",
               "units", "facts", "traffic"}
UNIT_KEYS = {"name", "state", "health", "url", "detail", "restarts", "last_exit", "workers"}
BURST_ROOM_S = 15.0  # a burst begins no later than this before a minute ends


def test_start(deployment: Deployment) -> None:
    d = deployment
    up = d.env_cli("up")
    assert "healthy in" in up.stdout, up.stdout
    st = d.status()
    assert st["running"] and st["healthy"], st
    assert st["build"] == "0001" and st["drift"] is None
    again = d.env_cli("up", check=False)  # a running environment changes with apply
    assert again.returncode == 1, again.stdout
    assert f"error: environment '{d.target.env}' is already running" in again.stderr, again.stderr


def test_status_has_one_shape(deployment: Deployment) -> None:
    st = deployment.status()
    assert set(st) == STATUS_KEYS, sorted(st)
    assert st["units"] and all(set(u) == UNIT_KEYS for u in st["units"]), st["units"]
    # nothing restarted: a crash would show here (restarts, last exit) and mark the unit
    assert [u for u in st["units"] if u["restarts"]] == [], st["units"]
    # traffic: null without stack.metrics; with it (the ci stack), what every replica with an
    # address here reports; where none has one (swarm's tasks), what the stack's Prometheus
    # scraped of every replica (its first scrapes may still be under way: up to 60 s)
    traffic, addressed = st["traffic"], sum(1 for u in st["units"] if u["url"])
    if traffic is not None and not addressed:
        deadline = time.monotonic() + 60
        while traffic.get("replicas") != deployment.target.processes and \
                time.monotonic() < deadline:
            time.sleep(3)
            traffic = deployment.status()["traffic"]
        assert traffic.get("replicas") == deployment.target.processes, traffic
    if traffic is not None:
        assert set(traffic) == {"window_s", "replicas", "groups"}, traffic
        assert traffic["replicas"] == (addressed or deployment.target.processes), traffic
    text = deployment.env_cli("status").stdout
    assert text.startswith(f"{deployment.target.env}: running on {st['runtime']}, healthy")


def test_the_load_groups_are_applied(deployment: Deployment) -> None:
    """The scenarios' groups (targets.py): the shipped dev environment gets them by the step
    a new user takes next, an `apply` of an edited environment file; the layered targets
    have them from the start."""
    d = deployment
    if "load" not in d.models():
        d.edit(lambda doc: doc.setdefault("model_list", []).extend(d.target.load_groups()))
        applied = d.env_cli("apply")
        assert f"applied: {d.target.env} now runs build 0002" in applied.stdout, applied.stdout
    assert {"load", "long", "limited"} <= d.models()


def test_rate_limit_admits_exactly_rpm(deployment: Deployment) -> None:
    """A burst in a UTC minute (LiteLLM's counting window) in which nothing else asked the
    group: exactly `rpm` answers, then 429s, however many processes serve (their counters
    are shared through Redis). Run before the smoke scenario, whose rpm check spends the
    group's minute: a layered target bursts at once, the shipped one after its `apply`."""
    d = deployment
    _fresh_minute(d)
    minute = datetime.now(UTC).minute
    statuses = _burst(d, "limited", LIMITED_RPM + 4)
    if datetime.now(UTC).minute != minute:  # straddled a minute: counting began again
        _fresh_minute(d)
        statuses = _burst(d, "limited", LIMITED_RPM + 4)
    assert statuses == [200] * LIMITED_RPM + [429] * 4, (d.target.processes, statuses)


def test_smoke(deployment: Deployment) -> None:
    """Chat, SSE chat, the Messages route for Anthropic groups, both rejections as 401, and
    an enforced rpm met by a 429: `smoke-test` on the environment as configured."""
    report = deployment.smoke()
    failed = [c for c in report["checks"] if not c["ok"]]
    assert report["ok"] and not failed, json.dumps(failed, indent=2)
    checks = {c["name"].split(":")[0]: c for c in report["checks"]}
    assert {"liveliness", "models", "auth", "chat", "messages", "stream", "rpm"} <= set(checks)
    for name in ("auth: missing key rejected", "auth: wrong key rejected"):
        check = next(c for c in report["checks"] if c["name"] == name)
        assert check["detail"].startswith("rejected with HTTP 401"), check


@pytest.mark.measured
def test_change_under_load_drops_nothing(deployment: Deployment) -> None:
    """An rpm edit, a new model group and a LiteLLM environment change, applied while plain
    and SSE clients keep sending and a 20 s stream that began before it is in flight."""
    d = deployment
    before = d.status()["build"]

    def change(doc: dict[str, Any]) -> None:
        groups = doc.setdefault("model_list", [])
        load = next(g for g in groups if g["model_name"] == "load")
        load["litellm_params"]["rpm"] = 100000  # an rpm edit
        groups.append(d.target.group("added"))  # a new group
        env = doc.setdefault("stack", {}).setdefault("environment", {})
        env["LITELLM_LOG"] = "WARNING"  # a LiteLLM environment change

    d.edit(change)
    # --dry-run and status say what would change, and nothing does
    dry = d.env_cli("apply", "--dry-run")
    assert "+    rpm: 100000" in dry.stdout and dry.stdout.rstrip().endswith(
        "dry run: nothing was changed"), dry.stdout
    assert d.status()["drift"] == (f"the configs changed since build {before} started: see "
                                   f"`llmproxy-ops apply --env {d.target.env} --dry-run`")
    assert d.status()["build"] == before and "added" not in d.models()
    report, stream, applied = _under_load(d, lambda: d.env_cli("apply"))
    assert not report.disruptions(max_retried=_announced(applied.stdout)), _evidence(d, report)
    assert stream == (True, LONG_CHUNKS + 2, ""), stream  # + LiteLLM's role and finish chunks
    assert "added" in d.models()
    after = d.status()
    assert after["build"] != before and after["drift"] is None
    assert not [u for u in after["units"] if u["restarts"]], after["units"]
    print(f"\n{d.target.name} change under load: {report.summary()}\n{applied.stdout[-2500:]}")
    unchanged = d.env_cli("apply")  # nothing changed since: nothing happens
    assert f"{d.target.env}: no changes against the running build" in unchanged.stdout
    assert d.status()["build"] == after["build"]


@pytest.mark.measured
def test_failing_change_rolls_back_and_the_old_build_serves(deployment: Deployment) -> None:
    d = deployment
    before, groups = d.status()["build"], d.models()
    d.edit(lambda doc: doc["model_list"].append(d.target.group("broken", "fail-500")))
    try:
        report, _, done = _under_load(d, lambda: d.env_cli("apply", check=False))
    finally:
        d.edit(lambda doc: doc.update(model_list=[g for g in doc["model_list"]
                                                  if g["model_name"] != "broken"]))
    assert done.returncode == 1, done.stdout
    assert "smoke test failed: chat: broken" in done.stdout, done.stdout
    assert not report.disruptions(max_retried=_announced(done.stdout)), _evidence(d, report)
    assert d.status()["build"] == before and d.models() == groups
    print(f"\n{d.target.name} failing change: {report.summary()}")


@pytest.mark.measured
def test_master_key_rotation_under_load(deployment: Deployment) -> None:
    """Clients hold the old key until `keys rotate master` returns, then take the new one (as
    an operator hands it out): a request holding one key may meet a process holding the
    other one while the rotation switches over (a 401, inherent to replacing the single
    master key LiteLLM has; counted and printed, not failed); nothing else may happen."""
    d = deployment
    old = d.key()
    holder = {"key": old}

    def rotate() -> str:
        out = d.env_cli("keys rotate master").stdout
        holder["key"] = d.key()
        return out

    report, _, rotated = _under_load(d, rotate, key_source=lambda: holder["key"], long=False)
    new = d.key()
    assert new != old
    allowed = _announced(rotated)
    assert not [p for p in report.disruptions(max_retried=allowed) if "rejected" not in p], \
        _evidence(d, report)
    for key, expected in ((old, 401), (new, 200)):
        statuses = {_models_status(d, key) for _ in range(4)}  # every replica, round robin
        assert statuses == {expected}, (key == new, statuses)
    # the stack's own Prometheus (stack.metrics) scrapes with the master key: the new one now
    scraped = _own_prometheus_scrapes(d)
    assert scraped is None or scraped == "every replica up", scraped
    print(f"\n{d.target.name} master-key rotation: {report.summary()}")


def _own_prometheus_scrapes(d: Deployment) -> str | None:
    """None where the stack runs no Prometheus of its own; else whether it scrapes every
    replica now with success (its targets page: what it scrapes, and the last scrape's
    health and error), waiting up to 90 s (its scrape interval is 15 s). Not `up` itself: a
    target dropped from discovery keeps its last `up` sample visible for up to two more
    intervals. Asked from inside its container: no port is published, and Swarm's overlay is
    not reachable from here."""
    status = d.status()
    if "prometheus" not in {u["name"] for u in status["units"]}:
        return None
    facts = status["facts"]
    labels = ((f"com.docker.swarm.service.name={facts['stack']}_prometheus",) if "stack" in facts
              else (f"com.docker.compose.project={facts['project']}",
                    "com.docker.compose.service=prometheus"))
    container = prom.container_of(*labels)
    if container is None:
        return f"no running prometheus container ({', '.join(labels)})"
    replicas = d.target.processes  # one worker per replica on the container targets
    deadline, targets = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        targets = [(t["labels"]["instance"].rsplit(":", 1)[0], t["health"], t["lastError"])
                   for t in prom.api(container, "targets", state="active")["activeTargets"]
                   if t["labels"].get("job") == "litellm"]
        # Swarm's DNS may still list a task that has exited for a while: what must be up is
        # every running task (by its overlay address); compose names each replica.
        up = {host for host, health, _ in targets if health == "up"}
        if "stack" not in facts:
            if len(targets) == replicas and len(up) == replicas:
                return "every replica up"
        elif len(tasks := _swarm_task_addresses(facts["stack"])) == replicas and all(
                task & up for task in tasks):
            extra = [t for t in targets if not any(t[0] in task for task in tasks)]
            if extra:
                print(f"\n{d.target.name}: Prometheus also scrapes {extra} (not a running task)")
            return "every replica up"
        time.sleep(2)
    return f"after 90 s: {len(targets)} target(s) for {replicas} replica(s): {targets}"


def _swarm_task_addresses(stack: str) -> list[set[str]]:
    """Each running task of the stack's litellm service: its addresses on its networks."""
    ids = subprocess.run(["docker", "service", "ps", "-q", "--filter", "desired-state=running",
                          f"{stack}_litellm"], capture_output=True, text=True, timeout=30,
                         check=True).stdout.split()
    if not ids:
        return []
    out = subprocess.run(["docker", "inspect", "--format",
                          "{{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}",
                          *ids], capture_output=True, text=True, timeout=30, check=True).stdout
    return [{address.split("/")[0] for address in line.split()} for line in out.splitlines()]


def test_backup_round_trip(deployment: Deployment) -> None:
    """create -> verify -> restore of the target's databases: rows deleted after the backup
    are back, no scratch database is left, and it serves as before."""
    d = deployment
    pg = d.backup_context().pg
    pg.execute("mlflow", "CREATE TABLE canary (id bigint PRIMARY KEY);"
                         "INSERT INTO canary SELECT generate_series(1, 500);")
    created = d.env_cli("backup create")
    assert "created" in created.stdout, created.stdout
    verified = d.env_cli("backup verify")  # the newest backup
    assert "verified" in verified.stdout, verified.stdout
    folder = created.stdout.split("created: ", 1)[1].split(" (", 1)[0].strip()
    pg.execute("mlflow", "DELETE FROM canary WHERE id > 10")
    restored = d.env_cli("backup restore", folder, "--yes")
    assert restored.returncode == 0, restored.stdout
    assert pg.table_stats("mlflow")["public.canary"].rows == 500
    leftovers = [db for db in pg.databases() if "__" in db or db.startswith("llmproxy_scratch_")]
    assert leftovers == []
    st = d.status()
    assert st["running"] and st["healthy"], st
    assert d.smoke()["ok"]


def test_rpm_without_shared_counters_over_admits(deployment: Deployment) -> None:
    """The control of the exact-rpm scenario: the deployment's Redis switched off by an
    `apply`, every process counts alone and together they admit more than rpm, so the
    exactness above is the shared counters' work (a burst of 2 x rpm + 4: nginx spreads it)."""
    d = deployment
    d.edit(lambda doc: doc["stack"]["compose"].update(redis={"enabled": False}))
    d.env_cli("apply")
    # the apply took the Redis out of the stack, not only out of LiteLLM's config
    assert "redis" not in {u["name"] for u in d.status()["units"]}, d.status()["units"]
    # no fresh minute needed: with Redis off the apply's smoke test has no rpm check (each
    # process counts alone: the limit is unknowable) and asks `limited` once, which leaves
    # the processes more than rpm to admit; the burst must only fit in its minute
    _minute_with_room()
    statuses = _burst(d, "limited", d.target.processes * LIMITED_RPM + 4)
    admitted = statuses.count(200)
    print(f"\n{d.target.name} rpm {LIMITED_RPM} without Redis: {admitted} admitted: {statuses}")
    assert LIMITED_RPM < admitted <= d.target.processes * LIMITED_RPM, statuses
    assert set(statuses) == {200, 429}, statuses


def test_down_leaves_nothing_behind(deployment: Deployment) -> None:
    d = deployment
    d.env_cli("down", *(["--volumes", "--yes"] if d.target.engine in (DOCKER, SWARM) else []))
    assert not d.status()["running"]
    assert _left_behind(d) == [], _left_behind(d)
    if d.target.engine == PROCESS:  # again, with the fake provider's state file corrupted
        d.env_cli("up")
        (d.root / ".run" / d.target.env / "fake_provider.json").write_text("{not json")
        d.env_cli("down")
        assert _left_behind(d) == [], _left_behind(d)


def test_render(deployment: Deployment) -> None:
    """What every target has, started or not: its deployment rendered from the layered
    configs, with no value of the env file in any rendered file; a kustomize folder builds."""
    d = deployment
    done = d.env_cli("render", *d.target.render_args)
    build = d.root / "build" / d.target.env
    assert f"rendered {d.target.env} → build/{d.target.env}/" in done.stdout, done.stdout
    assert (build / "config.yaml").is_file()
    values = [v for v in read_env_file(d.root / ".env").values() if len(v) >= 8]
    leaked = [str(p.relative_to(build)) for p in build.rglob("*") if p.is_file()
              and any(v in p.read_text(encoding="utf-8", errors="replace") for v in values)]
    assert leaked == [], leaked
    if (build / "kustomization.yaml").is_file():
        built = subprocess.run([kubectl_path(), "kustomize", str(build)], capture_output=True,
                               text=True, timeout=120, check=False)
        assert built.returncode == 0, built.stderr
        kinds = {doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc}
        assert {"Deployment", "Service", "NetworkPolicy"} <= kinds, kinds


# ---- helpers -------------------------------------------------------------------------------


def _under_load(d: Deployment, action: Callable[[], Any], *, long: bool = True,
                key_source: Callable[[], str] | None = None) -> tuple[LoadReport, Any, Any]:
    """`action` while 2 plain and 1 SSE client send to the `load` group (and, with `long`, a
    20 s stream begun before it is in flight); what the clients saw, the stream, the result."""
    url, verify = d.url, d.verify
    stream: dict[str, Any] = {}
    started = threading.Event()

    def long_stream() -> None:
        with httpx.Client(base_url=url, verify=verify, timeout=120,
                          headers={"Authorization": f"Bearer {d.key()}"}) as client:
            client.event_hooks["response"] = [lambda _: started.set()]
            stream["result"] = stream_chunks(client, "long")

    thread = threading.Thread(target=long_stream, daemon=True)
    with Load(url, d.key(), "load", key_source=key_source, verify=verify) as load:
        if long:
            thread.start()
            assert started.wait(30), "the long stream did not start"
        time.sleep(2.0)
        result = action()
        time.sleep(2.0)
    if long:
        thread.join(LONG_CHUNKS * LONG_CHUNK_MS / 1000 + 60)
    return load.report, stream.get("result"), result


def _announced(output: str) -> int:
    """Resends a rollout announced it may cause: per nginx reload it reports, one per load
    client whose keep-alive connection may be idle at that instant (2 plain + 1 SSE)."""
    said = re.search(r"nginx reloaded (\d+) time\(s\): a request sent on an idle keep-alive",
                     output)
    return int(said[1]) * (Load.plain_clients + Load.stream_clients) if said else 0


def _evidence(d: Deployment, report: LoadReport) -> str:
    """What the clients saw, then what ran: status (restarts, last exits) and the logs."""
    logs = d.env_cli("logs", "-n", "40", check=False).stdout
    return (f"{report.summary()}\n{d.env_cli('status', check=False).stdout}\n{logs[-6000:]}"
            f"{_slow_through_nginx(d)}")


def _slow_through_nginx(d: Deployment) -> str:
    """nginx's answers that show why a pause happened: more than one upstream address (a
    connect that failed or timed out, then the next task) or time spent before any upstream
    answered (its resolver, a connect)."""
    if not d.target.tls:
        return ""
    out = d.env_cli("logs", "-s", "nginx", "-n", "20000", check=False).stdout
    found = []
    for line in out.splitlines():
        record = line[line.find("{"):]
        try:
            entry = json.loads(record)
            waited = float(entry.get("request_time") or 0) - sum(
                float(t) for t in re.split(r"[,:] ", entry.get("upstream_response_time") or "0")
                if t.replace(".", "", 1).isdigit())
        except (ValueError, AttributeError):
            continue
        if "," in entry.get("upstream_addr", "") or waited >= 0.3:
            found.append(record)
    return "\nnginx: answers with a retry or a wait before the upstream:\n" + "\n".join(found[-15:])


def _burst(d: Deployment, model: str, count: int) -> list[int]:
    headers = {"Authorization": f"Bearer {d.key()}"}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    try:
        with httpx.Client(base_url=d.url, verify=d.verify, timeout=60) as client:
            return [client.post("/v1/chat/completions", json=body, headers=headers).status_code
                    for _ in range(count)]
    finally:
        d.asked_groups_at = time.time()


def _fresh_minute(d: Deployment) -> None:
    """Wait, if need be, for a UTC minute whose rpm counters hold none of the requests of the
    deployment's earlier commands (a smoke test asks every group), with BURST_ROOM_S left in
    it for a burst (a second of margin for clocks and queues)."""
    now = time.time()
    minute_began = now - now % 60
    asked = d.asked_groups_at
    if asked is not None and asked >= minute_began - 1.0:
        time.sleep(60 - now % 60 + 1.0)
    _minute_with_room()


def _minute_with_room() -> None:
    """Wait for the next UTC minute when fewer than BURST_ROOM_S are left in this one."""
    left = 60 - time.time() % 60
    if left < BURST_ROOM_S:
        time.sleep(left + 1.0)


def _models_status(d: Deployment, key: str) -> int:
    return httpx.get(f"{d.url}/v1/models", headers={"Authorization": f"Bearer {key}"},
                     verify=d.verify, timeout=30).status_code


def _left_behind(d: Deployment) -> list[str]:
    """Processes started from the project, containers, networks and volumes of its compose
    project, listeners on the ports it published."""
    if d.target.engine == DOCKER:
        project = f"com.docker.compose.project=llmproxy-conformance-{d.target.processes}"
        return _labelled(project, ("ps -a", "network ls", "volume ls"))
    if d.target.engine == SWARM:  # a stack's objects carry its namespace; secrets ours
        return (_labelled(f"com.docker.stack.namespace={SWARM_STACK}",
                          ("service ls", "ps -a", "network ls", "volume ls", "config ls"))
                + _labelled(f"llmproxy-ops.stack={SWARM_STACK}", ("secret ls",)))
    return [f"pid {pid}: {cmd}" for pid, cmd in _processes_of(d.root)]


def _labelled(label: str, listings: tuple[str, ...]) -> list[str]:
    left = []
    for kind in listings:
        out = _docker(*kind.split(), "--filter", f"label={label}", "--format",
                      "{{.Names}}" if kind == "ps -a" else "{{.Name}}")
        left += [f"{kind.split()[0]}: {name}" for name in out.split()]
    return left


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def _processes_of(root: Path) -> list[tuple[int, str]]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = str((proc / "cwd").resolve())
        except OSError:
            continue
        if str(root) in cmd or cwd.startswith(str(root)):
            found.append((int(proc.name), cmd.strip()[:200]))
    return found


@pytest.fixture(autouse=True)
def _declared_reasons(request: pytest.FixtureRequest) -> None:
    """A scenario a target declares it cannot run is skipped with that declared reason."""
    if "deployment" not in request.fixturenames:
        return
    scenario = request.node.originalname.removeprefix("test_")
    reason = request.getfixturevalue("deployment").target.why_not(scenario)
    if reason is not None:
        pytest.skip(reason)
