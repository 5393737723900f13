#!/usr/bin/env python3
"""chaton against pyinfra and ansible-core, same workload, same lab servers, one run.

    sudo python3 benches/bench.py [--hosts 1,10] [--light 1,10,100,500] [--runs 5]

Boots its own lab hosts (`chaton lab up`), installs pyinfra and ansible-core from PyPI into
a throwaway virtual environment, then three scenarios:

- full Debian servers (`--hosts`): for each tool, `--runs` times, a first apply (on hosts
  reset to no workload), a no-op re-apply, and a re-apply after one file drifted. SSH
  connections and exec channels per host come from each host's own sshd log;
- light hosts (`--light`, benches/light_hosts.py): the no-op re-apply on up to 500 real sshd
  daemons sharing one lab server, with each tool's own CPU time and memory;
- the first apply of the shipped example against its floor (benches/first_apply.py).

Wall time is the median; peak memory is the tool's maximum resident set (GNU time). With its
defaults the whole run takes about 45 minutes on 2 cores. Writes docs/benchmarks.md,
docs/benchmarks.svg and docs/benchmarks-cpu.svg.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import first_apply
import light_hosts
import workload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "target", "bench")
VENV = os.path.join(WORK, "venv")
CHATON = os.path.join(ROOT, "target", "release", "chaton")
TOOLS = ["chaton", "pyinfra", "ansible"]
SCENARIOS = ["first apply", "no-op re-apply", "re-apply after drift"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def ssh(lab, address, command):
    return run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-i", lab["key"], f"root@{address}", command]).stdout


def on_all(hosts, function):
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return list(pool.map(function, hosts))


COUNT = ("journalctl -u ssh -o cat --no-pager | grep -c 'Accepted publickey'; "
         "journalctl -u ssh -o cat --no-pager | grep -c 'Starting session: command'")


def counts(lab, hosts):
    """(connections, exec channels) so far on each host; this query itself adds 1 of each."""
    return on_all(hosts, lambda h: tuple(int(x) for x in ssh(lab, h[1], COUNT).split()))


def busy_seconds():
    """CPU time the whole machine has spent so far (all processes: the tool, sshd, the lab
    servers' work), from /proc/stat: user, nice, system, irq and softirq."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6)) / os.sysconf("SC_CLK_TCK")


def measure(command, lab, hosts, env):
    before = counts(lab, hosts)
    busy = busy_seconds()
    start = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-f", "TOOLCOST %U %S %M"] + command, text=True, capture_output=True,
                         env=env, cwd=env.get("PWD"))
    elapsed = time.monotonic() - start
    machine_cpu = busy_seconds() - busy
    cost = [line for line in out.stderr.splitlines() if line.startswith("TOOLCOST ")]
    if out.returncode != 0 or not cost:
        sys.exit(f"{command[0]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    after = counts(lab, hosts)
    user, system, peak_kb = cost[-1].split()[1:]
    # The `before` query's own connection and channel are counted in `after`.
    connections = statistics.mean(a[0] - b[0] - 1 for a, b in zip(after, before))
    channels = statistics.mean(a[1] - b[1] - 1 for a, b in zip(after, before))
    return {"seconds": elapsed, "connections": connections, "channels": channels, "peak_mb": int(peak_kb) / 1024,
            "machine_cpu": machine_cpu, "tool_cpu": float(user) + float(system)}


def reset(lab, hosts):
    on_all(hosts, lambda h: ssh(lab, h[1], f"rm -rf {workload.ROOT}; userdel -r {workload.USER} 2>/dev/null; true"))


def drift(lab, hosts):
    on_all(hosts, lambda h: ssh(lab, h[1], f"echo drifted >> {workload.ROOT}/conf/file-07.conf"))


def setup_lab(count):
    folder = os.path.join(WORK, f"lab-{count}")
    if os.path.exists(os.path.join(folder, "lab.json")):
        run([CHATON, "lab", "down", "--dir", folder])
    run([CHATON, "lab", "up", "--dir", folder, "--debian", "12", "--count", str(count)])
    lab = json.load(open(os.path.join(folder, "lab.json")))
    hosts = [(h["name"], h["address"]) for h in lab["hosts"]]
    known = os.path.join(folder, "bench_known_hosts")
    with open(known, "w") as f:
        for h in lab["hosts"]:
            f.write(f"{h['address']} {h['host_key']}\n")
    # Not measured: sshd logs every session, and Ansible's modules need Python on the hosts.
    prepare = ("echo 'LogLevel VERBOSE' > /etc/ssh/sshd_config.d/00-bench.conf && systemctl reload ssh && "
               "DEBIAN_FRONTEND=noninteractive apt-get -qq update && "
               "DEBIAN_FRONTEND=noninteractive apt-get -qq install -y python3 python3-apt > /dev/null")
    on_all(hosts, lambda h: ssh(lab, h[1], prepare))
    return folder, lab, hosts, known


def ansible_runs(runs, count):
    """Ansible takes about 70 s per scenario on 10 hosts: 3 runs there, not 5."""
    return min(runs, 3) if count >= 10 else runs


def light_runs(runs):
    """Runs per tool and number of light hosts: pyinfra needs minutes at 100 hosts and more,
    Ansible more than ten minutes per run past 10 hosts (it is stopped there)."""
    def how_many(tool, size):
        if tool == "chaton" or size <= 10:
            return 1 if tool == "ansible" else runs
        if tool == "pyinfra":
            return min(runs, 3) if size <= 100 else 1
        return 0
    return how_many


def bench(count, runs, versions):
    folder, lab, hosts, known = setup_lab(count)
    results = {}
    spent = {}
    try:
        for tool in TOOLS:
            tool_dir = os.path.join(folder, tool)
            shutil.rmtree(tool_dir, ignore_errors=True)
            os.makedirs(tool_dir)
            if tool == "chaton":
                command = workload.chaton(tool_dir, hosts, lab["key"], known)
                command[0] = CHATON
            else:
                command = getattr(workload, tool)(tool_dir, hosts, lab["key"], known, VENV)
            env = dict(os.environ, PWD=tool_dir, ANSIBLE_CONFIG=os.path.join(tool_dir, "ansible.cfg"))
            samples = {s: [] for s in SCENARIOS}
            tool_started = time.monotonic()
            tool_runs = ansible_runs(runs, count) if tool == "ansible" else runs
            for i in range(tool_runs):
                reset(lab, hosts)
                samples["first apply"].append(measure(command, lab, hosts, env))
                samples["no-op re-apply"].append(measure(command, lab, hosts, env))
                drift(lab, hosts)
                samples["re-apply after drift"].append(measure(command, lab, hosts, env))
                print(f"  {count} host(s), {tool}, run {i + 1}/{tool_runs}: "
                      + ", ".join(f"{s} {samples[s][-1]['seconds']:.2f} s" for s in SCENARIOS), flush=True)
            spent[tool] = time.monotonic() - tool_started
            results[tool] = {s: {
                "median_seconds": statistics.median(x["seconds"] for x in v),
                "connections": statistics.median(x["connections"] for x in v),
                "channels": statistics.median(x["channels"] for x in v),
                "peak_mb": max(x["peak_mb"] for x in v),
                "machine_cpu": statistics.median(x["machine_cpu"] for x in v),
                "tool_cpu": statistics.median(x["tool_cpu"] for x in v),
                "runs": len(v),
                "all_seconds": [round(x["seconds"], 3) for x in v],
            } for s, v in samples.items()}
    finally:
        run([CHATON, "lab", "down", "--dir", folder])
    results["minutes spent"] = {tool: round(seconds / 60, 1) for tool, seconds in spent.items()}
    return results


def markdown(results, light, first, versions, runs, started, took):
    cores = os.cpu_count()
    lines = ["# Benchmarks: chaton, pyinfra and Ansible on the same work", "",
             f"Run of `sudo python3 benches/bench.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}` on "
             f"{started:%Y-%m-%d}, {took / 60:.1f} minutes in all.", "",
             f"- Machine: {cores} cores, {platform.machine()}, kernel {platform.release()}; "
             "lab hosts are Debian containers (systemd-nspawn) on the same machine.",
             f"- Versions: {versions}.",
             "- Workload: 20 templated files, 5 packages present, 2 services enabled and running, 1 user, "
             "1 directory tree (benches/workload.py writes it for each tool).",
             "- Ansible in its best configuration without third-party plugins: pipelining, one fork per host, "
             "ControlPersist. pyinfra and chaton with one worker per host.",
             "- Each number is the median of the runs the table gives; connections and exec channels are per host, "
             "counted in each host's sshd log; peak memory is the largest resident set of the tool's processes.",
             "- **Tool CPU** is the CPU time (user + system) of the tool and the processes it started (GNU time): "
             "what the machine running the tool pays. **Machine CPU** is what every process on the machine "
             "spent during the run (the tool, sshd and the servers' own work, from /proc/stat). The lab servers "
             f"share the machine's cores with the tool: with {cores} cores, a run cannot take less wall time "
             f"than its machine CPU divided by {cores}, so where the two meet the run is bound by this machine, "
             "not by waiting.", ""]
    for count, by_tool in results.items():
        lines += [f"## {count} full Debian host(s)", "",
                  "| scenario | tool | runs | wall time (s) | vs chaton | tool CPU (s) | machine CPU (s) | "
                  "SSH connections / host | exec channels / host | peak memory (MB) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for scenario in SCENARIOS:
            base = by_tool["chaton"][scenario]["median_seconds"]
            for tool in TOOLS:
                r = by_tool[tool][scenario]
                ratio = r["median_seconds"] / base if base else float("nan")
                lines.append(f"| {scenario} | {tool} | {r['runs']} | {r['median_seconds']:.2f} | {ratio:.1f}× | "
                             f"{r['tool_cpu']:.2f} | {r['machine_cpu']:.2f} | {r['connections']:.0f} | "
                             f"{r['channels']:.0f} | {r['peak_mb']:.0f} |")
        spent = by_tool["minutes spent"]
        lines += ["", f"Time the {count}-host runs took, resets and counting included: "
                  + ", ".join(f"{tool} {spent[tool]:.1f} min" for tool in TOOLS) + ".", ""]
    if light:
        sizes = sorted(light)
        lines += ["## Scale: a no-op re-apply on 1 to 500 light hosts", "",
                  "Each light host is its own OpenSSH daemon (real key exchange, real shell), on one Debian 12 lab "
                  "server that they all share (benches/light_hosts.py): the machine does not boot hundreds of "
                  "Debian systems, so the tool's own cost per host shows. Same workload as above, each host's "
                  "files under /srv/bench/NAME. Each tool first applies once (not measured), then re-applies "
                  "with nothing to change.", "",
                  "| hosts | tool | runs | wall time (s) | vs chaton | tool CPU (s) | tool CPU per host (ms) | "
                  "peak memory (MB) |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for size in sizes:
            base = light[size]["chaton"]["median_seconds"]
            for tool in TOOLS:
                r = light[size].get(tool)
                if r is None:
                    continue
                lines.append(f"| {size} | {tool} | {r['runs']} | {r['median_seconds']:.2f} | "
                             f"{r['median_seconds'] / base:.1f}× | {r['median_cpu']:.2f} | "
                             f"{r['cpu_ms_per_host']:.1f} | {r['peak_mb']:.0f} |")
        stopped = [str(s) for s in sizes if "ansible" in TOOLS and "ansible" not in light[s]]
        if stopped:
            lines += ["", f"Ansible is not run at {', '.join(stopped)} light hosts: at about 6 s of wall time per host "
                      "on this machine, one run at 100 hosts would take over ten minutes, and the benchmark is "
                      "held to an hour. pyinfra runs fewer times past 10 hosts (the runs column)."]
        chaton_cpu = [light[s]["chaton"]["cpu_ms_per_host"] for s in sizes if s >= 10]
        if chaton_cpu:
            lines += ["", f"chaton's own CPU per host from 10 to {sizes[-1]} hosts: {min(chaton_cpu):.1f} to "
                      f"{max(chaton_cpu):.1f} ms ({max(chaton_cpu) / min(chaton_cpu):.2f}× between the extremes); "
                      f"its memory at {sizes[-1]} hosts: {light[sizes[-1]]['chaton']['peak_mb']:.0f} MB."]
        lines += ["", "![Wall time against hosts](benchmarks.svg)", "",
                  "![Tool CPU per host against hosts](benchmarks-cpu.svg)", ""]
    if first:
        lines += first_apply_section(first)
    lines += ["Raw samples: `target/bench/results.json` after a run.", ""]
    return "\n".join(lines)


def first_apply_section(first):
    """The page's section on the first apply against its floor, as lines."""
    lines = ["## The first apply against its floor", "",
              "The shipped example (examples/amipo) on fresh lab servers: "
              + ", ".join(f"{name} on {release}" for name, release in sorted(first["releases"].items()))
              + ", both at once. Its cloud (Nextcloud) and pads (Etherpad) are left out: they install from "
              "upstream releases with their own installers, which have no apt floor; so is loutre's relay "
              "(through it, loutre's certificates wait for pangolin's apply, a wait no floor has). The floor is what the "
              "same servers cannot do with less: one `apt-get update` and one `apt-get install` of exactly the "
              "packages chaton's run installed or upgraded, at the same versions, then the restart of the "
              "services. Both start from the same packages and package lists, downloaded once beforehand, so the "
              "figures are about installing, not this machine's network: both still run `apt-get update`, which "
              "finds the lists current (benches/first_apply.py).", "",
              f"Median of {first['runs']} run(s) each: chaton **{first['chaton_seconds']:.1f} s**, floor "
              f"**{first['floor_seconds']:.1f} s**, {first['chaton_seconds'] / first['floor_seconds']:.2f}× "
              f"the floor; chaton's own CPU {first['tool_cpu']:.2f} s and {first['peak_mb']:.0f} MB.", "",
              "Every run, chaton against its floor (seconds): "
              + ", ".join(f"{r['chaton']:.1f} / {r['floor']:.1f}" for r in first["all"])
              + ".", "",
              "Per host, the medians of chaton's and of the floor's times, their ratio, and the median of the "
              "runs' own ratios (each run's chaton and floor are measured one after the other, so their ratio "
              "is the least touched by this machine's speed, which changes from run to run by as much as a third "
              "for the floor too):", "",
              "| host | release | packages installed or upgraded | chaton (s) | floor (s) | ratio | median of the runs' ratios |",
              "|---|---|---:|---:|---:|---:|---:|"]
    runs_of = {name: [run["hosts"][name] for run in first["all"]] for name in first["per_host"]}
    for name, r in sorted(first["per_host"].items()):
        paired = statistics.median(run["chaton"] / run["floor"] for run in runs_of[name])
        lines.append(f"| {name} | {first['releases'][name]} | {first['packages'][name]} | {r['chaton']:.1f} | "
                     f"{r['floor']:.1f} | {r['chaton'] / r['floor']:.3f}× | {paired:.3f}× |")
    for name, runs in sorted(runs_of.items()):
        lines += ["", f"{name}, every run, chaton / floor (seconds): "
                  + ", ".join(f"{r['chaton']:.1f} / {r['floor']:.1f} ({r['chaton'] / r['floor']:.2f}×)" for r in runs)
                  + "."]
    split = first["phases_of_median_run"]
    names = sorted({p for host in split.values() for p in host if p != "total"},
                   key=lambda p: -max(h.get(p, 0) for h in split.values()))
    lines += ["", "Where chaton's time goes, per host, in its median run (seconds, from its own progress "
              "events; hosts run in parallel):", "",
              "| host | " + " | ".join(names) + " | total |",
              "|---|" + "---:|" * (len(names) + 1)]
    for name, host in sorted(split.items()):
        lines.append(f"| {name} | " + " | ".join(f"{host.get(p, 0):.1f}" for p in names)
                     + f" | {host['total']:.1f} |")
    lines += ["", "Packages include the pending security updates, in the same apt run; certificates are "
              "obtained from the lab's ACME CA (pebble) for every site, which the floor does not do at all.", ""]
    return lines


COLOURS = {"chaton": "#0b4f8a", "pyinfra": "#8a5a00", "ansible": "#9b1c1c"}


def chart(title, series):
    """A line chart, both axes on a log scale: {tool: [(hosts, value)]}."""
    import math
    width, height, left, bottom, top, right = 640, 400, 70, 50, 30, 150
    xs = sorted({x for points in series.values() for x, _ in points})
    values = [v for points in series.values() for _, v in points if v > 0]
    lo, hi = math.log10(min(values) / 1.5), math.log10(max(values) * 1.5)
    x_lo, x_hi = math.log10(min(xs)), math.log10(max(xs))
    x = lambda h: left + (width - left - right) * ((math.log10(h) - x_lo) / max(x_hi - x_lo, 1e-9))
    y = lambda v: top + (height - top - bottom) * (1 - (math.log10(v) - lo) / (hi - lo))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18">{title}</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#333"/>']
    for h in xs:
        out.append(f'<text x="{x(h)}" y="{height - bottom + 20}" text-anchor="middle">{h}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">hosts</text>')
    for exp in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** exp
            if lo <= math.log10(v) <= hi:
                out.append(f'<text x="{left - 8}" y="{y(v) + 4}" text-anchor="end">{v:g}</text>')
                out.append(f'<line x1="{left}" y1="{y(v)}" x2="{width - right}" y2="{y(v)}" stroke="#ddd"/>')
    for n, (tool, points) in enumerate(series.items()):
        points = [(h, v) for h, v in sorted(points) if v > 0]
        out.append(f'<polyline points="{" ".join(f"{x(h)},{y(v)}" for h, v in points)}" fill="none" '
                   f'stroke="{COLOURS[tool]}" stroke-width="2.5"/>')
        for h, v in points:
            out.append(f'<circle cx="{x(h)}" cy="{y(v)}" r="4" fill="{COLOURS[tool]}"/>')
        out.append(f'<text x="{width - right + 15}" y="{top + 20 + 22 * n}" fill="{COLOURS[tool]}">{tool}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def cargo():
    """Cargo and its environment, also under sudo, whose PATH (Debian's secure_path) leaves
    out the ~/.cargo/bin of whoever called it, where rustup puts it: rustup's cargo then
    needs that user's toolchains too (RUSTUP_HOME), not root's."""
    if shutil.which("cargo"):
        return shutil.which("cargo"), dict(os.environ)
    homes = [os.path.expanduser(f"~{os.environ['SUDO_USER']}")] if os.environ.get("SUDO_USER") else []
    for home in homes + [os.path.expanduser("~")]:
        found = os.path.join(home, ".cargo", "bin", "cargo")
        if os.access(found, os.X_OK):
            env = dict(os.environ, CARGO_HOME=os.path.join(home, ".cargo"))
            if os.path.isdir(os.path.join(home, ".rustup")):
                env["RUSTUP_HOME"] = os.path.join(home, ".rustup")
            return found, env
    sys.exit("cargo not found: put it in PATH (`sudo env \"PATH=$PATH\" python3 benches/bench.py`)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,10", help="numbers of full Debian lab hosts (empty: none)")
    parser.add_argument("--light", default="1,10,100,500", help="numbers of light hosts (empty: none)")
    parser.add_argument("--first-apply-runs", type=int, default=3, help="runs of the first apply and its floor (0: none)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default=",".join(TOOLS), help="a subset of chaton,pyinfra,ansible (for quick looks)")
    parser.add_argument("--first-apply-only", action="store_true",
                        help="measure only the first apply against its floor, and rewrite only its section of the page")
    args = parser.parse_args()
    TOOLS[:] = [t for t in TOOLS if t in args.tools.split(",")]
    if os.geteuid() != 0:
        sys.exit("the benchmark boots lab servers: run it as root (sudo)")
    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.monotonic()
    os.makedirs(WORK, exist_ok=True)
    # A fresh Debian machine lacks some of what this needs: install it.
    needed = {"/usr/bin/time": "time", "/usr/sbin/debootstrap": "debootstrap", "/usr/bin/systemd-nspawn": "systemd-container",
              "/usr/bin/tinyproxy": "tinyproxy", "/usr/bin/ssh": "openssh-client", "/usr/include/openssl/ssl.h": "libssl-dev",
              "/usr/bin/pkg-config": "pkg-config", "/usr/bin/pebble": "pebble", "/usr/bin/openssl": "openssl"}
    missing = sorted({package for path, package in needed.items() if not os.path.exists(path)})
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env)
    cargo_program, cargo_env = cargo()
    run([cargo_program, "build", "--release", "--locked", "--quiet"], cwd=ROOT, env=cargo_env)
    # A first-apply-only run measures chaton alone: pyinfra and Ansible are neither installed nor asked their versions.
    if args.first_apply_only:
        first = first_apply.bench(ROOT, CHATON, WORK, args.first_apply_runs)
        with open(os.path.join(WORK, "first-apply.json"), "w") as f:
            json.dump(first, f, indent=2)
        page = os.path.join(ROOT, "docs", "benchmarks.md")
        text = open(page).read()
        start, end = text.index("## The first apply against its floor"), text.index("Raw samples: ")
        text = text[:start] + "\n".join(first_apply_section(first)) + "\n" + text[end:]
        # The page's "Run of …" line says when and how that section was measured apart from the rest.
        again = (f"; its first-apply section measured again on {started:%Y-%m-%d} with `sudo python3 "
                 f"benches/bench.py --first-apply-only --first-apply-runs {args.first_apply_runs}` "
                 f"({first['minutes']} minutes).")
        lines = text.split("\n")
        for at, line in enumerate(lines):
            if line.startswith("Run of "):
                lines[at] = re.sub(r"(; its first-apply section measured again .*|\.)$", "", line) + again
        with open(page, "w") as f:
            f.write("\n".join(lines))
        print(f"done in {first['minutes']} minutes: the first apply's section of docs/benchmarks.md")
        return
    if not os.path.exists(os.path.join(VENV, "bin", "ansible-playbook")):
        run([sys.executable, "-m", "venv", VENV])
        run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "pyinfra", "ansible-core"])
    versions = ", ".join([
        run([CHATON, "--version"]).stdout.strip(),
        "pyinfra " + run([os.path.join(VENV, "bin", "pyinfra"), "--version"]).stdout.split()[-1].lstrip("v"),
        run([os.path.join(VENV, "bin", "ansible"), "--version"]).stdout.splitlines()[0].replace("[", "").replace("]", ""),
        run(["ssh", "-V"]).stderr.strip().split(",")[0],
    ])
    sizes = lambda text: [int(c) for c in text.split(",") if c.strip()]
    results, light, first = {}, {}, None
    if args.first_apply_runs > 0 and "chaton" in TOOLS:
        print("first apply against its floor:", flush=True)
        first = first_apply.bench(ROOT, CHATON, WORK, args.first_apply_runs)
    if sizes(args.light):
        print("light hosts:", flush=True)
        light = light_hosts.bench(CHATON, WORK, VENV, sizes(args.light), light_runs(args.runs), TOOLS)
    for count in sizes(args.hosts):
        print(f"{count} host(s):", flush=True)
        results[count] = bench(count, args.runs, versions)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump({"full": results, "light": light, "first_apply": first}, f, indent=2)
    took = time.monotonic() - clock
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write(markdown(results, light, first, versions, args.runs, started, took))
    if light:
        with open(os.path.join(ROOT, "docs", "benchmarks.svg"), "w") as f:
            f.write(chart("No-op re-apply on light hosts: wall time (s), log scales",
                          {t: [(s, light[s][t]["median_seconds"]) for s in light if t in light[s]] for t in TOOLS}))
        with open(os.path.join(ROOT, "docs", "benchmarks-cpu.svg"), "w") as f:
            f.write(chart("No-op re-apply: the tool's own CPU per host (ms), log scales",
                          {t: [(s, light[s][t]["cpu_ms_per_host"]) for s in light if t in light[s]] for t in TOOLS}))
    print(f"done in {took / 60:.1f} minutes: docs/benchmarks.md, docs/benchmarks.svg, docs/benchmarks-cpu.svg")


if __name__ == "__main__":
    main()
