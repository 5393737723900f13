"""The first apply against its floor: the shipped example's services on fresh lab servers
(pangolin on Debian 12, loutre on Debian 13), against the least that work can cost.

- chaton: `chaton apply` of the example's lab copy, its progress events timed as they
  arrive, so that each host's time splits into phases (facts, packages, files, services,
  handlers, certificates).
- floor: on identical fresh servers, one `apt-get update` and one `apt-get install` of
  exactly the packages chaton's run installed or upgraded (same versions), then a restart
  of the services it runs. Nothing else: no file, no user, no certificate.

Both start from the same apt cache: the packages and the package lists are downloaded once
(a first chaton run, not measured) and put in each fresh server's /var/cache/apt/archives
and /var/lib/apt/lists before it is measured, so that the figures are about installing,
not about this machine's network: both still run `apt-get update`, which then finds the
lists current.
The example's cloud (Nextcloud) and pads (Etherpad) are left out: they install from
upstream releases with their own installers, which have no apt floor to compare with.
So is loutre's relay: through it, loutre's certificates wait until pangolin's apply passes
its visitors on, a wait between two servers that no floor has.
"""

import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

EXAMPLE = "examples/amipo/hoster.yml"
LEFT_OUT = ("cloud", "pads")
SERVICES = ["nginx", "radicale", "nftables", "wg-quick@wg-vpn"]


def trimmed_example(root, folder):
    """The example without the services LEFT_OUT and without relays, written into `folder`."""
    text = open(os.path.join(root, EXAMPLE)).read()
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if re.match(r"  - name: (%s)\s*$" % "|".join(LEFT_OUT), line):
            skipping = True
            continue
        if skipping and (line.startswith("  - name: ") or re.match(r"\S", line)):
            skipping = False
        if not skipping and not re.match(r"    relay: ", line):
            kept.append(line)
    path = os.path.join(folder, "hoster.yml")
    with open(path, "w") as f:
        f.write("".join(kept))
    return path


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


class Lab:
    """Fresh lab servers for the trimmed example, booted anew for every measure."""

    def __init__(self, chaton, folder, description):
        self.chaton, self.folder, self.description = chaton, folder, description

    def __enter__(self):
        lab_dir = os.path.join(self.folder, "lab")
        if os.path.exists(os.path.join(lab_dir, "lab.json")):
            subprocess.run([self.chaton, "lab", "down", "--dir", lab_dir], capture_output=True)
        run([self.chaton, "lab", "up", "--for", self.description, "--dir", lab_dir])
        self.dir = lab_dir
        self.state = json.load(open(os.path.join(lab_dir, "lab.json")))
        self.hosts = {h["name"]: h for h in self.state["hosts"]}
        return self

    def __exit__(self, *exc):
        subprocess.run([self.chaton, "lab", "down", "--dir", self.dir], capture_output=True)

    def root(self, name):
        return os.path.join(self.dir, "hosts", name, "root")

    def ssh(self, name, command):
        return run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o",
                    "LogLevel=ERROR", "-i", self.state["key"], f"root@{self.hosts[name]['address']}", command]).stdout

    def on_all(self, function):
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            return dict(zip(self.hosts, pool.map(function, self.hosts)))

    def prepare(self, cache):
        """Not measured: the same starting point for chaton and the floor. The downloaded
        packages go into the apt cache, and the timers that fresh images start at boot
        (apt-daily, which updates the lists and upgrades) are stopped, so that neither run
        competes with them."""
        for name in self.hosts:
            for deb in os.listdir(os.path.join(cache, name)):
                shutil.copy(os.path.join(cache, name, deb), os.path.join(self.root(name), "var/cache/apt/archives"))
            # The package lists of that first run too: `apt-get update` then finds them
            # current, and the mirrors' changing speed weighs on neither side.
            lists = os.path.join(self.root(name), "var/lib/apt/lists")
            for entry in os.listdir(os.path.join(cache, name + ".lists")):
                shutil.copy2(os.path.join(cache, name + ".lists", entry), lists)
        self.stop_apt_timers()

    def stop_apt_timers(self):
        """Stops what fresh images start at boot to update the lists and upgrade (apt-daily)."""
        self.on_all(lambda n: self.ssh(n, "systemctl stop apt-daily.timer apt-daily-upgrade.timer apt-daily.service "
                                          "apt-daily-upgrade.service unattended-upgrades.service 2>/dev/null; true"))

    def packages(self, name):
        """{package: version} of what dpkg has installed on a host."""
        out = self.ssh(name, "dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\\n'")
        return {p: v for s, p, v in (line.split() for line in out.splitlines()) if s == "ii"}


def chaton_apply(chaton, lab):
    """chaton's first apply with its events timed; returns (wall, tool CPU, peak MB, events)."""
    start = time.monotonic()
    proc = subprocess.Popen(["/usr/bin/time", "-f", "TOOLCOST %U %S %M", chaton, "apply",
                             os.path.join(lab.dir, "hoster.yml"), "--json", "--accept-new"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = []
    for line in proc.stdout:
        try:
            events.append((time.monotonic() - start, json.loads(line)))
        except json.JSONDecodeError:
            pass
    stderr = proc.stderr.read()
    proc.wait()
    wall = time.monotonic() - start
    cost = [line for line in stderr.splitlines() if line.startswith("TOOLCOST ")]
    if proc.returncode != 0 or not cost:
        sys.exit(f"chaton's first apply failed:\n{stderr[-3000:]}")
    user, system, peak_kb = cost[-1].split()[1:]
    return wall, float(user) + float(system), int(peak_kb) / 1024, events


def phase_of(event):
    """The phase an event starts, or None for events inside one."""
    kind = event["event"]
    if kind == "connecting":
        return "connect"
    if kind == "connected":
        return "facts"
    if kind == "gathered":
        return "plan"
    if kind == "change_started":
        resource = event["resource"]
        first = resource.split()[0]
        if first == "package" or "unattended-upgrade" in resource:
            return "packages"
        if first in ("file", "directory", "link", "charter_site", "download"):
            return "files"
        if first == "service":
            return "services"
        return "other changes"
    if kind == "handler_started":
        return "certificates" if event["name"] == "obtain certificates" else "handlers"
    if kind in ("checked", "finished"):
        return "end"
    return None


def phases(events):
    """{host: {phase: seconds}} from the timed events; a phase lasts until the next starts."""
    by_host = collections.defaultdict(list)
    for at, event in events:
        if "server" in event:
            by_host[event["server"]].append((at, event))
    split = {}
    for host, items in by_host.items():
        spent, current, since = collections.Counter(), None, 0.0
        for at, event in items:
            phase = phase_of(event)
            if phase is None:
                continue
            if current and current != "end":
                spent[current] += at - since
            current, since = phase, at
        split[host] = {"total": items[-1][0], **{k: round(v, 2) for k, v in spent.items()}}
    return split


def floor(lab, installed_by_chaton, before):
    """One apt run of the same packages at the same versions, then the services' restarts,
    on every host at once; returns (wall, {host: seconds})."""
    def one(name):
        wanted = [f"{p}={v}" for p, v in sorted(installed_by_chaton[name].items()) if before[name].get(p) != v]
        units = " ".join(SERVICES)
        script = ("set -e; export DEBIAN_FRONTEND=noninteractive; start=$(date +%s.%N); "
                  "apt-get update -qq -o DPkg::Lock::Timeout=600; "
                  "apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "
                  "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
                  f"{' '.join(wanted)} > /dev/null; "
                  f"for u in {units}; do systemctl cat $u >/dev/null 2>&1 && systemctl restart $u || true; done; "
                  "echo $(date +%s.%N) $start")
        end, begin = lab.ssh(name, script).split()
        return float(end) - float(begin)
    start = time.monotonic()
    per_host = lab.on_all(one)
    return time.monotonic() - start, per_host


def bench(root, chaton, work, runs):
    folder = os.path.join(work, "first-apply")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    description = trimmed_example(root, folder)
    cache = os.path.join(folder, "apt-cache")
    started = time.monotonic()
    # Not measured: fill the apt cache, and learn what chaton installs.
    with Lab(chaton, folder, description) as lab:
        before = {name: lab.packages(name) for name in lab.hosts}
        lab.stop_apt_timers()
        chaton_apply(chaton, lab)
        installed = {name: lab.packages(name) for name in lab.hosts}
        for name in lab.hosts:
            os.makedirs(os.path.join(cache, name))
            archives = os.path.join(lab.root(name), "var/cache/apt/archives")
            for deb in os.listdir(archives):
                if deb.endswith(".deb"):
                    shutil.copy(os.path.join(archives, deb), os.path.join(cache, name))
            os.makedirs(os.path.join(cache, name + ".lists"))
            lists = os.path.join(lab.root(name), "var/lib/apt/lists")
            for entry in os.listdir(lists):
                if os.path.isfile(os.path.join(lists, entry)) and entry != "lock":
                    shutil.copy2(os.path.join(lists, entry), os.path.join(cache, name + ".lists"))
        releases = {name: lab.ssh(name, ". /etc/os-release; echo Debian $VERSION_ID").strip() for name in lab.hosts}
    samples = []
    for i in range(runs):
        with Lab(chaton, folder, description) as lab:
            lab.prepare(cache)
            wall, cpu, peak, events = chaton_apply(chaton, lab)
            split = phases(events)
        with Lab(chaton, folder, description) as lab:
            lab.prepare(cache)
            floor_wall, floor_hosts = floor(lab, installed, before)
        samples.append({"chaton": wall, "cpu": cpu, "peak_mb": peak, "phases": split,
                        "floor": floor_wall, "floor_hosts": floor_hosts})
        print(f"  first apply, run {i + 1}/{runs}: chaton {wall:.1f} s, floor {floor_wall:.1f} s "
              f"({wall / floor_wall:.2f}×)", flush=True)
    middle = sorted(samples, key=lambda s: s["chaton"])[len(samples) // 2]
    hosts = sorted(middle["phases"])
    return {
        "runs": runs,
        "releases": releases,
        "packages": {name: sum(1 for p, v in installed[name].items() if before[name].get(p) != v) for name in hosts},
        "chaton_seconds": statistics.median(s["chaton"] for s in samples),
        "floor_seconds": statistics.median(s["floor"] for s in samples),
        "tool_cpu": statistics.median(s["cpu"] for s in samples),
        "peak_mb": max(s["peak_mb"] for s in samples),
        "per_host": {name: {"chaton": statistics.median(s["phases"][name]["total"] for s in samples),
                            "floor": statistics.median(s["floor_hosts"][name] for s in samples)} for name in hosts},
        "phases_of_median_run": middle["phases"],
        "all": [{"chaton": round(s["chaton"], 2), "floor": round(s["floor"], 2),
                 "hosts": {name: {"chaton": round(s["phases"][name]["total"], 2),
                                  "floor": round(s["floor_hosts"][name], 2)} for name in hosts}}
                for s in samples],
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
