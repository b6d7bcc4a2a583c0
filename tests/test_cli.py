"""The command line, end to end: ``python -m minidnn train | evaluate | compare``.

Runs go through a subprocess where the process matters (exit codes, live output, Ctrl-C, the console
script) and through ``minidnn.cli.main`` in this process for the many bad-input cases. Budgets are
tiny (the shipped digits, one or two epochs, one second per solver) so the file stays well under a
minute on two cores.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from minidnn import solvers
from minidnn.cli import arguments, atomic, history, main, values
from minidnn.cli import checkpoint as checkpoints
from minidnn.cli.errors import INTERRUPTED, USAGE
from minidnn.cli.settings import CompareSettings, RunSettings

ROOT = Path(__file__).resolve().parents[1]
try:
    import matplotlib  # noqa: F401

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False


def _env(tmp_path: Path, block_matplotlib: bool = False) -> dict[str, str]:
    """The subprocess environment: the checkout importable, output unbuffered, optionally no matplotlib."""
    paths = [str(ROOT)]
    if block_matplotlib:
        blocker = tmp_path / "no-matplotlib" / "matplotlib"
        blocker.mkdir(parents=True, exist_ok=True)
        (blocker / "__init__.py").write_text("raise ImportError('matplotlib is hidden for this test')\n")
        paths.insert(0, str(blocker.parent))
    existing = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths + ([existing] if existing else [])),
        "PYTHONUNBUFFERED": "1",
    }


def _cli(tmp_path: Path, *args: str, block_matplotlib: bool = False, timeout: float = 120):
    """Runs ``python -m minidnn ARGS`` in ``tmp_path``; returns the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "minidnn", *args],
        cwd=tmp_path,
        env=_env(tmp_path, block_matplotlib),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _strict_json(path: Path) -> dict:
    def refuse(token: str) -> None:
        raise ValueError(f"{path} holds the non-standard JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One short default run (two epochs) without matplotlib, shared by several tests."""
    where = tmp_path_factory.mktemp("train")
    done = _cli(where, "train", "--epochs", "2", "--out", "run", block_matplotlib=True)
    assert done.returncode == 0, done.stderr
    return where / "run", done


# -- train, evaluate, resume ---------------------------------------------------------------------------
def test_train_prints_header_progress_and_summary(trained):
    folder, done = trained
    out = done.stdout
    for words in ("digits", "mlp 64-64-10", "4,810 parameters", "adam", "numpy float32", str(folder.name)):
        assert words in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    # the start (in epoch 1), then one row per completed epoch, numbered from 1
    assert [(row[0], row[1], row[2]) for row in rows] == [
        ("1", "0/46", "0"),
        ("1", "46/46", "46"),
        ("2", "46/46", "92"),
    ]
    assert rows[-1][6] != "-"  # test accuracy at each completed epoch
    assert "max_epochs" in out and "test" in out
    assert "pip install -e '.[plot]'" in out  # matplotlib hidden: the note says how to get plots


def test_train_writes_checkpoint_and_metrics(trained):
    folder, _ = trained
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.npz", "metrics.json"]
    record = _strict_json(folder / "metrics.json")
    assert record["settings"]["dataset"] == "digits" and record["settings"]["epochs"] == 2
    assert record["status"] == "max_epochs"
    assert {"python", "numpy", "scipy", "minidnn", "backend", "device"} <= set(record["versions"])
    iterations = record["final"]["iterations"]
    assert len(record["history"]["iter"]) == iterations + 1
    assert record["history"]["iter"][-1] == iterations
    assert 0.5 < record["final"]["test_accuracy"] <= 1.0
    saved = checkpoints.load(folder / "checkpoint.npz")
    assert saved.vector.shape == (4810,) and saved.vector.dtype == np.float32
    assert saved.layout["names"] == ["1.weight", "1.bias", "3.weight", "3.bias"]
    assert saved.settings.solver == "adam" and saved.state["epoch"] == 2


def test_evaluate_reports_the_saved_accuracy(trained, tmp_path):
    folder, _ = trained
    record = _strict_json(folder / "metrics.json")
    done = _cli(tmp_path, "evaluate", "--checkpoint", str(folder / "checkpoint.npz"))
    assert done.returncode == 0, done.stderr
    assert f"{record['final']['test_accuracy']:.4f}" in done.stdout
    assert f"{record['final']['test_loss']:.6f}" in done.stdout


def test_resume_continues_the_history_in_a_new_folder(trained, tmp_path):
    source, _ = trained
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    before = _strict_json(folder / "metrics.json")
    done = _cli(tmp_path, "train", "--resume", str(folder / "checkpoint.npz"), "--epochs", "3")
    assert done.returncode == 0, done.stderr
    assert "resumed" in done.stdout
    assert _strict_json(folder / "metrics.json") == before
    folder = tmp_path / "copy-resumed"
    after = _strict_json(folder / "metrics.json")
    old_iters = before["final"]["iterations"]
    assert [run["first_iteration"] for run in after["runs"]] == [0, old_iters]
    assert after["final"]["epochs"] == 3
    its = after["history"]["iter"]
    assert its == list(range(len(its))) and its[-1] == after["final"]["iterations"] > old_iters
    assert after["history"]["time"][old_iters + 1] >= before["history"]["time"][-1]
    assert checkpoints.load(folder / "checkpoint.npz").state["iterations"] == its[-1]


def test_resume_refuses_a_different_network(trained, tmp_path, capsys):
    folder, _ = trained
    code = main(
        ["train", "--resume", str(folder / "checkpoint.npz"), "--hidden", "32", "--out", str(tmp_path)]
    )
    assert code == USAGE
    assert "--hidden 32 differs from the checkpoint's 64" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed (the plot extra)")
def test_plot_is_written_with_matplotlib(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "curves.png" in capsys.readouterr().out


def test_deterministic_solver_walks_through_batches(tmp_path, capsys):
    code = main(["train", "--solver", "trunk", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert code == 0
    record = _strict_json(tmp_path / "run" / "metrics.json")
    options = {"atol": 0.0, "rtol": 0.0, "resample": "iteration", "cg_max_iter": 20}
    assert record["settings"]["options"] == options
    assert record["final"]["epochs"] == 1 and record["runs"][0]["counters"]["neval_hprod"] > 0


# -- compare -------------------------------------------------------------------------------------------
def test_compare_runs_each_solver_under_the_budget(tmp_path):
    done = _cli(
        tmp_path, "compare", "--dataset", "digits", "--model", "mlp", "--max-time", "0.5",
        "--solvers", "adam,trunk-lsr1", "--points", "3", "--out", "cmp",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = [line.split() for line in done.stdout.splitlines() if line.startswith(("adam ", "trunk-lsr1 "))]
    assert [row[0] for row in table] == ["adam", "trunk-lsr1"]
    record = _strict_json(tmp_path / "cmp" / "compare.json")
    for name in ("adam", "trunk-lsr1"):
        result = record["results"][name]
        assert result["time"] <= 0.5 + 0.5  # the budget, plus at most the iteration that crossed it
        assert len(result["curve"]["time"]) == len(result["curve"]["accuracy"]) >= 2
        assert result["curve"]["accuracy"][0] == record["results"]["adam"]["curve"]["accuracy"][0]
    assert (tmp_path / "cmp" / "compare.png").exists() == HAS_MATPLOTLIB


def test_compare_refuses_an_option_for_a_solver_not_compared(tmp_path, capsys):
    code = main(["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam",
                 "--option", "lbfgs.mem=3", "--out", str(tmp_path / "c")])  # fmt: skip
    assert code == USAGE
    assert "'lbfgs' is not among the solvers compared" in capsys.readouterr().err


def test_compare_budget_in_iterations(tmp_path):
    code = main(["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam,lbfgs",
                 "--max-iter", "4", "--points", "2", "--out", str(tmp_path / "c")])  # fmt: skip
    assert code == 0
    record = _strict_json(tmp_path / "c" / "compare.json")
    assert [r["iterations"] for r in record["results"].values()] == [4, 4]
    assert record["settings"]["max_iter"] == 4 and record["settings"]["points"] == 2


def test_compare_credits_a_growing_batch_with_every_sample_it_drew(tmp_path, capsys):
    code = main(["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "lbfgs",
                 "--batch-size", "8", "--batch-policy", "norm_test", "--max-iter", "12", "--points", "2",
                 "--out", str(tmp_path / "c")])  # fmt: skip
    assert code == 0
    result = _strict_json(tmp_path / "c" / "compare.json")["results"]["lbfgs"]
    samples = sum(result["history"]["samples"])
    assert result["history"]["batch"][-1] > 8
    assert result["epochs"] <= samples / 1442 <= result["epochs"] + 1  # the last pass is unfinished
    assert 0 < result["epochs"] < 1  # no pass completed: the samples drawn again after each growth
    row = next(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("lbfgs "))
    assert row[3] == f"{result['epochs']:.2f}"


def test_compare_applies_a_parameter_flag_to_the_solvers_that_have_it(tmp_path):
    code = main(["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam,lbfgs,lsr1",
                 "--max-iter", "2", "--mem", "3", "--points", "2", "--out", str(tmp_path / "c")])  # fmt: skip
    assert code == 0


def test_compare_refuses_a_parameter_flag_no_compared_solver_has(tmp_path, capsys):
    code = main(["compare", "--dataset", "digits", "--model", "mlp", "--solvers", "adam,r2",
                 "--mem", "3", "--out", str(tmp_path / "c")])  # fmt: skip
    assert code == USAGE
    assert "--mem: none of the solvers compared (adam, r2) has a parameter mem" in capsys.readouterr().err


# -- flags generated from the declarations ---------------------------------------------------------------
def _flags(command: str) -> set[str]:
    parser = arguments.build()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {option for action in sub._actions for option in action.option_strings}


def test_every_setting_and_solver_parameter_has_a_flag():
    train, compare = _flags("train"), _flags("compare")
    for field in dataclasses.fields(RunSettings):
        spec = field.metadata.get("flag")
        if spec is None:
            continue
        name = spec.get("option", "--" + field.name.replace("_", "-"))
        assert (name in train) == ("train" in spec["commands"]) and (name in compare) == (
            "compare" in spec["commands"]
        )
    assert {"--solvers", "--points"} <= compare and "--solvers" not in train
    assert {f.name for f in dataclasses.fields(CompareSettings)} == {"solvers", "points"}
    for cls in solvers.METHODS.values():
        for field in dataclasses.fields(cls.parameters):
            assert "--" + field.name.replace("_", "-") in train & compare


def test_a_flag_left_out_is_absent_from_the_arguments():
    args = arguments.build().parse_args(["train", "--seed", "3", "--mem", "4", "--option", "atol=0.1"])
    assert arguments.given(args, RunSettings) == {"seed": 3}
    assert arguments.solver_options(args) == {"mem": 4}
    assert args.option == [("atol", 0.1)]


def test_train_takes_solver_parameters_as_flags(tmp_path):
    code = main(["train", "--solver", "lbfgs", "--mem", "3", "--line-search", "strong_wolfe",
                 "--max-iter", "3", "--epochs", "0", "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 0
    options = _strict_json(tmp_path / "run" / "metrics.json")["settings"]["options"]
    assert options["mem"] == 3 and options["line_search"] == "strong_wolfe"


def test_a_parameter_flag_the_solver_lacks_is_the_solvers_own_error(tmp_path, capsys):
    assert main(["train", "--mem", "3", "--out", str(tmp_path / "run")]) == USAGE
    assert "adam: unknown option(s) mem; valid options:" in capsys.readouterr().err


# -- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flag", "valid"),
    [
        ("--dataset", "'digits', 'mnist', 'fashion-mnist', 'cifar10'"),
        ("--model", "'mlp', 'lenet5', 'lenet', 'cifar-cnn'"),
        ("--solver", "'adam', 'multibatch_lbfgs', 'r2', 'lbfgs', 'trunk', 'lsr1', 'hessian_free', 'trunk-"),
    ],
)
def test_unknown_names_list_the_valid_ones(flag, valid, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", flag, "nonsense"])
    assert exit_info.value.code == USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err and valid in err


def test_unknown_solver_in_compare_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--solvers", "adam,nonsense"])
    assert "unknown solver(s) nonsense; valid solvers: sgd" in capsys.readouterr().err


def test_missing_files_offline_say_where_to_put_them(tmp_path, capsys):
    empty = tmp_path / "data"
    empty.mkdir()
    args = [
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        str(empty),
        "--no-download",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == USAGE
    err = capsys.readouterr().err
    assert str(empty / "mnist" / "train-images-idx3-ubyte.gz") in err and "--data-dir" in err
    assert not (tmp_path / "o").exists()


def test_failed_download_says_where_to_put_the_file(tmp_path, monkeypatch, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("MINIDNN_MIRROR", mirror.as_uri())
    args = ["compare", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "o")]
    assert main(args) == USAGE
    assert (
        f"save it as {tmp_path / 'data' / 'mnist' / 'train-images-idx3-ubyte.gz'}" in capsys.readouterr().err
    )


def test_unwritable_output_folder_is_refused_before_loading(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["train", "--out", str(blocker / "run")]) == USAGE
    captured = capsys.readouterr()
    assert f"cannot write to the output folder {blocker / 'run'}" in captured.err
    assert "minidnn train" not in captured.out  # no header: nothing was loaded


def test_unknown_solver_option_is_the_solvers_own_error(tmp_path, capsys):
    assert main(["train", "--option", "momentum=0.9", "--out", str(tmp_path / "run")]) == USAGE
    err = capsys.readouterr().err
    assert "adam: unknown option(s) momentum; valid options:" in err and "betas" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # the folder made for the run is removed again


def test_network_that_does_not_fit_the_images(tmp_path, capsys):
    assert main(["train", "--model", "lenet5", "--out", str(tmp_path / "run")]) == USAGE
    assert "model lenet5 does not fit the digits data (images 1x8x8)" in capsys.readouterr().err


def test_corrupt_checkpoint_is_named(tmp_path, capsys):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(bad)]) == USAGE
    assert f"{bad} is not a minidnn checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path / "absent.npz")]) == USAGE
    assert "does not exist" in capsys.readouterr().err


def test_checkpoint_of_another_network_is_refused(trained, tmp_path, capsys):
    folder, _ = trained
    saved = checkpoints.load(folder / "checkpoint.npz")
    saved.settings.hidden = (32,)
    path = checkpoints.save(tmp_path / "checkpoint.npz", saved)
    assert main(["evaluate", "--checkpoint", str(path)]) == USAGE
    assert f"{path}: the parameter layout (shapes) does not match" in capsys.readouterr().err


def test_no_command_prints_the_usage(capsys):
    assert main([]) == USAGE
    assert "train" in capsys.readouterr().err


# -- Ctrl-C --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_sigint_saves_the_run_so_far(tmp_path, signal_number):
    process = subprocess.Popen(
        [sys.executable, "-m", "minidnn", "train", "--epochs", "0", "--max-time", "120", "--out", "run"],
        cwd=tmp_path,
        env=_env(tmp_path, block_matplotlib=True),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    collected: list[str] = []
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            collected.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline, last = time.monotonic() + 60, ""
    while last.split()[:2] != ["1", "46/46"]:  # the row of the first completed epoch
        assert time.monotonic() < deadline and process.poll() is None, "".join(collected)
        try:
            last = lines.get(timeout=1)
        except queue.Empty:
            pass
    process.send_signal(signal_number)
    assert process.wait(timeout=60) == INTERRUPTED
    reader.join(timeout=10)
    out = "".join(collected)
    assert "interrupted (Ctrl-C or SIGTERM): the run so far is saved in run" in out
    assert "minidnn train --resume run/checkpoint.npz" in out
    record = _strict_json(tmp_path / "run" / "metrics.json")
    assert record["status"] == "user" and record["final"]["iterations"] > 0
    saved = checkpoints.load(tmp_path / "run" / "checkpoint.npz")
    assert saved.state["status"] == "user" and saved.vector.shape == (4810,)
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(shutil.which("minidnn") is None, reason="the console script is not installed")
def test_console_script(trained, tmp_path):
    folder, _ = trained
    done = subprocess.run(
        ["minidnn", "evaluate", "--checkpoint", str(folder / "checkpoint.npz"), "--split", "train"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "train: 1,442 images" in done.stdout


def test_importing_minidnn_loads_no_command_line(tmp_path):
    prefixes = ("minidnn.cli", "minidnn.datasets", "minidnn.nlpmodels", "minidnn.solvers")
    code = f"import sys, minidnn; print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    done = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


# -- the pieces ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("0.5", 0.5), ("1e-3", 1e-3), ("true", True), ("False", False), ("none", None),
     ("strong_wolfe", "strong_wolfe"), ("0.9,0.99", (0.9, 0.99))],
)  # fmt: skip
def test_option_values(text, value):
    assert values.key_value(f"key={text}") == ("key", value)


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "file.bin"
    atomic.write_text(target, "old")

    def fail(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_history_join_shifts_the_resumed_rows():
    old = {"iter": [0, 1, 2], "time": [0.0, 1.0, 2.0], "f": [3.0, 2.0, 1.0]}
    new = {"iter": [0, 1], "time": [0.0, 0.5], "f": [1.5, 0.5], "inner": [None, 4]}
    joined = history.join(old, new, iter_offset=2, time_offset=2.0)
    assert joined == {
        "iter": [0, 1, 2, 3],
        "time": [0.0, 1.0, 2.0, 2.5],
        "f": [3.0, 2.0, 1.0, 0.5],
        "inner": [None, None, None, 4],
    }
