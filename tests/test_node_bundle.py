"""One file to deploy: the node's runtime needs only the standard library, and ``cam bundle`` runs anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cam import auth
from cam.client import Client
from cam.text import digest, parse_value
from tests.node_helpers import ROOT, UP, V1, V2, NodeProcess, cam

RUNTIME = ["cam.code", "cam.machine", "cam.verifier", "cam.node", "cam.server", "cam.store", "cam.protocol",
           "cam.auth", "cam.contract", "cam.ground", "cam.client", "cam.cli", "cam.bundle", "cam.__main__"]

PROBE = """
import json, sys
before = set(sys.modules)
import importlib
for m in sys.argv[1:]:
    importlib.import_module(m)
from cam import cli
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""


def test_the_node_runtime_imports_only_the_standard_library():
    # -S: no site packages at all (and no .pth files importing things behind our back)
    r = subprocess.run([sys.executable, "-S", "-c", PROBE, *RUNTIME], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")}, timeout=60)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout)
    assert "cam.node" in loaded and "cam.verifier" in loaded
    outside = sorted({m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"cam", "catlib"})
    assert outside == [], outside


def test_the_bundle_runs_a_node_in_a_bare_virtual_environment(tmp_path):
    pyz = tmp_path / "node.pyz"
    r = cam("bundle", "-o", str(pyz))
    assert r.returncode == 0 and pyz.exists(), r.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    bare = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    check = subprocess.run([python, "-c", "import cryptography"], capture_output=True, env=bare, timeout=60)
    assert check.returncode != 0  # nothing installed: not even the package's dependencies
    code = tmp_path / "counter.cam"
    code.write_text(str(V1))
    keys = str(tmp_path / "ops")
    auth.keygen(keys)
    data = str(tmp_path / "data")
    args = ["--code", str(code), "--state", "0", "--data", data, "--port", "0", "--trust", keys + ".pub"]
    with NodeProcess(*args, python=python, pyz=str(pyz), env=bare) as p:
        with Client(p.host, p.port, key=keys + ".key") as c:
            assert c.do("L Unit").state == parse_value("Int 1")
            assert c.upgrade(V1, V2, UP)["digest"] == digest(V2)  # verified by the bundle, without cryptography
        sent = subprocess.run([python, str(pyz), "send", "L Unit", "--port", str(p.port)], capture_output=True,
                              text=True, env=bare, timeout=60)
        assert sent.returncode == 0 and "New state: Pair (Int 1) (Int 2)" in sent.stdout, sent.stderr
        p.kill()
    with NodeProcess("--data", data, "--port", "0", "--trust", keys + ".pub", python=python, pyz=str(pyz),
                     env=bare) as p:
        st = subprocess.run([python, str(pyz), "status", "--json", "--port", str(p.port)], capture_output=True,
                            text=True, env=bare, timeout=60)
        status = json.loads(st.stdout)
        assert (status["state"], status["generation"], status["inputs"]) == ("Pair (Int 1) (Int 2)", 2, 2)
        p.stop()
