#!/usr/bin/python3
"""Workflow figures for make bench, read from a taxhub SQLite ledger while the hub runs.

    ledger_figures.py LEDGER_DB N TIMEOUT_S [SINCE_MS]

Waits until N requests have COMPLETED (or the timeout passes), then prints

    completed=N completed/s: R p50_ms=X p99_ms=Y

with the rate and the submit-to-completion times taken from the ledger's own times: from the
first acceptance (or SINCE_MS, when the work could start: an adapter came back) to the last
completion.
"""
import sqlite3
import sys
import time


def main():
    path, wanted, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    since = int(sys.argv[4]) if len(sys.argv) > 4 else None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    deadline = time.time() + timeout
    done = 0
    while time.time() < deadline:
        done = db.execute("SELECT count(*) FROM requests WHERE state = 'COMPLETED'").fetchone()[0]
        if done >= wanted:
            break
        time.sleep(0.5)
    rows = db.execute("SELECT accepted_at, finished_at FROM requests WHERE state = 'COMPLETED'").fetchall()
    if not rows:
        print("completed=0 completed/s: 0 p50_ms=0 p99_ms=0")
        return 1
    start = since if since is not None else min(a for a, _ in rows)
    end = max(f for _, f in rows)
    took = sorted(f - a for a, f in rows)
    rate = len(rows) / max((end - start) / 1000.0, 0.001)
    print(f"completed={len(rows)} completed/s: {rate:.0f} p50_ms={took[len(took) // 2]} "
          f"p99_ms={took[len(took) * 99 // 100]}")
    return 0 if len(rows) >= wanted else 1


if __name__ == "__main__":
    sys.exit(main())
