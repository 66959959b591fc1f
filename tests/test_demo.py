"""``ledgerbridge demo`` as a newcomer runs it: a real process, read from its output."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import free_port

READY = "Ctrl-C to stop"


@contextmanager
def demo(tmp_path: Path, port: int, sandbox_port: int) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    command = [sys.executable, "-m", "ledgerbridge", "demo", "--size", "10"]
    command += ["--port", str(port), "--sandbox-port", str(sandbox_port)]
    command += ["--data-dir", str(tmp_path / "demo")]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr.log").open("w"),
        text=True,
        encoding="utf-8",
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Everything the process printed up to the line holding ``marker``."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    seen.wait(timeout)
    output = "".join(lines)
    assert seen.is_set(), f"no {marker!r} after {timeout}s; the demo printed:\n{output}"
    return output


def test_demo_connects_syncs_summarises_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    with demo(tmp_path, port, sandbox_port) as process:
        output = read_until(process, READY, timeout=120)

        header = re.search(r"records\W+xero\W+quickbooks\W+lightspeed", output)
        assert header, output
        totals = re.search(r"total\W+([\d,]+)\W+([\d,]+)\W+([\d,]+)", output)
        assert totals, output
        assert all(int(n.replace(",", "")) > 0 for n in totals.groups()), output
        assert f"http://127.0.0.1:{port}/docs" in output

        origin = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{origin}/health").status_code == 200
        token = re.search(r"export TOKEN=(\S+)", output)
        records_url, matches_url = re.findall(r"curl .*'(http://\S+)'", output)
        assert token, output
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        records = httpx.get(records_url, headers=headers)
        assert records.status_code == 200, records.text
        assert records.json()["data"], records.text
        assert records.json()["data"][0]["model"] == "invoice"
        reconciled = re.search(r"invoices and bills: (\d+) matched", output)
        assert reconciled and int(reconciled.group(1)) > 0, output
        matches = httpx.get(matches_url, headers=headers)
        assert matches.status_code == 200 and matches.json()["data"], matches.text

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


def test_a_busy_port_says_which_option_to_pass(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with demo(tmp_path, port, free_port()) as process:
            assert process.wait(timeout=60) == 1
            assert process.stdout is not None
            assert "pass --port with a free port" in process.stdout.read()
