"""The servers the scale benchmark measures: how each is configured, started, reloaded
and stopped (python3 stdlib only).

A `Workload` says what to serve (zone files, and for Meridian and gdnsd the
load-balanced names); each server kind turns it into its own config in a fresh run
directory, with the zone files hard-linked there under the names it wants (so a reload
can replace one server's copy without touching the others'). Every server runs in its
own process group, listens on 127.0.0.1 at a fixed high port, and is stopped by that
group id: SIGTERM, then SIGKILL. Nothing is ever stopped by name.
"""

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from proc import group_pids

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GEODB = os.path.join(REPO, "geodata", "meridian-city.mmdb")


@dataclass
class Workload:
    """What one measured run serves, and how the benchmark knows it is being served."""

    kind: str  # zone | zones | services | geo
    label: str  # e.g. "zone 1M"
    size: int  # records, zones or services (the per-unit figures divide by it)
    unit: str  # record | zone | service
    zones: list  # [(origin, path of the RFC 1035 file every server reads)]
    probe: tuple  # (name, expected IPv4 or None = any address) asked until answered
    samples: list = field(default_factory=list)  # more names that must answer once the probe does
    meridian_services: dict = field(default_factory=dict)  # origin -> services .toml
    meridian_geoip: bool = False  # False: `[geoip] database = ""` (no geolocation)
    regions: bool = False  # write the 6 [regions.*] tables
    gdnsd_zones: dict = field(default_factory=dict)  # origin -> gdnsd zone file (DYNA) instead of the RFC 1035 one
    gdnsd_plugins: str = ""  # path of gdnsd's `plugins => {...}` stanza
    servers: tuple = ("meridian", "gdnsd", "nsd", "knot")  # which kinds can serve it


def _link(src, dst):
    """Hard link (same file system), else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class Server:
    """One server process serving one workload."""

    kind = ""
    binary = ""
    port_offset = 0

    def __init__(self, rundir, port, workload, pin=None):
        self.rundir = rundir
        self.port = port
        self.workload = workload
        self.pin = pin
        self.proc = None
        self.ctl = []  # control commands started (gdnsdctl, knotc), stopped like the server
        shutil.rmtree(rundir, ignore_errors=True)
        os.makedirs(rundir)
        self.argv = self.prepare()
        if pin is not None:
            self.argv = ["taskset", "-c", str(pin)] + self.argv

    @classmethod
    def installed(cls):
        return shutil.which(cls.binary) is not None

    # -- per kind
    def prepare(self):
        """Writes the config into rundir; returns the command line (foreground)."""
        raise NotImplementedError

    def zone_path(self, origin):
        """This server's own copy of the zone file of `origin` (what a reload rereads)."""
        raise NotImplementedError

    def trigger_reload(self, origin):
        """Asks the server to reread its zone files (returns at once)."""
        raise NotImplementedError

    def ready_for_reload(self):
        return True

    # -- common
    def start(self):
        self.out = open(os.path.join(self.rundir, "stdout.log"), "w")
        self.err = open(os.path.join(self.rundir, "server.log"), "w")
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err,
            cwd=self.rundir, start_new_session=True)
        self.pgid = self.proc.pid
        return self.proc

    def alive(self):
        return bool(group_pids(self.pgid))

    def log_tail(self, n=15):
        try:
            with open(os.path.join(self.rundir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def run_ctl(self, argv):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=self.rundir)
        self.ctl.append(p)
        return p

    def stop(self):
        for p in self.ctl + ([self.proc] if self.proc else []):
            _stop_group(p)
        self.ctl = []
        if self.proc:
            self.proc = None
            self.out.close()
            self.err.close()


def _stop_group(p, grace=8.0):
    """SIGTERM to p's process group, SIGKILL after `grace` s if any member is left. The
    leader may be gone while its group lives on (NSD's reload replaces its main process),
    so this goes by the group, not by p."""
    pgid = p.pid
    if group_pids(pgid):
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while group_pids(pgid) and time.monotonic() < deadline:
        if p.poll() is None:
            try:
                p.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        else:
            time.sleep(0.1)
    if group_pids(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# ---------------------------------------------------------------- Meridian


class Meridian(Server):
    kind = "meridian"
    port_offset = 0
    bin_path = os.path.join(REPO, "target", "release", "meridian")

    @classmethod
    def installed(cls):
        return os.access(cls.bin_path, os.X_OK)

    def prepare(self):
        w = self.workload
        zdir = os.path.join(self.rundir, "zones")
        os.makedirs(zdir)
        for origin, path in w.zones:
            _link(path, os.path.join(zdir, origin + ".zone"))
        for origin, path in w.meridian_services.items():
            _link(path, os.path.join(zdir, origin + ".toml"))
        lines = ["[server]"]
        if w.regions:
            from workloads import REGIONS
            lines.append(f'region = "{REGIONS[0][0]}"')
        lines += [
            f'dns_listen = ["127.0.0.1:{self.port}"]',
            'api_listen = "127.0.0.1:0"',
            'zones_dir = "zones"',
            'state_dir = "state"',
            "udp_workers = 1",
            "",
            "[fleet]",
            "local_prober = false",
            "",
            # The benchmark asks a few names many times from one address: response rate
            # limiting (on by default) would drop most answers.
            "[rrl]",
            "enabled = false",
            "",
        ]
        if not w.meridian_geoip:
            lines += ["[geoip]", 'database = ""', ""]
        if w.regions:
            from workloads import REGIONS
            for name, lat, lon in REGIONS:
                lines += [f"[regions.{name}]", f"lat = {lat}", f"lon = {lon}", ""]
        conf = os.path.join(self.rundir, "meridian.toml")
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        return [self.bin_path, "serve", "--config", conf]

    def zone_path(self, origin):
        return os.path.join(self.rundir, "zones", origin + ".zone")

    def ready_for_reload(self):
        # SIGHUP before the handlers are installed would end the process; they are by
        # the time the ready line is printed (docs/reference.md, 7).
        try:
            with open(os.path.join(self.rundir, "stdout.log")) as f:
                return "meridian ready" in f.read()
        except OSError:
            return False

    def trigger_reload(self, origin):
        os.kill(self.proc.pid, signal.SIGHUP)


# ---------------------------------------------------------------- gdnsd


class Gdnsd(Server):
    kind = "gdnsd"
    binary = "gdnsd"
    port_offset = 1

    def prepare(self):
        w = self.workload
        etc = os.path.join(self.rundir, "etc")
        for d in ("etc/zones", "etc/geoip", "run", "state"):
            os.makedirs(os.path.join(self.rundir, d))
        for origin, path in w.zones:
            _link(w.gdnsd_zones.get(origin, path), os.path.join(etc, "zones", origin))
        plugins = ""
        if w.gdnsd_plugins:
            os.symlink(GEODB, os.path.join(etc, "geoip", "geo.mmdb"))
            with open(w.gdnsd_plugins) as f:
                plugins = f.read()
        with open(os.path.join(etc, "config"), "w") as f:
            f.write(
                "options => {\n"
                f"    listen => [ 127.0.0.1:{self.port} ]\n"
                "    udp_threads => 1\n"
                "    tcp_threads => 1\n"
                f"    run_dir => {self.rundir}/run\n"
                f"    state_dir => {self.rundir}/state\n"
                "}\n" + plugins)
        self.etc = etc
        return ["gdnsd", "-c", etc, "start"]

    def zone_path(self, origin):
        return os.path.join(self.etc, "zones", origin)

    def trigger_reload(self, origin):
        self.run_ctl(["gdnsdctl", "-c", self.etc, "reload-zones"])


# ---------------------------------------------------------------- NSD


class Nsd(Server):
    kind = "nsd"
    binary = "nsd"
    port_offset = 2

    def prepare(self):
        w = self.workload
        zdir = os.path.join(self.rundir, "zones")
        os.makedirs(zdir)
        rd = self.rundir
        lines = [
            "server:",
            f"    ip-address: 127.0.0.1@{self.port}",
            f"    port: {self.port}",
            "    do-ip6: no",
            "    server-count: 1",
            '    username: ""',
            '    chroot: ""',
            f'    zonesdir: "{zdir}"',
            '    database: ""',
            f'    zonelistfile: "{rd}/zone.list"',
            f'    xfrdfile: "{rd}/xfrd.state"',
            f'    pidfile: "{rd}/nsd.pid"',
            f'    logfile: "{rd}/nsd.log"',
            "    verbosity: 1",
            "    hide-version: yes",
            "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0",
            "remote-control:",
            "    control-enable: no",
        ]
        for origin, path in w.zones:
            _link(path, os.path.join(zdir, origin + ".zone"))
            lines += ["zone:", f"    name: {origin}", f"    zonefile: {origin}.zone"]
        conf = os.path.join(rd, "nsd.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return ["nsd", "-d", "-c", conf]

    def zone_path(self, origin):
        return os.path.join(self.rundir, "zones", origin + ".zone")

    def trigger_reload(self, origin):
        # SIGHUP to NSD's main process (its pid changes with each reload): it rereads
        # the zone files whose modification time changed.
        with open(os.path.join(self.rundir, "nsd.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGHUP)


# ---------------------------------------------------------------- Knot


class Knot(Server):
    kind = "knot"
    binary = "knotd"
    port_offset = 3

    def prepare(self):
        w = self.workload
        rd = self.rundir
        zdir = os.path.join(rd, "zones")
        os.makedirs(zdir)
        os.makedirs(os.path.join(rd, "db"))
        lines = [
            "server:",
            f'    rundir: "{rd}"',
            f'    pidfile: "{rd}/knot.pid"',
            f"    listen: 127.0.0.1@{self.port}",
            "    udp-workers: 1",
            "    tcp-workers: 1",
            "log:",
            "  - target: stderr",
            "    any: warning",
            "control:",
            f'    listen: "{rd}/knot.sock"',
            "database:",
            f'    storage: "{rd}/db"',
            "template:",
            "  - id: default",
            f'    storage: "{zdir}"',
            '    file: "%s.zone"',
            "    zonefile-sync: -1",
            "    zonefile-load: whole",
            "    journal-content: none",
            "zone:",
        ]
        for origin, path in w.zones:
            _link(path, os.path.join(zdir, origin + ".zone"))
            lines.append(f"  - domain: {origin}")
        self.conf = os.path.join(rd, "knot.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return ["knotd", "-c", self.conf]

    def zone_path(self, origin):
        return os.path.join(self.rundir, "zones", origin + ".zone")

    def trigger_reload(self, origin):
        self.run_ctl(["knotc", "-s", os.path.join(self.rundir, "knot.sock"), "zone-reload", origin])


KINDS = {k.kind: k for k in (Meridian, Gdnsd, Nsd, Knot)}
