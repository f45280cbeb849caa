"""Load from inside a container whose launcher is pid 1 (a pod as a kubelet runs it, a compose
replica): plain and streaming clients in threads until the one worker was replaced `recycles`
times (a new python process under the fork server, whose parent is the launcher) or 90 s
passed. Prints JSON: answers, streams, failures (a stream without its [DONE] is "cut"), the
workers at the start and every worker seen. Model `unlimited-mock`: a group with no rpm."""

from __future__ import annotations

_LOAD = """
import json, os, threading, time, urllib.request
KEY, RECYCLES = %r, %d
def pids():
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if b"python" in cmd:
            found[int(pid)] = int(stat[1])
    return found
def workers():
    procs = pids()
    servers = {p for p, parent in procs.items() if parent == 1}  # the fork server
    return {p for p, parent in procs.items() if parent in servers and p not in servers}
first, seen = workers(), set()
done = threading.Event()
counts = {"ok": 0, "streams": 0, "failed": []}
lock = threading.Lock()
def call(stream):
    body = json.dumps({"model": "unlimited-mock", "stream": stream,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    while not done.is_set():
        req = urllib.request.Request("http://127.0.0.1:4000/v1/chat/completions", data=body,
                                     headers={"Authorization": "Bearer " + KEY,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
            failure = "" if not stream or text.rstrip().endswith("data: [DONE]") else "cut"
        except Exception as exc:
            failure = repr(exc)
        with lock:
            if failure:
                counts["failed"].append(failure)
            else:
                counts["streams" if stream else "ok"] += 1
threads = [threading.Thread(target=call, args=(s,)) for s in (False, False, True, True)]
for t in threads:
    t.start()
deadline = time.monotonic() + 90
while time.monotonic() < deadline and len(seen - first) < RECYCLES + 1:
    seen |= workers()
    time.sleep(0.5)
time.sleep(2)
done.set()
for t in threads:
    t.join(60)
print(json.dumps({**counts, "first": sorted(first), "seen": sorted(seen)}))
"""


def script(master_key: str, recycles: int) -> str:
    """The program for `python3 -c` inside the container."""
    return _LOAD % (master_key, recycles)
