"""An exactly-once consume-transform-produce processor over Silt's HTTP API alone.

  process <gateway urls, comma-separated> <source> <sink> <group> <die after>

Joins `group` on `source`, fetches its partitions' records, and for each fetch sends one
`POST /v1/records` that writes one `sink` record per input (same key, value
{"in": "<partition>:<offset>", "n": <input n>}) and commits the inputs' offsets, all or
nothing. A gateway that does not answer is replaced by the next one, and the same
request is sent again: a request that was applied is refused as
`offsets_already_committed`, so a retry never duplicates. A stale generation or an
unknown member joins again. With `die after` N >= 0, the N+1-th request is sent from a
thread and the process SIGKILLs itself a few milliseconds later, mid-request. Stops when
fetches find nothing for 4 s and the group has no lag; prints one JSON line last.
"""

import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

gateways, source, sink, group, die_after = (
    sys.argv[2].split(","), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
current = [0]


switched = [False]


def call(method, path, body=None, timeout=15):
    """Sends to the current gateway; on a connection failure moves to the next one and
    sends again (noting it in `switched`). Answers (status, JSON)."""
    for attempt in range(60):
        url = gateways[current[0] % len(gateways)] + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            current[0] += 1
            switched[0] = True
            time.sleep(0.2)
    raise SystemExit("no gateway answers")


def join():
    status, member = call("POST", "/v1/groups/%s/members" % group,
                          {"topics": [source], "session_timeout_ms": 6000})
    assert status == 200, member
    return member


def lag():
    status, described = call("GET", "/v1/groups/%s" % group)
    if status != 200:
        return -1
    # A partition nobody committed yet is all lag.
    return sum(partition["high_watermark"] - (partition["committed_offset"] or 0)
               for partition in described["partitions"])


member = join()
sent, outputs, retried, last, started = 0, 0, 0, time.time(), time.time()
# Done when nothing came for 4 s and the group has no lag (partitions a dead member
# still holds come back when its session ends), or after 120 s.
while (time.time() - last < 4.0 or lag() != 0) and time.time() - started < 120:
    switched[0] = False
    status, fetched = call(
        "GET", "/v1/groups/%s/members/%s/records?max_records=10&wait_ms=500" % (group, member["member_id"]))
    if switched[0]:
        # The answer of a fetch may be lost with its gateway, and a member's position
        # moves with each fetch: leave, and join again from the committed offsets.
        call("DELETE", "/v1/groups/%s/members/%s" % (group, member["member_id"]))
        member = join()
        continue
    if status in (404, 409):
        member = join()
        continue
    assert status == 200, fetched
    records = fetched["records"]
    if not records:
        continue
    last = time.time()
    commit = {}
    output = []
    for record in records:
        commit[(record["topic"], record["partition"])] = record["offset"] + 1
        output.append({"topic": sink, "key": record["key"],
                       "value": {"in": "%d:%d" % (record["partition"], record["offset"]),
                                 "n": record["value"]["n"]}})
    request = {"records": output, "commit": {
        "group": group, "member_id": member["member_id"], "generation": fetched["generation"],
        "offsets": [{"topic": t, "partition": p, "offset": o} for (t, p), o in commit.items()]}}
    if die_after >= 0 and sent == die_after:
        threading.Thread(target=call, args=("POST", "/v1/records", request), daemon=True).start()
        time.sleep(random.uniform(0.0, 0.02))
        print(json.dumps({"dying": sent, "outputs": outputs}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    status, answer = call("POST", "/v1/records", request)
    sent += 1
    if status == 200:
        outputs += len(output)
    elif status == 409 and answer.get("error_code") == "offsets_already_committed":
        retried += 1
    elif status in (404, 409):
        # A rebalance: this member's position is past what it committed, so it leaves
        # and joins again from the group's committed offsets.
        call("DELETE", "/v1/groups/%s/members/%s" % (group, member["member_id"]))
        member = join()
    else:
        raise SystemExit("unexpected answer %d: %s" % (status, answer))
print(json.dumps({"requests": sent, "outputs": outputs, "already_committed": retried}), flush=True)
