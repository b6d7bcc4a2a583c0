"""The built wheel installs one namespace, ``minidnn``, and lives beside another package's ``datasets``.

The test builds the wheel from the checkout (no network: the build uses the installed setuptools),
installs it into a fresh virtual environment together with a stand-in package named ``datasets``
(built here), and runs the command there. NumPy and SciPy come from the running environment
through a path file, so nothing is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy
import pytest
import scipy

ROOT = Path(__file__).resolve().parents[1]
STANDIN = "MARK = 'the other datasets package'\n"


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def standin_wheel(folder: Path) -> Path:
    """A minimal wheel of a package named ``datasets`` (one module), as PEP 427 lays it out."""
    files = {
        "datasets/__init__.py": STANDIN.encode(),
        "datasets-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: datasets\nVersion: 1.0\n",
        "datasets-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [record_line(name, data) for name, data in files.items()] + ["datasets-1.0.dist-info/RECORD,,"]
    path = folder / "datasets-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("datasets-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip(
        "setuptools", minversion="77", reason="building the wheel offline needs setuptools>=77"
    )
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT),
        env={**os.environ, "TMPDIR": str(build)})  # fmt: skip
    (path,) = out.glob("minidnn-*.whl")
    return path


def test_the_wheel_holds_only_the_minidnn_namespace_and_the_shipped_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"minidnn"}
    for package in ("datasets", "nlpmodels", "nlpmodels/problems", "solvers", "cli", "layers", "ops"):
        assert f"minidnn/{package}/__init__.py" in names
    assert "minidnn/datasets/data/digits.csv.gz" in names
    assert "minidnn/datasets/data/DIGITS_ATTRIBUTION.txt" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_minidnn_trains_beside_another_package_named_datasets(wheel, tmp_path):
    env_dir = tmp_path / "env"
    run(sys.executable, "-m", "venv", "--without-pip", str(env_dir))
    python = env_dir / "bin" / "python"
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    borrowed = {str(Path(module.__path__[0]).parent) for module in (numpy, scipy)}
    (Path(site) / "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    install = (sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index")
    run(*install, str(wheel))
    run(*install, str(standin_wheel(tmp_path)))

    other = run(str(python), "-c", "import datasets; print(datasets.MARK)", cwd=tmp_path).stdout
    assert other.strip() == "the other datasets package"
    ours = run(
        str(python), "-c", "from minidnn import datasets; print(datasets.__file__)", cwd=tmp_path
    ).stdout
    assert Path(ours.strip()).is_relative_to(site)

    env = {**os.environ, "MINIDNN_DATA": str(tmp_path / "no-data"), "PYTHONPATH": ""}
    done = run(str(env_dir / "bin" / "minidnn"), "train", "--epochs", "1", "--out", str(tmp_path / "run"),
               cwd=tmp_path, env=env)  # fmt: skip
    assert "done" in done.stdout and (tmp_path / "run" / "checkpoint.npz").is_file()
    version = run(str(env_dir / "bin" / "minidnn"), "--version", cwd=tmp_path, env=env).stdout
    assert "minidnn" in version


def test_minidnn_testing_names_the_test_extra_when_hypothesis_is_missing():
    code = (
        "import sys\n"
        "sys.modules['hypothesis'] = None\n"
        "try:\n"
        "    import minidnn.testing\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    done = run(sys.executable, "-c", code)
    assert "needs hypothesis" in done.stdout and "minidnn[test]" in done.stdout
