"""The scale scenario: many light SSH hosts on this machine, so that a tool's own cost per
host can be told from the servers'.

One lab server (Debian 12) runs one sshd per light host, each on its own port: every light
host is a real OpenSSH server, with a real key exchange and a real shell, at the cost of
an sshd process instead of a whole Debian. The light hosts share that server's system, so
the benchmark's workload puts each host's files under /srv/bench/NAME, and the user,
packages and services it wants are there for all of them.

Measured: the no-op re-apply, with the tool's own CPU time (user + system, its child
processes included, GNU time) and peak memory, apart from the machine's.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

import workload

FIRST_PORT = 2200
# Hosts worked on at the same time, for every tool. The light hosts' sshd daemons share this
# machine's cores: 500 key exchanges at once make some wait past a login timeout (chaton's
# 15 s default), which would measure the servers, not the tool.
AT_ONCE = 100


def ssh(lab, address, command, check=True):
    return subprocess.run(["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "LogLevel=ERROR", "-i", lab["key"], f"root@{address}", command],
                          check=check, text=True, capture_output=True).stdout


def boot(chaton, work, count):
    """A lab server with `count` extra sshd daemons; returns (folder, lab, hosts, known_hosts)."""
    folder = os.path.join(work, "light")
    if os.path.exists(os.path.join(folder, "lab.json")):
        subprocess.run([chaton, "lab", "down", "--dir", folder], capture_output=True)
    subprocess.run([chaton, "lab", "up", "--dir", folder, "--debian", "12", "--count", "1"],
                   check=True, capture_output=True)
    lab = json.load(open(os.path.join(folder, "lab.json")))
    server = lab["hosts"][0]
    address = server["address"]
    # What the hosts share is made once, here: the tools would race each other making it.
    # chaton keeps a lock and a record of what it manages in /var/lib/chaton: each daemon
    # runs in a mount namespace of its own where that folder is the host's own, as it is on
    # a real server. Each daemon logs errors only (counting channels is the main scenario's).
    start = (f"id {workload.USER} >/dev/null 2>&1 || useradd -m {workload.USER}; "
             f"mkdir -p {workload.ROOT} /run/sshd /var/lib/chaton /var/lib/chaton-light; "
             f"for i in $(seq 1 {count}); do d=/var/lib/chaton-light/$i; mkdir -p $d; "
             f"unshare --mount --propagation private sh -c \"mount --bind $d /var/lib/chaton && "
             f"exec /usr/sbin/sshd -p $(({FIRST_PORT} + i)) -o PidFile=/run/sshd-light-$i.pid -o LogLevel=ERROR "
             f"-o MaxStartups=100\" || exit 1; done")
    ssh(lab, address, start)
    # Not measured: Ansible's modules need Python on the hosts.
    ssh(lab, address, "DEBIAN_FRONTEND=noninteractive apt-get -qq update && "
                      "DEBIAN_FRONTEND=noninteractive apt-get -qq install -y python3 python3-apt > /dev/null")
    hosts = [(f"h{i:03d}", address, FIRST_PORT + i) for i in range(1, count + 1)]
    known = os.path.join(folder, "known_hosts_light")
    with open(known, "w") as f:
        for _, addr, port in hosts:
            f.write(f"[{addr}]:{port} {server['host_key']}\n")
    return folder, lab, hosts, known


def more_files():
    """Lets a tool open one connection per host at 500 hosts (the default limit is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def timed(command, cwd, env):
    """Runs a tool once: wall time, its own CPU seconds (the processes it waited for
    included) and peak MB, from the kernel's accounting of the process (wait4), to the
    microsecond: GNU time rounds to 10 ms, which is chaton's whole run on 10 hosts."""
    with open(os.path.join(cwd, "out.log"), "w") as out:
        start = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                preexec_fn=more_files)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{open(os.path.join(cwd, 'out.log')).read()[-3000:]}")
    return {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def bench(chaton, work, venv, sizes, runs_for, tools):
    """{size: {tool: summary}} for the no-op re-apply on light hosts; `runs_for(tool, size)`
    says how many runs (0: not run at that size)."""
    results = {}
    folder, lab, hosts, known = boot(chaton, work, max(sizes))
    address = lab["hosts"][0]["address"]
    try:
        for size in sizes:
            subset = hosts[:size]
            results[size] = {}
            for tool in tools:
                runs = runs_for(tool, size)
                if runs == 0:
                    continue
                tool_dir = os.path.join(folder, f"{tool}-{size}")
                shutil.rmtree(tool_dir, ignore_errors=True)
                os.makedirs(tool_dir)
                if tool == "chaton":
                    command = workload.chaton(tool_dir, subset, lab["key"], known, per_host=True,
                                              parallel=min(size, AT_ONCE))
                    command[0] = chaton
                else:
                    command = getattr(workload, tool)(tool_dir, subset, lab["key"], known, venv, per_host=True,
                                                      parallel=min(size, AT_ONCE))
                env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(tool_dir, "ansible.cfg"))
                ssh(lab, address, f"rm -rf {workload.ROOT}/h*")
                started = time.monotonic()
                timed(command, tool_dir, env)  # the first apply, not measured: it makes the files
                samples = [timed(command, tool_dir, env) for _ in range(runs)]
                results[size][tool] = {
                    "runs": runs,
                    "median_seconds": statistics.median(s["seconds"] for s in samples),
                    "median_cpu": statistics.median(s["cpu"] for s in samples),
                    "cpu_ms_per_host": statistics.median(s["cpu"] for s in samples) / size * 1000,
                    "peak_mb": max(s["peak_mb"] for s in samples),
                    "all_seconds": [round(s["seconds"], 3) for s in samples],
                    "minutes": round((time.monotonic() - started) / 60, 1),
                }
                r = results[size][tool]
                print(f"  {size} light host(s), {tool}: {r['median_seconds']:.2f} s, "
                      f"{r['cpu_ms_per_host']:.1f} ms CPU per host, {r['peak_mb']:.0f} MB", flush=True)
    finally:
        subprocess.run([chaton, "lab", "down", "--dir", folder], capture_output=True)
    return results
