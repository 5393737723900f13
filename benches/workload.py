"""The benchmark's workload, written once for each tool: 20 templated files, 5 packages
present, 2 services enabled and running, 1 user, 1 directory tree.

Each function writes the tool's own files into a folder and returns the command that
applies them to the hosts, a list of (name, address) or (name, address, port) tuples.
With `per_host`, each host's files and folders go under ROOT/NAME: the light hosts of the
scale scenario share one system, where the user, packages and services are shared too.
"""

import json
import os

FILES = 20
PACKAGES = ["openssh-server", "systemd", "dbus", "iproute2", "ca-certificates"]
SERVICES = ["ssh", "apt-daily-upgrade.timer"]
USER = "benchuser"
ROOT = "/srv/bench"


def port(host):
    return host[2] if len(host) > 2 else 22


def chaton(folder, hosts, key, known_hosts, per_host=False, parallel=None):
    """A description with a local `bench` recipe (and an empty `base`, so only the
    workload is measured)."""
    os.makedirs(f"{folder}/local/recipes/base", exist_ok=True)
    os.makedirs(f"{folder}/local/recipes/bench/templates", exist_ok=True)
    meta = ("software: {name: bench, version: '1', licence: MIT, website: https://example.org, "
            "source: https://example.org, install: distribution}\n"
            "data:\n  personal: {en: none, fr: aucune}\n  log_retention_days: 0\n")
    with open(f"{folder}/local/recipes/base/recipe.yml", "w") as f:
        f.write("name: base\nsummary: {en: Nothing, fr: Rien}\nkind: base\n" + meta)
    numbers = json.dumps([f"{n:02d}" for n in range(1, FILES + 1)])
    with open(f"{folder}/local/recipes/bench/recipe.yml", "w") as f:
        f.write("name: bench\nsummary: {en: Benchmark, fr: Banc d'essai}\nkind: service\n" + meta)
        f.write(f"params:\n  numbers: {{type: list, description: files, default: {numbers}}}\n")
        f.write("resources:\n")
        f.write(f"  - package: {{names: {json.dumps(PACKAGES)}}}\n")
        f.write(f"  - user: {{name: {USER}}}\n")
        root = f"{ROOT}/{{{{ server.name }}}}" if per_host else ROOT
        f.write(f"  - directory: {{path: '{root}', mode: '0755'}}\n")
        f.write(f"  - directory: {{path: '{root}/conf', mode: '0755'}}\n")
        f.write(f"  - file: {{for_each: params.numbers, path: '{root}/conf/file-{{{{ item }}}}.conf', "
                f"template: bench/file.conf, mode: '0644'}}\n")
        for service in SERVICES:
            f.write(f"  - service: {{name: {service}, enabled: true, running: true}}\n")
    with open(f"{folder}/local/recipes/bench/templates/file.conf", "w") as f:
        f.write("# file {{ item }} on {{ server.name }}\nvalue = {{ item }}\n")
    servers = "".join(
        f"  - name: {h[0]}\n    address: {h[1]}\n    port: {port(h)}\n    ssh_user: root\n    ssh_key: {key}\n"
        f"    provider: {{name: lab, type: home, country: FR}}\n    control: owned\n    hypervisor: systemd-nspawn\n"
        for h in hosts)
    services = "".join(f"  - name: bench-{h[0]}\n    recipe: bench\n    server: {h[0]}\n" for h in hosts)
    with open(f"{folder}/hoster.yml", "w") as f:
        f.write("organisation:\n  name: Bench\n  description: Benchmark.\n  website: https://bench.test\n"
                "  legal_form: association\n  publication_director: Bench\n  contact: {email: bench@bench.test}\n"
                "  start_date: 2024-01-01\n  economic_model: {for_profit: false, funding: [none]}\n"
                f"servers:\n{servers}services:\n{services}recipes_dir: local\n"
                "backups:\n  schedule: daily\n  retention: {daily: 1}\n"
                "  destinations: [{name: local, provider: lab, country: FR}]\n  encryption: true\n")
    with open(known_hosts) as src, open(f"{folder}/known_hosts", "w") as dst:
        dst.write(src.read())
    return ["chaton", "apply", f"{folder}/hoster.yml", "--parallel", str(parallel or len(hosts))]


def pyinfra(folder, hosts, key, known_hosts, venv, per_host=False, parallel=None):
    os.makedirs(f"{folder}/templates", exist_ok=True)
    with open(f"{folder}/templates/file.conf.j2", "w") as f:
        f.write("# file {{ item }} on {{ host.name }}\nvalue = {{ item }}\n")
    with open(f"{folder}/inventory.py", "w") as f:
        entries = ", ".join(
            f"({h[0]!r}, {{'ssh_hostname': {h[1]!r}, 'ssh_port': {port(h)}, 'ssh_user': 'root', 'ssh_key': {key!r}, "
            f"'ssh_known_hosts_file': {known_hosts!r}, 'ssh_strict_host_key_checking': 'yes'}})"
            for h in hosts)
        f.write(f"hosts = [{entries}]\n")
    with open(f"{folder}/deploy.py", "w") as f:
        f.write("from pyinfra import host\nfrom pyinfra.operations import apt, files, server, systemd\n")
        root = f"{ROOT}/{{host.name}}" if per_host else ROOT
        f.write(f"apt.packages(name='packages', packages={PACKAGES!r}, present=True)\n")
        f.write(f"server.user(name='user', user={USER!r}, present=True)\n")
        f.write(f"files.directory(name='tree', path=f'{root}/conf', present=True, mode='755')\n")
        f.write(f"for n in range(1, {FILES + 1}):\n")
        f.write("    item = f'{n:02d}'\n")
        f.write(f"    files.template(name=f'file {{item}}', src='templates/file.conf.j2', "
                f"dest=f'{root}/conf/file-{{item}}.conf', mode='644', item=item)\n")
        for service in SERVICES:
            f.write(f"systemd.service(name='{service}', service={service!r}, running=True, enabled=True)\n")
    return [f"{venv}/bin/pyinfra", "-y", "--parallel", str(parallel or len(hosts)),
            f"{folder}/inventory.py", f"{folder}/deploy.py"]


def ansible(folder, hosts, key, known_hosts, venv, per_host=False, parallel=None):
    os.makedirs(f"{folder}/templates", exist_ok=True)
    with open(f"{folder}/templates/file.conf.j2", "w") as f:
        f.write("# file {{ item }} on {{ inventory_hostname }}\nvalue = {{ item }}\n")
    with open(f"{folder}/inventory.ini", "w") as f:
        f.write("[lab]\n")
        for h in hosts:
            f.write(f"{h[0]} ansible_host={h[1]} ansible_port={port(h)} ansible_user=root "
                    f"ansible_ssh_private_key_file={key}\n")
    # Ansible's best configuration without third-party plugins: pipelining, enough forks
    # for every host, multiplexed SSH connections (its default ControlPersist).
    with open(f"{folder}/ansible.cfg", "w") as f:
        f.write(f"[defaults]\ninventory = {folder}/inventory.ini\nforks = {parallel or max(len(hosts), 5)}\n"
                "gathering = explicit\n"
                "interpreter_python = /usr/bin/python3\n"
                f"[ssh_connection]\npipelining = True\nssh_args = -o ControlMaster=auto -o ControlPersist=60s "
                f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes\n")
    items = ", ".join(f"'{n:02d}'" for n in range(1, FILES + 1))
    root = f"{ROOT}/{{{{ inventory_hostname }}}}" if per_host else ROOT
    with open(f"{folder}/playbook.yml", "w") as f:
        f.write(f"""- hosts: lab
  tasks:
    - ansible.builtin.apt: {{name: {json.dumps(PACKAGES)}, state: present}}
    - ansible.builtin.user: {{name: {USER}}}
    - ansible.builtin.file: {{path: '{root}/conf', state: directory, mode: '0755'}}
    - ansible.builtin.template: {{src: templates/file.conf.j2, dest: '{root}/conf/file-{{{{ item }}}}.conf', mode: '0644'}}
      loop: [{items}]
""")
        for service in SERVICES:
            f.write(f"    - ansible.builtin.systemd: {{name: {service}, enabled: true, state: started}}\n")
    return [f"{venv}/bin/ansible-playbook", f"{folder}/playbook.yml"]
