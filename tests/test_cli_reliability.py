"""The command line under faults: a closed stdout, a full disk, two runs into one folder, runs with
no budget, bad small values, missing files and backends; and the wording of its messages.

Subprocesses where the process matters (a pipe closed by the reader, two processes at once), and
``minidnn.cli.main`` in this process for the rest. Budgets are one epoch of the shipped digits.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minidnn.cli import atomic, main, outdir
from minidnn.cli import checkpoint as checkpoints
from minidnn.cli.errors import USAGE
from minidnn.cli.settings import resolve

ROOT = Path(__file__).resolve().parents[1]
RUN = ["train", "--epochs", "1"]


def _env(tmp_path: Path) -> dict[str, str]:
    """The subprocess environment: the checkout importable, matplotlib hidden (faster), unbuffered."""
    blocker = tmp_path / "no-matplotlib" / "matplotlib"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is hidden for this test')\n")
    paths = [str(blocker.parent), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "minidnn", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# -- output: a closed stdout, a full disk, a locked folder ---------------------------------------------------
def test_a_reader_that_goes_away_does_not_stop_the_run(tmp_path):
    process = _start(tmp_path, "train", "--epochs", "2", "--progress", "1e-9", "--out", "run")
    head = [process.stdout.readline() for _ in range(3)]  # as `minidnn train | head -3`
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    err = process.stderr.read()
    assert head[0].startswith("minidnn train")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert (tmp_path / "run" / checkpoints.NAME).is_file() and (tmp_path / "run" / "metrics.json").is_file()
    assert not (tmp_path / "run" / outdir.LOCK).exists()


def test_a_closed_stdout_from_the_start_is_no_error(tmp_path):
    done = subprocess.run(
        f"{sys.executable} -m minidnn train --epochs 1 --out run >&-",
        shell=True,
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "run" / checkpoints.NAME).is_file()


def _full_disk_for(monkeypatch, *names: str) -> None:
    """Every atomic write of a file in ``names`` fails as on a full disk."""
    write = atomic.write

    def failing(path, fill):
        if Path(path).name in names:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write(path, fill)

    monkeypatch.setattr(atomic, "write", failing)


def test_a_full_disk_after_the_checkpoint_keeps_it_and_exits_2(tmp_path, monkeypatch, capsys):
    _full_disk_for(monkeypatch, "metrics.json", "curves.png")
    folder = tmp_path / "run"
    assert main([*RUN, "--out", str(folder)]) == USAGE
    captured = capsys.readouterr()
    assert f"cannot write in the output folder {folder}" in captured.err
    assert "No space left on device" in captured.err and "kept: checkpoint.npz" in captured.err
    assert "Traceback" not in captured.err
    assert "status" in captured.out  # the summary of the finished run is printed first
    assert checkpoints.load(folder / checkpoints.NAME).vector.size == 4810
    assert sorted(p.name for p in folder.iterdir()) == [checkpoints.NAME]


def test_a_full_disk_at_the_checkpoint_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    def full(path, checkpoint):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoints, "save", full)
    folder = tmp_path / "run"
    assert main([*RUN, "--out", str(folder)]) == USAGE
    err = capsys.readouterr().err
    assert f"cannot write in the output folder {folder}" in err and "nothing was saved" in err
    assert not folder.exists()  # a folder the run created is not left behind empty


def test_compare_on_a_full_disk_exits_2(tmp_path, monkeypatch, capsys):
    _full_disk_for(monkeypatch, "compare.json")
    args = ["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam", "--max-iter", "3"]
    assert main([*args, "--out", str(tmp_path / "cmp")]) == USAGE
    err = capsys.readouterr().err
    assert "compare.json: No space left on device" in err and "nothing was saved" in err


def test_a_second_run_into_a_busy_folder_fails_at_once(tmp_path, capsys):
    first = _start(tmp_path, "train", "--epochs", "0", "--max-time", "60", "--out", "run")
    try:
        row = ""
        while not row.startswith("    1 "):  # the first run holds the lock and has iterated
            row = first.stdout.readline()
            assert row or first.poll() is None, first.stderr.read()
        assert (tmp_path / "run" / outdir.LOCK).exists()
        started = time.monotonic()
        assert main([*RUN, "--out", str(tmp_path / "run")]) == USAGE
        assert time.monotonic() - started < 5
        err = capsys.readouterr().err
        assert "is in use by another run" in err and f"process {first.pid}" in err
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert (tmp_path / "run" / checkpoints.NAME).is_file()  # the first run saved its files
    assert not (tmp_path / "run" / outdir.LOCK).exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / outdir.LOCK).write_text(f"{ended.stdout.strip()} {socket.gethostname()}\n")
    assert main([*RUN, "--out", str(folder)]) == 0
    assert not (folder / outdir.LOCK).exists()


def test_a_lock_from_another_host_is_held(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / outdir.LOCK).write_text("1 another-host\n")
    assert main([*RUN, "--out", str(folder)]) == USAGE
    assert f"delete {folder / outdir.LOCK}" in capsys.readouterr().err
    assert (folder / outdir.LOCK).exists()


# -- budgets -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "0"],
        ["train", "--epochs", "0", "--max-time", "0", "--max-iter", "0"],
        ["compare", "--dataset", "digits", "--model", "mlp", "--max-time", "0"],
    ],
)
def test_no_budget_is_an_error(args, tmp_path, capsys):
    assert main([*args, "--out", str(tmp_path / "o")]) == USAGE
    err = capsys.readouterr().err
    assert "no budget" in err and "--forever" in err
    assert not (tmp_path / "o").exists()


def test_forever_is_the_explicit_way_to_run_without_a_budget(capsys):
    for given in ({"forever": True}, {"epochs": 0, "forever": True}):
        settings = resolve(given, {})
        assert (settings.epochs, settings.max_time, settings.max_iter) == (None, None, None)
    assert main(["train", "--forever", "--max-iter", "5"]) == USAGE
    assert "--forever contradicts the budget --max-iter" in capsys.readouterr().err


def test_compare_checks_every_solvers_options_before_the_first_run(tmp_path, capsys):
    args = ["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam,lbfgs", "--max-time", "5"]
    started = time.monotonic()
    assert main([*args, "--option", "lbfgs.mem=0", "--out", str(tmp_path / "cmp")]) == USAGE
    assert time.monotonic() - started < 4  # adam did not spend its 5 s first
    captured = capsys.readouterr()
    assert "lbfgs: mem must be an integer >= 1" in captured.err
    assert "adam " not in captured.out
    assert not (tmp_path / "cmp").exists()


# -- small values --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hidden", ","], "argument --hidden"),
        (["--hidden", "64,,32"], "argument --hidden"),
        (["--out", ""], "argument --out"),
        (["--seed", "-1"], "argument --seed"),
        (["--backend", "array-api-strict"], "argument --backend"),
        (["--data-dir", ""], "argument --data-dir"),
        (["--resume", ""], "argument --resume"),
    ],
)
def test_bad_small_values_name_their_flag(args, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *args])
    assert exit_info.value.code == USAGE
    assert words in capsys.readouterr().err


def test_a_solver_named_twice_in_compare_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--solvers", "adam,lbfgs,adam"])
    assert "adam given twice" in capsys.readouterr().err


def test_hidden_none_is_an_mlp_without_hidden_layers(tmp_path, capsys):
    assert main([*RUN, "--hidden", "none", "--out", str(tmp_path / "run")]) == 0
    assert "mlp 64-10 (relu): 650 parameters" in capsys.readouterr().out


def test_the_test_backend_is_not_offered(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "array-api-strict" not in capsys.readouterr().out


def test_cupy_missing_says_to_install_the_gpu_extra(tmp_path, capsys):
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401

        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    assert main([*RUN, "--backend", "cupy", "--out", str(tmp_path / "run")]) == USAGE
    assert 'pip install "minidnn[gpu]"' in capsys.readouterr().err


# -- wording ------------------------------------------------------------------------------------------------
def test_missing_files_are_listed_at_once_in_command_line_words(tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    args = ["train", "--dataset", "mnist", "--data-dir", str(empty), "--no-download"]
    assert main([*args, "--out", str(tmp_path / "o")]) == USAGE
    err = capsys.readouterr().err
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        assert str(empty / "mnist" / f"{name}.gz") in err
    assert "--no-download was given" in err and "download=False" not in err and "download=True" not in err


def test_one_epoch_is_singular(tmp_path, capsys):
    assert main([*RUN, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "budget   1 epoch\n" in out and "1 epoch completed" in out


def test_compare_prints_its_titles_before_the_rows(tmp_path, capsys):
    args = ["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam,r2", "--max-iter", "3"]
    assert main([*args, "--out", str(tmp_path / "cmp")]) == 0
    lines = capsys.readouterr().out.splitlines()
    titles = next(i for i, line in enumerate(lines) if line.startswith("solver "))
    rows = [i for i, line in enumerate(lines) if line.startswith(("adam ", "r2 "))]
    assert len(rows) == 2 and titles < min(rows)


def test_a_default_folder_taken_meanwhile_gets_the_next_suffix(tmp_path):
    stem = tmp_path / "runs" / "20260101-000000-digits-mlp-adam"
    stem.mkdir(parents=True)  # another run created it between the name and the claim
    with outdir.claimed(stem, fresh=True) as folder:
        assert folder == stem.with_name(stem.name + "-2") and (folder / outdir.LOCK).is_file()
    assert not folder.exists() and stem.exists()  # the unused new folder is removed, the other kept


def test_two_default_runs_at_once_both_finish(tmp_path):
    runs = [_start(tmp_path, *RUN) for _ in range(2)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0], [run.stderr.read() for run in runs]
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2 and all((f / checkpoints.NAME).is_file() for f in folders)
