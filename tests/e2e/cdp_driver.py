#!/usr/bin/python3
"""Drives headless Chromium through the DevTools protocol, for the dashboard test.

usage: cdp_driver.py --chromium PATH --profile DIR --url URL --steps FILE

FILE holds a JSON list of steps: {"eval": JS} runs JS in the page and prints its value;
{"screenshot": PNG} saves what the page looks like (1400×1100);
{"wait": JS, "timeout": seconds} runs JS until it is true. Prints one JSON line per step
and exits 0 when every step passed, 1 at the first that did not. Chromium runs in its own
process group and is stopped, by its PID, however this script ends.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import websocket


class Page:
    def __init__(self, url):
        self.ws = websocket.create_connection(url, timeout=30)
        self.next_id = 0

    def call(self, method, params=None):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description", "exception"))
        return result.get("result", {}).get("value")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--steps", required=True)
    args = parser.parse_args()
    with open(args.steps, encoding="utf-8") as f:
        steps = json.load(f)
    os.makedirs(args.profile, exist_ok=True)
    log = open(os.path.join(args.profile, "chromium.log"), "w")
    browser = subprocess.Popen(
        [args.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
         "--user-data-dir=" + args.profile, "about:blank"],
        stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        port_file = os.path.join(args.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if time.time() > deadline or browser.poll() is not None:
                print(json.dumps({"error": "chromium did not open its DevTools port"}))
                return 1
            time.sleep(0.1)
        port = open(port_file).readline().strip()
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Page.navigate", {"url": args.url})
        for n, step in enumerate(steps):
            if "screenshot" in step:
                page.call("Emulation.setDeviceMetricsOverride",
                          {"width": 1400, "height": 1100, "deviceScaleFactor": 1, "mobile": False})
                shot = page.call("Page.captureScreenshot", {"format": "png"})
                import base64
                with open(step["screenshot"], "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                print(json.dumps({"step": n, "screenshot": step["screenshot"]}), flush=True)
            elif "eval" in step:
                try:
                    value = page.evaluate(step["eval"])
                except RuntimeError as e:
                    print(json.dumps({"step": n, "error": str(e)}, ensure_ascii=False))
                    return 1
                print(json.dumps({"step": n, "value": value}, ensure_ascii=False), flush=True)
            else:
                deadline = time.time() + step.get("timeout", 10)
                value = None
                while time.time() < deadline:
                    try:
                        value = page.evaluate(step["wait"])
                    except RuntimeError as e:
                        value = str(e)
                    if value is True:
                        break
                    time.sleep(0.1)
                print(json.dumps({"step": n, "waited": value is True, "last": value}, ensure_ascii=False),
                      flush=True)
                if value is not True:
                    print(json.dumps({"page": page.evaluate("document.body.innerText")}, ensure_ascii=False))
                    return 1
        return 0
    finally:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait()


if __name__ == "__main__":
    sys.exit(main())
