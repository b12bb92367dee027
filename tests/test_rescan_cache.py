"""A cached re-scan (issue #13, goal 4) in a real venv: served without starting the target
interpreter while nothing changed; installing, upgrading or removing a distribution, or a
changed probe file or config, is seen by the next scan (docs/architecture.md, "Caching").

The venv's ``sitecustomize.py`` appends a line to a log at every start of its interpreter:
that is how a test sees that a scan started no child (zygote or fresh process) at all.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from pc_testutil import by_name, json_report, run_patchcheck, system_site_venv

DEMO = "pc-rescan-demo"

COOPERATES = "import socket\n\ndef fetch():\n    return socket.gethostname()\n"
# select.epoll is gone after patch_all(): this version breaks under patching
BREAKS = "import select\n\nEPOLL = select.epoll\n"


def _wheel(folder: Path, version: str, source: str) -> Path:
    """A pure-Python wheel of ``pc_rescan_demo`` (written directly: no build step)."""
    dist_info = f"pc_rescan_demo-{version}.dist-info"
    files = {
        "pc_rescan_demo/__init__.py": source,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {DEMO}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n",
        f"{dist_info}/top_level.txt": "pc_rescan_demo\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    path = folder / f"pc_rescan_demo-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


class Venv:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = system_site_venv(root / "venv")
        self.starts = root / "starts.log"
        self.site = Path(subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True, text=True, check=True).stdout.strip())
        (self.site / "sitecustomize.py").write_text(
            f"with open({str(self.starts)!r}, 'a') as _fh:\n    _fh.write('start\\n')\n")
        self.cwd = root / "project"
        self.cwd.mkdir()
        self.env = {"PATCHCHECK_CACHE_DIR": str(root / "cache")}

    def pip(self, *args: str) -> None:
        subprocess.run([self.python, "-m", "pip", "-q", *args, "--no-index", "--no-deps"]
                       if args[0] == "install" else [self.python, "-m", "pip", "-q", *args],
                       check=True, capture_output=True, timeout=300)
        self.settle()

    def settle(self) -> None:
        """Date what changed in the venv in the last 30 s back by 60 s: an inspection is
        stored only when nothing it stamped was modified within 2 s of it
        (``targets/snapshot.RACY_S``). Only what changed: re-dating a path changes its ctime,
        and the stamps, not this helper, must be what tells a change."""
        now = time.time()
        for folder, dirs, files in os.walk(self.root / "venv"):
            for path in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                if os.lstat(path).st_mtime > now - 30:
                    os.utime(path, (now - 60, now - 60), follow_symlinks=False)

    def scan(self, *args: str) -> tuple[dict, int]:
        """The report and how many times the target interpreter started for it."""
        before = self._count()
        # pip too: a scan where nothing asked for is installed is a usage error
        proc = run_patchcheck("scan", DEMO, "pip", "--python", self.python, "--format", "json",
                              "--fail-on", "never", "--no-bisect", *args,
                              cwd=self.cwd, env=self.env)
        assert proc.returncode == 0, proc.stderr
        return json_report(proc), self._count() - before

    def _count(self) -> int:
        return len(self.starts.read_text().splitlines()) if self.starts.exists() else 0


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    v = Venv(tmp_path)
    v.settle()
    return v


def test_rescan_starts_no_child_and_gives_the_same_report(venv: Venv, tmp_path: Path) -> None:
    venv.pip("install", str(_wheel(tmp_path, "1.0", COOPERATES)))
    first, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(first)[DEMO]["verdict"] == "untested"
    second, started = venv.scan("--no-probes")
    assert started == 0  # inspection, plugin inventory and result: all from the cache
    assert second["results"] == first["results"]
    assert second["environment"] == first["environment"]
    # --no-cache neither reads nor trusts it
    _, started = venv.scan("--no-probes", "--no-cache")
    assert started >= 1


def test_install_upgrade_and_removal_are_seen(venv: Venv, tmp_path: Path) -> None:
    report, _ = venv.scan("--no-probes")
    assert by_name(report)[DEMO]["verdict"] == "not-installed"
    _, started = venv.scan("--no-probes")
    assert started == 0

    venv.pip("install", str(_wheel(tmp_path, "1.0", COOPERATES)))
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert (by_name(report)[DEMO]["verdict"], by_name(report)[DEMO]["version"]) == (
        "untested", "1.0")
    _, started = venv.scan("--no-probes")
    assert started == 0

    # an upgrade re-creates the .dist-info folder: new inspection, new version, new result
    venv.pip("install", str(_wheel(tmp_path, "2.0", BREAKS)))
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert (by_name(report)[DEMO]["verdict"], by_name(report)[DEMO]["version"]) == (
        "breaks", "2.0")

    # the same version rebuilt with other files: the result is measured again
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    venv.pip("install", "--force-reinstall", str(_wheel(rebuilt, "2.0", COOPERATES)))
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(report)[DEMO]["verdict"] == "untested"

    venv.pip("uninstall", "-y", DEMO)
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(report)[DEMO]["verdict"] == "not-installed"


def test_an_edited_metadata_file_is_seen(venv: Venv, tmp_path: Path) -> None:
    """An edit in place (as ``setup.py egg_info`` rewrites PKG-INFO) changes no folder."""
    venv.pip("install", str(_wheel(tmp_path, "1.0", COOPERATES)))
    venv.scan("--no-probes")
    _, started = venv.scan("--no-probes")
    assert started == 0
    metadata = venv.site / "pc_rescan_demo-1.0.dist-info" / "METADATA"
    with open(metadata, "r+") as fh:
        text = fh.read().replace("Version: 1.0", "Version: 1.1")
        fh.seek(0)
        fh.write(text)
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(report)[DEMO]["version"] == "1.1"


def test_pythonpath_is_part_of_what_was_inspected(venv: Venv, tmp_path: Path) -> None:
    venv.scan("--no-probes")
    _, started = venv.scan("--no-probes")
    assert started == 0
    extra = tmp_path / "extra"
    extra.mkdir()
    with zipfile.ZipFile(_wheel(tmp_path, "3.0", COOPERATES)) as zf:
        zf.extractall(extra)
    venv.env["PYTHONPATH"] = str(extra)
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(report)[DEMO]["version"] == "3.0"


def test_changed_config_and_probe_file_are_new_measurements(venv: Venv, tmp_path: Path) -> None:
    venv.pip("install", str(_wheel(tmp_path, "2.0", BREAKS)))
    report, _ = venv.scan("--no-probes")
    assert by_name(report)[DEMO]["verdict"] == "breaks"
    # config: with select left alone by patch_all(), select.epoll is still there
    (venv.cwd / "pyproject.toml").write_text("[tool.patchcheck]\npatch = { select = false }\n")
    report, started = venv.scan("--no-probes")
    assert started >= 1
    assert by_name(report)[DEMO]["verdict"] != "breaks"

    # a probe file edited in place: measured again with the new code
    probes = tmp_path / "probes"
    probes.mkdir()
    probe = probes / "demo_probe.py"
    call = {"cooperates": "time.sleep(ctx.wait)",
            "blocks": "gevent.monkey.get_original('time', 'sleep')(ctx.wait)"}
    template = ("import time\n\nimport gevent.monkey\nfrom patchcheck_probe import probe\n\n\n"
                f"@probe(distributions=[{DEMO!r}], wait=0.3)\n"
                "def demo_wait(ctx):\n    return lambda: {call}\n")
    outcomes = []
    for expected in ("cooperates", "blocks"):
        probe.write_text(template.format(call=call[expected]))
        report, _ = venv.scan("--probe-path", str(probes))
        result = by_name(report)[DEMO]
        outcomes.append([p["plain"]["outcome"] for p in result["probes"]])
        assert not report["problems"], report["problems"]
    assert outcomes == [["cooperates"], ["blocks"]], json.dumps(outcomes)
