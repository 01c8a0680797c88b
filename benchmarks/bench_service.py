"""Bounded load test of ``brainseg serve`` on loopback: N concurrent clients for a fixed time.

Reports requests/s, p50/p95 latency, errors (any 5xx or unexpected status), and the server's
RSS at the start and end and its peak. With ``--junk`` a share of the uploads is junk (random
bytes, truncated PNGs, text), which must all get a 4xx; this is the soak test of
docs/reliability.md. Only 127.0.0.1 is ever contacted, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from common import BRAINSEG, median_of, save
from PIL import Image


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _payloads(seed: int = 0) -> tuple[list[bytes], list[bytes]]:
    from brainseg.phantom import synth_patient

    rng = np.random.default_rng(seed)
    images, _ = synth_patient(rng, 12, 256)
    good = []
    for image in images[3:9]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        good.append(buffer.getvalue())
    junk = [
        os.urandom(5000),
        good[0][:400],
        b"just text",
        b"\x89PNG\r\n\x1a\n" + os.urandom(64),
        b"II*\x00" + os.urandom(300),
        b"",
    ]
    return good, junk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--junk", type=float, default=0.0, help="share of junk uploads")
    parser.add_argument("--model", default=None)
    parser.add_argument("--name", default="service")
    args = parser.parse_args()
    port = _free_port()
    tmp_before = set(Path(tempfile.gettempdir()).glob("brainseg-*"))
    command = BRAINSEG + ["serve", "--port", str(port), "--workers", "2"]
    if args.model:
        command += ["--model", args.model]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    good, junk = _payloads()
    with httpx.Client(timeout=30) as warm:
        warm.post(url + "/v1/segment", files={"file": ("a.png", good[0])})
    rss_start = _rss_mib(server.pid)
    latencies, statuses, lock = [], [], threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(timeout=60) as session:
            while time.perf_counter() < deadline:
                is_junk = rnd.random() < args.junk
                payload = rnd.choice(junk if is_junk else good)
                start = time.perf_counter()
                try:
                    status = session.post(
                        url + "/v1/segment", files={"file": ("up.png", payload)}
                    ).status_code
                except httpx.HTTPError:
                    status = -1
                ok = (400 <= status < 500) if is_junk else status == 200
                with lock:
                    latencies.append(time.perf_counter() - start)
                    statuses.append((status, ok))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    rss_end, rss_peak = _rss_mib(server.pid), _rss_mib(server.pid, "VmHWM")
    server.terminate()
    server.wait(timeout=30)
    leftovers = set(Path(tempfile.gettempdir()).glob("brainseg-*")) - tmp_before
    lat = sorted(latencies)
    save(
        args.name,
        {
            "clients": args.clients,
            "seconds": round(elapsed, 1),
            "junk_share": args.junk,
            "requests": len(statuses),
            "requests_per_s": round(len(statuses) / elapsed, 2),
            "latency_p50_ms": round(median_of(lat) * 1000, 1),
            "latency_p95_ms": round(lat[int(0.95 * (len(lat) - 1))] * 1000, 1),
            "errors": sum(1 for _, ok in statuses if not ok),
            "server_5xx": sum(1 for s, _ in statuses if s >= 500),
            "rss_start_mib": round(rss_start),
            "rss_end_mib": round(rss_end),
            "rss_peak_mib": round(rss_peak),
            "temp_files_left": len(leftovers),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
