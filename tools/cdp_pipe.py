"""A headless Chromium driven through the DevTools protocol over a pipe (standard library only).

Chromium started with --remote-debugging-pipe reads JSON commands, each ended by a NUL byte, on
its file descriptor 3 and writes replies and events to descriptor 4. One page (a target) is opened
and attached in flat mode; its console errors, exceptions and failed loads are collected.
"""
import fcntl
import json
import os
import queue
import subprocess
import tempfile
import threading
import time

TIMEOUT_S = 60


class Browser:
    def __init__(self, binary: str, width: int, height: int):
        self.binary, self.size = binary, (width, height)
        self._id, self._replies, self._events, self._errors = 0, {}, queue.Queue(), []
        self._lock = threading.Condition()

    # -- process and pipe ------------------------------------------------------------------------
    def __enter__(self):
        self._profile = tempfile.TemporaryDirectory()
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends above 3 and 4 so that dup2 onto 3 and 4 cannot clobber them.
        hi_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r), os.close(from_chrome_w)

        def child_fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        w, h = self.size
        self._proc = subprocess.Popen(
            [self.binary, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--allow-file-access-from-files", f"--window-size={w},{h}",
             f"--user-data-dir={self._profile.name}", "about:blank"],
            preexec_fn=child_fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_r), os.close(hi_w)
        self._out, self._in = os.fdopen(to_chrome_w, "wb"), os.fdopen(from_chrome_r, "rb")
        threading.Thread(target=self._read, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "DOM", "CSS"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=w, height=h,
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc):
        try:
            self.call("Browser.close")
        except Exception:  # already gone
            pass
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._profile.cleanup()

    def _read(self):
        buf = b""
        while chunk := self._in.read1(1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        self._replies[msg["id"]] = msg
                        self._lock.notify_all()
                else:
                    self._event(msg)
        with self._lock:
            self._replies[None] = {"error": {"message": "Chromium closed the pipe"}}
            self._lock.notify_all()

    def _event(self, msg):
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self._errors.append((d.get("exception") or {}).get("description") or d.get("text"))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self._errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self._errors.append(f"{p['entry']['text']} {p['entry'].get('url', '')}".strip())
        self._events.put(msg)

    def call(self, method: str, session: bool = False, **params) -> dict:
        with self._lock:
            self._id += 1
            mid = self._id
        msg = {"id": mid, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self._out.write(json.dumps(msg).encode() + b"\0")
        self._out.flush()
        with self._lock:
            if not self._lock.wait_for(lambda: mid in self._replies or None in self._replies, TIMEOUT_S):
                raise TimeoutError(f"Chromium did not answer {method} in {TIMEOUT_S} s")
            reply = self._replies.pop(mid, None) or self._replies[None]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    # -- what the checks use ---------------------------------------------------------------------
    def open(self, url: str) -> None:
        """Navigate and wait for the load event; errors of the previous page are dropped."""
        while not self._events.empty():
            self._events.get_nowait()
        self._errors.clear()
        self.call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if self._events.get(timeout=1).get("method") == "Page.loadEventFired":
                    return
            except queue.Empty:
                pass
        raise TimeoutError(f"{url} did not load in {TIMEOUT_S} s")

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                      returnByValue=True, timeout=TIMEOUT_S * 1000)
        if "exceptionDetails" in r:
            raise RuntimeError(f"the page check raised: {r['exceptionDetails']}")
        return r["result"].get("value")

    def marked_nodes(self, attribute: str):
        """(node id, text) of every element carrying `attribute`."""
        root = self.call("DOM.getDocument", session=True, depth=0)["root"]["nodeId"]
        ids = self.call("DOM.querySelectorAll", session=True, nodeId=root, selector=f"[{attribute}]")["nodeIds"]
        for node in ids:
            html = self.call("DOM.getOuterHTML", session=True, nodeId=node)["outerHTML"]
            yield node, html

    def fonts_for(self, node: int) -> list:
        """The fonts Chromium drew the node's own text with: [{familyName, isCustomFont, glyphCount}]."""
        return self.call("CSS.getPlatformFontsForNode", session=True, nodeId=node)["fonts"]

    def take_errors(self) -> list:
        errors, self._errors = self._errors, []
        return errors
