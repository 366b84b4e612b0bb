"""The status console in a real browser: headless Chromium driven over the DevTools
protocol loads `GET /` from a real `meridian serve` on 127.0.0.1, and the test looks at the
DOM (map, region markers by health and share, names and pools, the failing-open warning,
events), saves a screenshot, then clicks drain, types the token into the page's dialog and
watches the region's marker change, without the page being reloaded.

The server probes TCP backends this test runs on 127.0.93.x (its own local prober); DNS
queries with ECS from London, New York and Tokyo give the regions their shares.

Needs the debug binary (`cargo test` or `cargo build` makes it; MERIDIAN_BIN overrides),
Chromium (Debian's `chromium`) and `websocket-client` from PyPI; without Chromium or the
module the test says SKIPPED. Screenshots go to target/console/.

    python3 -m unittest discover -s tests/console -v
"""

import base64
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("MERIDIAN_BIN", ROOT / "target" / "debug" / "meridian"))
SHOTS = ROOT / "target" / "console"
TOKEN = "console-test-token-0123456789"

try:
    import websocket  # websocket-client
except ImportError:  # pragma: no cover - reported as a skip
    websocket = None


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def why_skip():
    if chromium() is None:
        return "SKIPPED: no Chromium (apt-get install chromium)"
    if websocket is None:
        return "SKIPPED: no websocket-client (pip install websocket-client)"
    if not BINARY.exists():
        return f"SKIPPED: no {BINARY} (cargo build first)"
    return None


SKIP = why_skip()
if SKIP:
    print(f"console test: {SKIP}", flush=True)


class Backends:
    """TCP listeners on 127.0.93.x, all on one port: a connection is accepted and closed,
    which is what a TCP check calls up."""

    def __init__(self, addresses):
        self.socks = []
        self.port = None
        for attempt in range(20):
            try:
                self._bind(addresses, 0 if attempt == 0 else random.randint(20000, 60000))
                break
            except OSError:
                self.close()
        self.stop = False
        for s in self.socks:
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _bind(self, addresses, port):
        for a in addresses:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a, port if self.port is None else self.port))
            s.listen(64)
            s.settimeout(0.2)
            self.port = s.getsockname()[1]
            self.socks.append(s)

    def _accept(self, s):
        while not self.stop:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        for s in self.socks:
            s.close()
        self.socks = []
        self.port = None


def dns_query(server, name, ecs_ip, qid):
    """One A query with an ECS option for ecs_ip/24; returns the answer's addresses."""
    header = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 1)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    question += struct.pack(">HH", 1, 1)
    address = bytes(int(x) for x in ecs_ip.split(".")[:3])
    option = struct.pack(">HBB", 1, 24, 0) + address
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 4 + len(option))
    opt += struct.pack(">HH", 8, len(option)) + option
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(header + question + opt, server)
        reply, _ = s.recvfrom(4096)
    (ancount,) = struct.unpack(">H", reply[6:8])
    pos = 12 + len(question)
    out = []
    for _ in range(ancount):
        pos += 2 if reply[pos] & 0xC0 == 0xC0 else reply.index(b"\0", pos) + 1 - pos
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[pos : pos + 10])
        pos += 10
        if rtype == 1:
            out.append(".".join(str(b) for b in reply[pos : pos + 4]))
        pos += rdlen
    return out


class Meridian:
    """`meridian serve` in a temp dir, stopped by its PID."""

    def __init__(self, port):
        self.dir = Path(tempfile.mkdtemp(prefix="meridian-console-"))
        regions = (ROOT / "tests" / "data" / "regions.toml").read_text()
        (self.dir / "meridian.toml").write_text(
            '[server]\nregion = "eu-west"\ndns_listen = ["127.0.0.1:0"]\n'
            'api_listen = "127.0.0.1:0"\nzones_dir = "zones"\nstate_dir = "state"\n'
            'udp_workers = 1\n\n[fleet]\ntoken_file = "fleet.token"\nquorum = "majority"\n'
            "local_prober = true\n\n" + regions
        )
        (self.dir / "fleet.token").write_text(TOKEN + "\n")
        os.chmod(self.dir / "fleet.token", 0o600)
        zones = self.dir / "zones"
        zones.mkdir()
        shutil.copy(ROOT / "tests" / "data" / "zones" / "example.com.zone", zones)
        check = (
            f'check = {{ kind = "tcp", port = {port}, interval = "1s", timeout = "500ms", '
            "rise = 1, fall = 1 }\n"
        )
        (zones / "example.com.toml").write_text(
            "[services.app]\nttl = 20\noverprovision = 2.0\n" + check + "endpoints = [\n"
            '  { region = "eu-west", address = "127.0.93.11" },\n'
            '  { region = "us-east", address = "127.0.93.12" },\n'
            '  { region = "ap-northeast", address = "127.0.93.13" },\n'
            '  { region = "ap-northeast", address = "127.0.93.14" },\n'
            "]\n\n[services.api]\nttl = 20\n" + check + "endpoints = [\n"
            '  { region = "sa-east", address = "127.0.93.21" },\n'
            '  { region = "us-west", address = "127.0.93.22" },\n'
            "]\n"
        )
        self.stderr = open(self.dir / "serve.stderr", "wb")
        self.proc = subprocess.Popen(
            [str(BINARY), "serve", "--config", str(self.dir / "meridian.toml")],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("meridian ready "):
            self.stop()
            raise AssertionError(f"no ready line: {line!r}; stderr: {self.log()}")
        # The rest of stdout is not read; nothing more is written there.
        fields = [f.split("=", 1) for f in line.split()[2:]]
        dns = next(v for k, v in fields if k == "dns")
        host, port = dns.rsplit(":", 1)
        self.dns = (host, int(port))
        self.api = next(v for k, v in fields if k == "api")

    def log(self):
        return (self.dir / "serve.stderr").read_text(errors="replace")

    def get(self, path):
        with urllib.request.urlopen(f"http://{self.api}{path}", timeout=5) as r:
            return json.loads(r.read())

    def post(self, path):
        req = urllib.request.Request(
            f"http://{self.api}{path}",
            method="POST",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="meridian-chromium-")
        self.proc = subprocess.Popen(
            [
                chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "--window-size=1400,1000",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        browser_ws = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode(errors="replace")
            if not line and self.proc.poll() is not None:
                break
            if "DevTools listening on " in line:
                browser_ws = line.split("DevTools listening on ", 1)[1].strip()
                break
        if not browser_ws:
            self.close()
            raise AssertionError("Chromium did not start its DevTools server")
        # Keep reading stderr so Chromium never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        http_base = "http://" + browser_ws.split("/")[2]
        with urllib.request.urlopen(http_base + "/json/list", timeout=5) as r:
            pages = [t for t in json.loads(r.read()) if t["type"] == "page"]
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.ws.settimeout(max(0.1, deadline - time.time()))
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self.ws.settimeout(30)
        raise AssertionError(f"no {method} within {timeout} s")

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_js(self, expression, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what} ({expression})")

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def click(self, selector):
        """A real mouse click in the middle of the element (scrolled into view)."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise AssertionError(f"nothing to click at {selector}")
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    def type_text(self, selector, text):
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path):
        self.js("window.scrollTo(0, 0)")
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1400, "height": min(size["height"], 3000), "scale": 1},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            # Chromium's helpers are in its own session: end that process group.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def marker(region, attribute):
    return (
        f"document.querySelector('.region-marker[data-region=\"{region}\"]')"
        f"?.getAttribute('{attribute}')"
    )


def radius(region):
    return (
        f"Number(document.querySelector('.region-marker[data-region=\"{region}\"] circle.dot')"
        ".getAttribute('r'))"
    )


@unittest.skipIf(SKIP, SKIP or "")
class ConsoleInChromium(unittest.TestCase):
    def setUp(self):
        self.backends = Backends(["127.0.93.11", "127.0.93.12", "127.0.93.14"])
        self.addCleanup(self.backends.close)
        self.server = Meridian(self.backends.port)
        self.addCleanup(self.server.stop)

    def wait_status(self, what, ok, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.server.get("/v1/status")
            if ok(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {status}\n{self.server.log()}")

    def test_console_shows_the_fleet_and_drains_from_the_page(self):
        def endpoint(status, address):
            return next(
                e for s in status["services"] for e in s["endpoints"] if e["address"] == address
            )

        # The local prober finds the closed ports: 127.0.93.13 and all of `api` down.
        self.wait_status(
            "the checks to settle",
            lambda s: endpoint(s, "127.0.93.13")["state"] == "down"
            and endpoint(s, "127.0.93.21")["state"] == "down"
            and endpoint(s, "127.0.93.22")["state"] == "down"
            and endpoint(s, "127.0.93.11")["state"] == "up",
        )
        # Clients: London (eu-west) most, New York (us-east) fewer, Tokyo (ap-northeast).
        qid = 1
        for subnet, n, region_ip in (
            ("212.58.244.0", 12, "127.0.93.11"),
            ("173.52.0.0", 4, "127.0.93.12"),
            ("13.112.0.0", 2, "127.0.93.14"),
        ):
            for _ in range(n):
                self.assertEqual(dns_query(self.server.dns, "app.example.com", subnet, qid), [region_ip])
                qid += 1
        self.wait_status(
            "the answers to be counted",
            lambda s: sum(r["answers"] for r in s["regions"]) == 18,
        )

        browser = Browser()
        self.addCleanup(browser.close)
        browser.navigate(f"http://{self.server.api}/")
        js = browser.js
        browser.wait_js("document.querySelectorAll('.region-marker').length === 7", "7 markers")
        browser.js("window.notReloaded = true")

        # The map: land drawn from the shipped data, a marker per region by health.
        self.assertGreater(js("document.querySelector('#map svg path.land').getAttribute('d').length"), 10000)
        self.assertEqual(js(marker("eu-west", "data-health")), "up")
        self.assertEqual(js(marker("ap-northeast", "data-health")), "degraded")
        self.assertEqual(js(marker("sa-east", "data-health")), "down")
        self.assertEqual(js(marker("ap-south", "data-health")), "none")
        # Sized by share of answers: 12 of 18, 4 of 18, 2 of 18, none.
        self.assertAlmostEqual(float(js(marker("eu-west", "data-share"))), 12 / 18, places=3)
        self.assertGreater(js(radius("eu-west")), js(radius("us-east")))
        self.assertGreater(js(radius("us-east")), js(radius("ap-northeast")))
        self.assertGreater(js(radius("ap-northeast")), js(radius("sa-east")))
        # The local prober's viewpoint ring on this server's own region.
        self.assertTrue(js("!!document.querySelector('.region-marker[data-region=\"eu-west\"] circle.viewpoint')"))
        self.assertIn("local-eu-west", js("document.querySelector('#probers tbody').textContent"))

        # Names and their pools with healthy capacity.
        names = js("[...document.querySelectorAll('#services .service')].map(e => e.dataset.name)")
        self.assertEqual(names, ["api.example.com.", "app.example.com."], "failing open first")
        pools = js(
            "[...document.querySelectorAll('.service[data-name=\"app.example.com.\"] tr.pool')]"
            ".map(r => [r.dataset.region, r.querySelector('.capacity').textContent])"
        )
        self.assertEqual(
            pools, [["eu-west", "100 / 100"], ["us-east", "100 / 100"], ["ap-northeast", "100 / 200"]]
        )
        # The failing-open warning names api, and only api.
        warnings = js("[...document.querySelectorAll('.warning.failing-open')].map(e => e.textContent)")
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("api.example.com. is failing open", warnings[0])
        self.assertTrue(js("document.title.includes('FAILING OPEN')"))
        # Recent events, newest first, with the prober's reason.
        events = js("[...document.querySelectorAll('#events li.event')].map(e => e.textContent)")
        self.assertTrue(any("127.0.93.13" in e and "up → down" in e for e in events), events)
        self.assertTrue(any("failing open" in e for e in events), events)
        browser.screenshot(SHOTS / "console.png")

        # Drain us-east from the page: the dialog asks for the token; a wrong one is refused.
        browser.click('button.drain[data-region="us-east"]')
        browser.wait_js("document.getElementById('token-dialog').open", "the token dialog")
        self.assertFalse(js("document.getElementById('token-label').hidden"))
        browser.type_text("#token-input", "not-the-token")
        browser.click("#dialog-ok")
        browser.wait_js(
            "document.getElementById('token-dialog').open && "
            "document.getElementById('dialog-error').textContent.includes('refused')",
            "the refusal in the dialog",
        )
        self.assertEqual(js(marker("us-east", "data-health")), "up")
        self.assertFalse(self.server.get("/v1/status")["regions"][1]["drained"])
        browser.type_text("#token-input", TOKEN)
        browser.click("#dialog-ok")
        browser.wait_js(f"{marker('us-east', 'data-health')} === 'drained'", "the marker to show the drain")
        self.assertTrue(self.server.get("/v1/status")["regions"][1]["drained"])
        self.assertTrue(js("!!document.querySelector('button.undrain[data-region=\"us-east\"]')"))
        browser.wait_js(
            "document.querySelector('#events li.event').textContent.includes('us-east drained by an operator')"
            " || [...document.querySelectorAll('#events li.event')].slice(0, 3)"
            ".some(e => e.textContent.includes('us-east drained by an operator'))",
            "the drain event",
        )
        # The token is kept for this tab only.
        self.assertEqual(js("sessionStorage.getItem('meridian-token')"), TOKEN)
        self.assertEqual(js("localStorage.length"), 0)
        self.assertEqual(js("document.cookie"), "")
        # New York's clients now go elsewhere: the markers follow the current share (the
        # answers of the last 30 s), us-east's shrinks to nothing.
        for _ in range(6):
            answer = dns_query(self.server.dns, "app.example.com", "173.52.0.0", qid)
            self.assertNotIn("127.0.93.12", answer)
            qid += 1
        browser.wait_js(f"{marker('us-east', 'data-share')} === '0.0000'", "us-east's share to go")
        self.assertGreater(float(js(marker("eu-west", "data-share"))), 0.5)
        self.assertIn("last", js("document.querySelector('#regions tr[data-region=\"eu-west\"]').textContent"))
        browser.screenshot(SHOTS / "console-drained.png")

        # Undrain with the kept token: the dialog only confirms.
        browser.click('button.undrain[data-region="us-east"]')
        browser.wait_js("document.getElementById('token-dialog').open", "the confirmation")
        self.assertTrue(js("document.getElementById('token-label').hidden"))
        browser.click("#dialog-ok")
        browser.wait_js(f"{marker('us-east', 'data-health')} === 'up'", "the marker to show the undrain")

        # A change made elsewhere (the API, not the page) arrives by polling.
        self.server.post("/v1/regions/eu-west/drain")
        browser.wait_js(f"{marker('eu-west', 'data-health')} === 'drained'", "the poll to show it")
        self.assertTrue(js("window.notReloaded === true"), "the page was reloaded")
        # And the script never threw.
        thrown = [e["params"] for e in browser.events if e["method"] == "Runtime.exceptionThrown"]
        self.assertEqual(thrown, [])


if __name__ == "__main__":
    unittest.main()
