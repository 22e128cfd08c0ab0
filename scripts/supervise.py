#!/usr/bin/env python3
"""Run a server until this script's standard input closes, then stop it.

The test harness starts S3-compatible servers through this script and holds its
stdin open; when the test process exits for any reason, stdin closes and the server's
whole process group is terminated (SIGTERM, then SIGKILL after a grace period).

usage: supervise.py GRACE_SECONDS PROGRAM [ARGS...]
"""

import os
import signal
import subprocess
import sys
import threading


def main() -> int:
    grace = float(sys.argv[1])
    server = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                return
            try:
                server.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def watch_stdin() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    code = server.wait()
    stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
