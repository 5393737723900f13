#!/usr/bin/env python3
"""chaton against pyinfra and ansible-core, same workload, same lab servers, one run.

    sudo python3 benches/bench.py [--hosts 1,10] [--runs 5]

Boots its own lab hosts (`chaton lab up`), installs pyinfra and ansible-core from PyPI into
a throwaway virtual environment, then for each number of hosts and each tool, `--runs`
times: a first apply (on hosts reset to no workload), a no-op re-apply, and a re-apply
after one file drifted. Wall time is the median; SSH connections and exec channels per host
come from each host's own sshd log (LogLevel VERBOSE); peak memory is the tool's maximum
resident set (GNU time). Writes docs/benchmarks.md and docs/benchmarks.svg.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

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
    out = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, text=True, capture_output=True, env=env, cwd=env.get("PWD"))
    elapsed = time.monotonic() - start
    machine_cpu = busy_seconds() - busy
    if out.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    after = counts(lab, hosts)
    peak_kb = int(out.stderr.strip().splitlines()[-1])
    # The `before` query's own connection and channel are counted in `after`.
    connections = statistics.mean(a[0] - b[0] - 1 for a, b in zip(after, before))
    channels = statistics.mean(a[1] - b[1] - 1 for a, b in zip(after, before))
    return {"seconds": elapsed, "connections": connections, "channels": channels, "peak_mb": peak_kb / 1024,
            "machine_cpu": machine_cpu}


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
            for i in range(runs):
                reset(lab, hosts)
                samples["first apply"].append(measure(command, lab, hosts, env))
                samples["no-op re-apply"].append(measure(command, lab, hosts, env))
                drift(lab, hosts)
                samples["re-apply after drift"].append(measure(command, lab, hosts, env))
                print(f"  {count} host(s), {tool}, run {i + 1}/{runs}: "
                      + ", ".join(f"{s} {samples[s][-1]['seconds']:.2f} s" for s in SCENARIOS), flush=True)
            spent[tool] = time.monotonic() - tool_started
            results[tool] = {s: {
                "median_seconds": statistics.median(x["seconds"] for x in v),
                "connections": statistics.median(x["connections"] for x in v),
                "channels": statistics.median(x["channels"] for x in v),
                "peak_mb": max(x["peak_mb"] for x in v),
                "machine_cpu": statistics.median(x["machine_cpu"] for x in v),
                "all_seconds": [round(x["seconds"], 3) for x in v],
            } for s, v in samples.items()}
    finally:
        run([CHATON, "lab", "down", "--dir", folder])
    results["minutes spent"] = {tool: round(seconds / 60, 1) for tool, seconds in spent.items()}
    return results


def markdown(results, versions, runs, started, took):
    lines = ["# Benchmarks: chaton, pyinfra and Ansible on the same work", "",
             f"Run of `sudo python3 benches/bench.py` on {started:%Y-%m-%d}, {took / 60:.1f} minutes in all.", "",
             f"- Machine: {os.cpu_count()} cores, {platform.machine()}, kernel {platform.release()}; "
             "lab hosts are Debian 12 containers (systemd-nspawn) on the same machine.",
             f"- Versions: {versions}.",
             "- Workload: 20 templated files, 5 packages present, 2 services enabled and running, 1 user, "
             "1 directory tree (benches/workload.py writes it for each tool).",
             "- Ansible in its best configuration without third-party plugins: pipelining, one fork per host, "
             "ControlPersist. pyinfra with one worker per host.",
             f"- Each number is the median of {runs} run(s); connections and exec channels are per host, counted "
             "in each host's sshd log; peak memory is the largest resident set of the tool's processes.",
             "- Machine CPU is the CPU time every process on the machine spent during the run (the tool, sshd and "
             "the servers' own work, from /proc/stat). The lab servers share the machine's cores with the tool: "
             f"with {os.cpu_count()} cores, a run cannot take less wall time than its machine CPU divided by "
             f"{os.cpu_count()}, so where the two meet the run is bound by this machine, not by waiting.", ""]
    if runs < 5:
        lines += [f"Preliminary: {runs} run(s) per measure, not the 5 the benchmark is made for (`--runs 5`, its "
                  "default, takes longer than 20 minutes on 2 cores: Ansible alone needs about 70 s per scenario "
                  "on 10 hosts).", ""]
    for count, by_tool in results.items():
        lines += [f"## {count} host(s)", "",
                  "| scenario | tool | wall time (s) | vs chaton | machine CPU (s) | SSH connections / host | exec channels / host | peak memory (MB) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for scenario in SCENARIOS:
            base = by_tool["chaton"][scenario]["median_seconds"]
            for tool in TOOLS:
                r = by_tool[tool][scenario]
                ratio = r["median_seconds"] / base if base else float("nan")
                lines.append(f"| {scenario} | {tool} | {r['median_seconds']:.2f} | {ratio:.1f}× | {r['machine_cpu']:.2f} | "
                             f"{r['connections']:.0f} | {r['channels']:.0f} | {r['peak_mb']:.0f} |")
        spent = by_tool["minutes spent"]
        lines += ["", f"Time the {count}-host runs took, resets and counting included: "
                  + ", ".join(f"{tool} {spent[tool]:.1f} min" for tool in TOOLS) + ".", ""]
    lines += ["![Wall time against number of hosts](benchmarks.svg)", "",
              "Raw samples: `target/bench/results.json` after a run.", ""]
    return "\n".join(lines)


def svg(results):
    """Wall time of the no-op re-apply against the number of hosts, per tool (log scale)."""
    import math
    counts = sorted(results)
    width, height, left, bottom, top, right = 640, 400, 70, 50, 30, 150
    values = [results[c][t]["no-op re-apply"]["median_seconds"] for c in counts for t in TOOLS]
    lo, hi = math.log10(min(values) / 1.5), math.log10(max(values) * 1.5)
    x = lambda i: left + (width - left - right) * (i / max(len(counts) - 1, 1))
    y = lambda v: top + (height - top - bottom) * (1 - (math.log10(v) - lo) / (hi - lo))
    colours = {"chaton": "#0b4f8a", "pyinfra": "#8a5a00", "ansible": "#9b1c1c"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18">No-op re-apply: wall time (s, log scale) against hosts</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#333"/>']
    for i, c in enumerate(counts):
        out.append(f'<text x="{x(i)}" y="{height - bottom + 20}" text-anchor="middle">{c} host(s)</text>')
    for exp in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** exp
            if lo <= math.log10(v) <= hi:
                out.append(f'<text x="{left - 8}" y="{y(v) + 4}" text-anchor="end">{v:g}</text>')
                out.append(f'<line x1="{left}" y1="{y(v)}" x2="{width - right}" y2="{y(v)}" stroke="#ddd"/>')
    for n, tool in enumerate(TOOLS):
        points = " ".join(f"{x(i)},{y(results[c][tool]['no-op re-apply']['median_seconds'])}" for i, c in enumerate(counts))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colours[tool]}" stroke-width="2.5"/>')
        for i, c in enumerate(counts):
            out.append(f'<circle cx="{x(i)}" cy="{y(results[c][tool]["no-op re-apply"]["median_seconds"])}" r="4" fill="{colours[tool]}"/>')
        out.append(f'<text x="{width - right + 15}" y="{top + 20 + 22 * n}" fill="{colours[tool]}">{tool}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,10")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default=",".join(TOOLS), help="a subset of chaton,pyinfra,ansible (for quick looks)")
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
              "/usr/bin/pkg-config": "pkg-config"}
    missing = sorted({package for path, package in needed.items() if not os.path.exists(path)})
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-q"], env=env)
        run(["apt-get", "install", "-y", "-q", "--no-install-recommends"] + missing, env=env)
    run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT)
    if not os.path.exists(os.path.join(VENV, "bin", "ansible-playbook")):
        run([sys.executable, "-m", "venv", VENV])
        run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", "pyinfra", "ansible-core"])
    versions = ", ".join([
        run([CHATON, "--version"]).stdout.strip(),
        "pyinfra " + run([os.path.join(VENV, "bin", "pyinfra"), "--version"]).stdout.split()[-1].lstrip("v"),
        run([os.path.join(VENV, "bin", "ansible"), "--version"]).stdout.splitlines()[0].replace("[", "").replace("]", ""),
        run(["ssh", "-V"]).stderr.strip().split(",")[0],
    ])
    results = {}
    for count in [int(c) for c in args.hosts.split(",")]:
        print(f"{count} host(s):", flush=True)
        results[count] = bench(count, args.runs, versions)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    took = time.monotonic() - clock
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write(markdown(results, versions, args.runs, started, took))
    with open(os.path.join(ROOT, "docs", "benchmarks.svg"), "w") as f:
        f.write(svg(results))
    print(f"done in {took / 60:.1f} minutes: docs/benchmarks.md, docs/benchmarks.svg")


if __name__ == "__main__":
    main()
