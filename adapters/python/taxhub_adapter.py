#!/usr/bin/python3
"""A taxhub adapter in Python: the worked example for teams whose legacy systems are easier to
reach from Python than from C++.

It speaks MDP/0.1 as a worker (ZeroMQ RFC 7) to the hub's backend, exactly as the C++ SDK does:
READY with its service, heartbeats both ways, REQUEST in and REPLY out. Bodies are the Thrift
structs of schemas/taxhub.thrift in TCompactProtocol: a StageTask in, a StageResult out,
echoing task_id and fencing_token. The Python Thrift code is generated at build time
(`thrift --gen py`, into build/gen-py) and never committed.

    taxhub_adapter.py --endpoint tcp://127.0.0.1:5556 --service refund.check [--heartbeat 2500]
                      [--gen-py build/gen-py]

The handler below is the example's legacy logic: it checks a refund request's amount and
answers SUCCEEDED with an output, REJECTED with a code, or RETRY; replace `handle` with yours.
Delivery is at least once, so the handler must be idempotent per task_id.
"""

import argparse
import json
import os
import signal
import sys
import time

import zmq
from thrift.protocol import TCompactProtocol
from thrift.transport import TTransport


def _gen_py_dir() -> str:
    """--gen-py DIR, else $TAXHUB_GEN_PY, else build/gen-py of this checkout."""
    if "--gen-py" in sys.argv[:-1]:
        return sys.argv[sys.argv.index("--gen-py") + 1]
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("TAXHUB_GEN_PY", os.path.join(here, "..", "..", "build", "gen-py"))


sys.path.insert(0, _gen_py_dir())
from taxhub.wire.ttypes import StageOutcome, StageResult, StageTask  # noqa: E402

MDPW = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
LIVENESS = 3


def decode_task(body: bytes) -> StageTask:
    task = StageTask()
    task.read(TCompactProtocol.TCompactProtocol(TTransport.TMemoryBuffer(body)))
    return task


def encode_result(result: StageResult) -> bytes:
    buffer = TTransport.TMemoryBuffer()
    result.write(TCompactProtocol.TCompactProtocol(buffer))
    return buffer.getvalue()


def handle(task: StageTask) -> StageResult:
    """The example's legacy logic: a refund above its limit needs a person, not this system."""
    result = StageResult(handler="python-example", outputs={})
    try:
        body = json.loads(task.payload.decode("utf-8") if isinstance(task.payload, bytes) else task.payload)
        amount = float(body["amount"])
    except (ValueError, KeyError, TypeError) as e:
        result.outcome, result.code, result.message = StageOutcome.REJECTED, "BAD_REQUEST", f"amount: {e}"
        return result
    if amount > 100000:
        result.outcome, result.code = StageOutcome.REJECTED, "OVER_LIMIT"
        result.message = f"退税金额 {amount:.2f} 超过限额 over the limit"
        return result
    result.outcome, result.code, result.message = StageOutcome.SUCCEEDED, "0000", "checked"
    result.outputs = {"checked_amount": f"{amount:.2f}", "checked_by": "python", "attempt": str(task.attempt)}
    return result


def curve_keys():
    """The CURVE keys from TAXHUB_CURVE_SERVER (the hub's .pub) and TAXHUB_CURVE_KEY (ours, .key),
    as the C++ SDK reads them; neither set: None. Never falls back to plain text on a bad setting."""
    server, key = os.environ.get("TAXHUB_CURVE_SERVER"), os.environ.get("TAXHUB_CURVE_KEY")
    if not server and not key:
        return None
    if not server or not key:
        sys.exit("CURVE settings: TAXHUB_CURVE_SERVER and TAXHUB_CURVE_KEY go together")
    with open(server, "rb") as f:
        server_public = f.read().strip()
    with open(key, "rb") as f:
        secret = f.read().strip()
    if len(server_public) != 40 or len(secret) != 40:
        sys.exit("CURVE settings: a key file holds one 40-character Z85 key")
    return server_public, zmq.curve_public(secret), secret


def serve(endpoint: str, service: str, heartbeat_ms: int) -> int:
    context = zmq.Context()
    curve = curve_keys()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    handled = 0
    while not stopping:  # one connection; reconnect when the hub goes quiet
        socket = context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        if curve:
            socket.curve_serverkey, socket.curve_publickey, socket.curve_secretkey = curve
        socket.connect(endpoint)
        socket.send_multipart([b"", MDPW, READY, service.encode()])
        liveness = LIVENESS
        next_heartbeat = time.monotonic() + heartbeat_ms / 1000
        while not stopping and liveness > 0:
            if socket.poll(heartbeat_ms):
                frames = socket.recv_multipart()
                liveness = LIVENESS
                if len(frames) < 3 or frames[0] != b"" or frames[1] != MDPW:
                    continue  # not MDP: ignore it, as the SDK does
                command = frames[2]
                if command == REQUEST and len(frames) >= 6 and frames[4] == b"":
                    client, body = frames[3], b"".join(frames[5:])
                    try:
                        task = decode_task(body)
                        result = handle(task)
                        result.task_id, result.fencing_token = task.task_id, task.fencing_token
                    except Exception as e:  # never die on one bad task: the hub retries it
                        result = StageResult(outcome=StageOutcome.RETRY, code="ADAPTER_ERROR", message=str(e))
                    socket.send_multipart([b"", MDPW, REPLY, client, b"", encode_result(result)])
                    handled += 1
                elif command == DISCONNECT:
                    break
            else:
                liveness -= 1
            if time.monotonic() >= next_heartbeat:
                socket.send_multipart([b"", MDPW, HEARTBEAT])
                next_heartbeat = time.monotonic() + heartbeat_ms / 1000
        if stopping:
            socket.send_multipart([b"", MDPW, DISCONNECT])
        socket.close()
    context.term()
    print(f"taxhub_adapter.py: {handled} tasks handled", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5556")
    parser.add_argument("--service", required=True)
    parser.add_argument("--heartbeat", type=int, default=2500, help="ms; the hub's broker.heartbeat")
    parser.add_argument("--gen-py", help="where thrift --gen py wrote taxhub.wire (default build/gen-py)")
    args = parser.parse_args()
    print(f"taxhub_adapter.py: serving {args.service} on {args.endpoint}", flush=True)
    return serve(args.endpoint, args.service, args.heartbeat)


if __name__ == "__main__":
    sys.exit(main())
