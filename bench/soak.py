"""Soak: idle connections, slow clients and a produce load against one Silt server at
once. Holds `--idle` idle connections (half on the HTTP listener, half on the Kafka
listener; each one the server closes is opened again), `--slow` slow clients (a third
send request headers one byte per second, a third send a body one byte per second after
declaring a large one, a third send a Kafka frame cut in the middle and wait), while
`silt bench` produces at `--rate` records/s for `--duration` seconds. Before that, the
same `silt bench` runs alone for `--baseline` seconds, so its acknowledgement latency
can be compared with the one under the soak.

The server's resident memory is sampled every second (the peak is reported) and its
open descriptors are counted before, during and after: once the soak's connections are
gone, the count must come back to where it started.

    target/release/silt dev --data-dir /tmp/soak &
    python3 bench/soak.py --pid $! --duration 300

Prints one JSON object; exits 1 when descriptors are not released."""

import argparse
import asyncio
import json
import os
import subprocess
import time


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Counters:
    def __init__(self) -> None:
        self.idle_closed_by_server = 0
        self.slow_closed_by_server = 0
        self.slow_answers = {}
        self.connect_errors = 0


async def idle(host: str, port: int, stop: asyncio.Event, counters: Counters) -> None:
    """One idle connection, opened again whenever the server closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counters.connect_errors += 1
            await asyncio.sleep(1)
            continue
        read = asyncio.ensure_future(reader.read(1))
        done, _ = await asyncio.wait(
            [read, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if read in done:
            counters.idle_closed_by_server += 1
        else:
            read.cancel()
        writer.close()


async def slow(kind: str, host: str, http_port: int, kafka_port: int,
               stop: asyncio.Event, counters: Counters) -> None:
    """One slow client of `kind`, starting over whenever the server ends it."""
    while not stop.is_set():
        port = kafka_port if kind == "kafka_cut_frame" else http_port
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counters.connect_errors += 1
            await asyncio.sleep(1)
            continue
        if kind == "slow_headers":
            trickle = b"POST /v1/topics/soak/records HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 10000
        elif kind == "slow_body":
            writer.write(b"POST /v1/topics/soak/records HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
            trickle = b"{" + b" " * 1000000
        else:
            # A Produce frame that declares 1,000 bytes and sends 14.
            writer.write((1000).to_bytes(4, "big") + b"\x00\x00\x00\x09\x00\x00\x00\x01\x00\x00")
            trickle = b""
        answer = b""
        try:
            for byte in trickle:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    answer = await asyncio.wait_for(reader.read(64), 1.0)
                    break  # answered or closed
                except asyncio.TimeoutError:
                    continue
            else:
                while not stop.is_set():
                    try:
                        answer = await asyncio.wait_for(reader.read(64), 1.0)
                        break
                    except asyncio.TimeoutError:
                        continue
        except (ConnectionError, OSError):
            answer = b"reset"
        if not stop.is_set():
            counters.slow_closed_by_server += 1
            status = answer.split(b" ")[1].decode(errors="replace") if answer.startswith(b"HTTP/") else (
                "closed" if answer in (b"", b"reset") else "other")
            key = f"{kind}:{status}"
            counters.slow_answers[key] = counters.slow_answers.get(key, 0) + 1
        writer.close()


def burst(args) -> dict:
    """Four bodies of a million tiny records at once (26 MB each): each is refused
    (over 100,000 records), and what parsing them cost must not stay resident."""
    import http.client
    import threading

    body = ("{\"records\":[" + ",".join(["{\"value\":1}"] * 1_000_000) + "]}").encode()
    host, port = args.url.split("//", 1)[1].rstrip("/").split(":")
    statuses, peak = [], [0.0]

    def send():
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        connection.request("POST", "/v1/topics/soak/records", body,
                           {"Content-Type": "application/json"})
        statuses.append(connection.getresponse().status)
        connection.close()

    before = rss_mib(args.pid)
    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak[0] = max(peak[0], rss_mib(args.pid))
        time.sleep(0.05)
    time.sleep(args.settle)
    return {"body_mb": round(len(body) / 1e6, 1), "statuses": sorted(statuses),
            "rss_mib_before": round(before, 1), "rss_mib_peak": round(peak[0], 1),
            "rss_mib_after": round(rss_mib(args.pid), 1)}


def bench(args, topic: str, seconds: int) -> dict:
    command = [args.silt, "bench", "--url", args.url, "--topic", topic,
               "--duration", str(seconds), "--warmup", "2", "--concurrency", "16",
               "--rate", str(args.rate), "--json", "-"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):])


async def soak(args) -> dict:
    host = "127.0.0.1"
    http_port = int(args.url.rsplit(":", 1)[1].rstrip("/"))
    counters = Counters()
    stop = asyncio.Event()
    start_fds = descriptors(args.pid)
    start_rss = rss_mib(args.pid)
    tasks = []
    for index in range(args.idle):
        port = http_port if index % 2 == 0 else args.kafka_port
        tasks.append(asyncio.ensure_future(idle(host, port, stop, counters)))
    kinds = ["slow_headers", "slow_body", "kafka_cut_frame"]
    for index in range(args.slow):
        tasks.append(asyncio.ensure_future(
            slow(kinds[index % 3], host, http_port, args.kafka_port, stop, counters)))
    await asyncio.sleep(5)
    peak_rss, peak_fds = 0.0, 0
    loop = asyncio.get_running_loop()
    load = loop.run_in_executor(None, bench, args, "soak", args.duration)
    while not load.done():
        peak_rss = max(peak_rss, rss_mib(args.pid))
        peak_fds = max(peak_fds, descriptors(args.pid))
        await asyncio.sleep(1)
    under_soak = await load
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    # Give the server a moment to see the closes.
    deadline = time.time() + 15
    end_fds = descriptors(args.pid)
    while end_fds > start_fds and time.time() < deadline:
        await asyncio.sleep(0.5)
        end_fds = descriptors(args.pid)
    await asyncio.sleep(args.settle)
    return {
        "start": {"rss_mib": round(start_rss, 1), "descriptors": start_fds},
        "peak": {"rss_mib": round(peak_rss, 1), "descriptors": peak_fds},
        "end": {"rss_mib": round(rss_mib(args.pid), 1), "descriptors": end_fds},
        "idle_connections": args.idle,
        "idle_closed_by_server": counters.idle_closed_by_server,
        "slow_clients": args.slow,
        "slow_ended_by_server": counters.slow_answers,
        "connect_errors": counters.connect_errors,
        "soak_ack_latency_ms": under_soak["ack_latency_ms"],
        "soak_produce": under_soak["produce"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--silt", default="target/release/silt")
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--rate", type=int, default=20000)
    parser.add_argument("--duration", type=int, default=300)
    parser.add_argument("--baseline", type=int, default=60)
    parser.add_argument("--settle", type=int, default=30,
                        help="seconds to wait before the last memory figure")
    args = parser.parse_args()
    subprocess.run([args.silt, "topics", "create", "soak", "--partitions", "4", "--url", args.url],
                   capture_output=True)
    bursts = burst(args)
    baseline = bench(args, "soak-baseline", args.baseline) if args.baseline else None
    report = asyncio.run(soak(args))
    report["burst"] = bursts
    if baseline:
        report["baseline_ack_latency_ms"] = baseline["ack_latency_ms"]
        report["baseline_produce"] = baseline["produce"]
    print(json.dumps(report, indent=2))
    if report["end"]["descriptors"] > report["start"]["descriptors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
