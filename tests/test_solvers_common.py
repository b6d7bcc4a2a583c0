"""The machinery every solver shares: statuses, stopping rules and budgets, history, the iteration
table, callbacks, Ctrl-C, non-finite values, dispatch by name, parameter declarations, bad input,
SciPy's result names, backends and dtypes."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re

import numpy
import pytest
from doubles import Interrupting, MinibatchLogistic, NanAfterLongSteps, NoHessian, Poisoned, Quadratic
from minidnn.nlpmodels import LSR1Model
from minidnn.nlpmodels.problems import rosenbrock
from minidnn.solvers import parameters
from minidnn.solvers.core import Batches, Budget
from minidnn.solvers.stats import BASE_COLUMNS, STATUSES, ExecutionStats

from minidnn import backend as backends
from minidnn import solvers

ALL = tuple(solvers.METHODS)
DETERMINISTIC = solvers.DETERMINISTIC
STOCHASTIC = solvers.STOCHASTIC
ON_FIXED_PROBLEMS = {"hessian_free": {"curvature": "hessian"}}
"""Options a method needs on the classic problems and the doubles, which have no Gauss-Newton product."""


def minimize(nlp, method, **options):
    return solvers.minimize(nlp, method, **{**ON_FIXED_PROBLEMS.get(method, {}), **options})


def test_families_are_declared_once() -> None:
    assert STOCHASTIC == ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "multibatch_lbfgs")
    assert DETERMINISTIC == ("r2", "lbfgs", "trunk", "lsr1", "hessian_free")
    assert all(solvers.METHODS[name].family == "stochastic" for name in STOCHASTIC)


# -- statuses and stats --------------------------------------------------------------------------------------
def test_status_set_is_the_documented_one() -> None:
    assert set(STATUSES) == {
        "first_order",
        "max_eval",
        "max_iter",
        "max_time",
        "max_epochs",
        "user",
        "exception",
        "not_desc",
        "neg_pred",
        "small_step",
        "unbounded",
    }


def test_stats_refuse_unknown_status() -> None:
    stats = solvers.trunk(Quadratic())
    with pytest.raises(ValueError, match="valid statuses"):
        stats.status = "done"


@pytest.mark.parametrize("method", ALL)
def test_stats_fields_after_a_run(method: str) -> None:
    nlp = Quadratic((1.0, 2.0))
    stats = minimize(nlp, method, max_iter=5)
    assert isinstance(stats, ExecutionStats)
    assert stats.status in STATUSES and stats.message
    assert stats.solution.shape == (2,) and stats.solution.dtype == numpy.float64
    assert stats.objective == pytest.approx(nlp.obj(stats.solution))
    assert stats.dual_feas == pytest.approx(numpy.linalg.norm(nlp.grad(stats.solution)))
    assert 1 <= stats.iter <= 5
    assert stats.elapsed_time >= 0
    assert set(stats.counters) == {"neval_obj", "neval_grad", "neval_hprod", "neval_ghprod"}
    assert stats.counters["neval_obj"] >= stats.iter
    assert len(stats.history) == stats.iter + 1
    assert stats.history.columns[: len(BASE_COLUMNS)] == BASE_COLUMNS
    assert stats.history["iter"] == list(range(stats.iter + 1))
    assert method in str(stats) and stats.status in repr(stats)


def test_counters_count_this_run_only() -> None:
    nlp = Quadratic()
    nlp.obj(nlp.meta.x0)
    stats = solvers.lbfgs(nlp)
    assert stats.counters["neval_obj"] == nlp.counters.neval_obj - 1


def test_solution_does_not_alias_x0() -> None:
    nlp = Quadratic()
    x0 = numpy.full(3, 0.5)
    stats = solvers.sgd(nlp, x0, lr=0.001, max_iter=3)
    assert numpy.all(x0 == 0.5)
    assert stats.solution is not x0


# -- stopping rules and budgets ------------------------------------------------------------------------------
def test_default_tolerances_are_sqrt_eps_of_the_dtype(dtype: str) -> None:
    budget = parameters.checked("test", Budget(), Quadratic(dtype=dtype).meta)
    root = math.sqrt(float(numpy.finfo(dtype).eps))
    assert budget.atol == budget.rtol == root
    assert budget.tolerance(100.0) == pytest.approx(root + 100 * root)


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_first_order_uses_atol_plus_rtol_times_initial_gradient(method: str) -> None:
    nlp = Quadratic()
    g0 = float(numpy.linalg.norm(nlp.grad(nlp.meta.x0)))
    stats = minimize(nlp, method, atol=1e-3, rtol=1e-2)
    assert stats.status == "first_order"
    assert stats.dual_feas <= 1e-3 + 1e-2 * g0
    assert stats.history["grad_norm"][-2] > 1e-3 + 1e-2 * g0


def test_max_iter_stops_exactly() -> None:
    stats = solvers.r2(rosenbrock(), max_iter=7)
    assert stats.status == "max_iter" and stats.iter == 7


def test_max_eval_counts_objective_evaluations() -> None:
    stats = solvers.trunk(rosenbrock(), max_eval=10)
    assert stats.status == "max_eval"
    assert 10 <= stats.counters["neval_obj"] <= 10 + 12  # one iteration may overshoot by its backtracks


def test_max_time_stops() -> None:
    stats = solvers.sgd(Quadratic(), lr=1e-6, max_time=0.05)
    assert stats.status == "max_time"
    assert stats.elapsed_time >= 0.05


def test_max_epochs_stops_after_whole_epochs() -> None:
    nlp = MinibatchLogistic()
    stats = solvers.sgd(nlp, max_epochs=2)
    assert stats.status == "max_epochs"
    assert stats.iter == 2 * nlp.batches_per_epoch
    assert stats.solver_specific["epochs"] == 2


# -- callbacks, Ctrl-C, non-finite values --------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL)
def test_callback_sees_every_iteration_and_can_stop(method: str) -> None:
    seen = []

    def callback(nlp, solver, stats):
        seen.append((stats.iter, stats.objective, solver.x.copy()))
        assert solver.f == stats.objective and solver.grad_norm == stats.dual_feas
        if stats.iter == 3:
            stats.status = "user"

    options = {"lr": 1e-4} if method in STOCHASTIC else {}
    stats = minimize(rosenbrock(), method, callback=callback, **options)
    assert stats.status == "user" and stats.iter == 3
    assert [it for it, _, _ in seen] == [0, 1, 2, 3]
    numpy.testing.assert_array_equal(seen[-1][2], stats.solution)


@pytest.mark.parametrize("method", ALL)
def test_keyboard_interrupt_from_a_callback_returns_user(method: str) -> None:
    def callback(nlp, solver, stats):
        if stats.iter == 2:
            raise KeyboardInterrupt

    options = {"lr": 1e-4} if method in STOCHASTIC else {}
    stats = minimize(rosenbrock(), method, callback=callback, **options)
    assert stats.status == "user" and "interrupt" in stats.message.lower()
    assert stats.iter == 2 and numpy.all(numpy.isfinite(stats.solution))


@pytest.mark.parametrize("method", ALL)
def test_keyboard_interrupt_inside_an_evaluation_returns_current_iterate(method: str) -> None:
    nlp = Interrupting(after=4)
    stats = minimize(nlp, method, atol=0.0, rtol=0.0)
    assert stats.status == "user" and "interrupt" in stats.message.lower()
    assert stats.objective == pytest.approx(rosenbrock().obj(stats.solution))


@pytest.mark.parametrize("method", ALL)
def test_non_finite_objective_at_the_start_is_an_exception(method: str) -> None:
    stats = minimize(Poisoned(after=0), method)
    assert stats.status == "exception" and stats.iter == 0
    numpy.testing.assert_array_equal(stats.solution, [-1.2, 1.0])


@pytest.mark.parametrize("method", STOCHASTIC)
def test_non_finite_minibatch_value_keeps_the_last_finite_iterate(method: str) -> None:
    xs = []
    stats = minimize(Poisoned(after=3), method, lr=1e-3, callback=lambda nlp, s, st: xs.append(s.x.copy()))
    assert stats.status == "exception" and "objective" in stats.message
    assert stats.iter == 2 or method == "multibatch_lbfgs"  # its line search evaluates f more than once
    numpy.testing.assert_array_equal(stats.solution, xs[-1])
    assert math.isfinite(stats.objective)


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_non_finite_gradient_at_a_new_iterate_is_an_exception(method: str) -> None:
    xs = []
    nlp = Poisoned(after=3, target="grad")
    stats = minimize(nlp, method, atol=0.0, rtol=0.0, callback=lambda n, s, st: xs.append(s.x.copy()))
    assert stats.status == "exception"
    assert "gradient" in stats.message
    numpy.testing.assert_array_equal(stats.solution, xs[-1])
    assert math.isfinite(stats.objective) and math.isfinite(stats.dual_feas)


def test_minus_infinity_is_unbounded() -> None:
    stats = solvers.sgd(Poisoned(after=2, value=-math.inf), lr=1e-3)
    assert stats.status == "unbounded"
    assert math.isfinite(stats.objective)


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_non_finite_trial_points_are_rejected_not_fatal(method: str) -> None:
    nlp = NanAfterLongSteps((1.0, 10.0, 100.0))
    stats = minimize(nlp, method, x0=numpy.array([-2.0, 1.0, 0.5]), atol=1e-8, rtol=0.0)
    assert stats.status == "first_order"


# -- the iteration table -------------------------------------------------------------------------------------
def test_verbose_prints_a_header_and_every_kth_row(capsys: pytest.CaptureFixture[str]) -> None:
    stats = solvers.trunk(rosenbrock(), verbose=5)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == [
        "iter",
        "f(x)",
        "||g||",
        "radius",
        "ratio",
        "epoch",
        "time",
        "inner",
        "bk",
        "cg_exit",
    ]
    iters = [int(line.split()[0]) for line in lines[1:]]
    assert iters == [*range(0, stats.iter + 1, 5), stats.iter] or iters == list(range(0, stats.iter + 1, 5))
    first = lines[1].split()
    assert first[0] == "0" and float(first[1]) == pytest.approx(24.2)
    assert re.fullmatch(r"\d\.\d{4}e[+-]\d\d", first[1])
    assert first[4] == "-" and first[5] == "-"


@pytest.mark.parametrize(
    ("method", "label"), [("r2", "sigma"), ("lbfgs", "step"), ("adam", "lr"), ("lsr1", "radius")]
)
def test_verbose_names_the_step_column(method: str, label: str, capsys: pytest.CaptureFixture[str]) -> None:
    minimize(rosenbrock(), method, max_iter=3, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[3] == label
    assert len(out) == 1 + 4


def test_silent_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    solvers.lbfgs(rosenbrock())
    assert capsys.readouterr().out == ""


# -- dispatch and bad input ----------------------------------------------------------------------------------
def test_minimize_dispatches_by_name() -> None:
    stats = minimize(rosenbrock(), "trunk")
    assert stats.solver == "trunk" and stats.status == "first_order"


def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match="valid methods: sgd, momentum, nesterov, adagrad, rmsprop, adam, multibatch_lbfgs"
    ):
        minimize(rosenbrock(), "newton")


@pytest.mark.parametrize("method", ALL)
def test_unknown_option_lists_the_valid_ones(method: str) -> None:
    with pytest.raises(TypeError, match=r"unknown option\(s\) max_iters; valid options: .*max_iter"):
        minimize(rosenbrock(), method, max_iters=3)


def test_resample_is_not_an_option_of_stochastic_solvers() -> None:
    with pytest.raises(TypeError, match="resample"):
        solvers.adam(MinibatchLogistic(), resample="iteration")


@pytest.mark.parametrize(
    "options",
    [
        {"max_iter": 0},
        {"max_iter": -3},
        {"max_iter": 2.5},
        {"max_eval": 0},
        {"max_eval": -2},
        {"max_time": 0.0},
        {"max_time": -1.0},
        {"max_epochs": 0},
        {"atol": -1.0},
        {"rtol": math.nan},
        {"verbose": -1},
    ],
)
@pytest.mark.parametrize("method", ["lbfgs", "adam"])
def test_bad_budgets_are_refused_before_any_evaluation(method: str, options: dict) -> None:
    nlp = Quadratic()
    with pytest.raises(ValueError):
        minimize(nlp, method, **options)
    assert nlp.counters.as_dict() == {"neval_obj": 0, "neval_grad": 0, "neval_hprod": 0, "neval_ghprod": 0}


@pytest.mark.parametrize("method", ALL)
def test_bad_x0_is_refused(method: str) -> None:
    nlp = Quadratic()
    with pytest.raises(ValueError, match="shape"):
        minimize(nlp, method, x0=numpy.zeros(4))
    with pytest.raises(ValueError, match="dtype"):
        minimize(nlp, method, x0=numpy.zeros(3, dtype=numpy.float32))
    assert nlp.counters.neval_obj == 0


def test_x0_of_another_backend_is_refused() -> None:
    nlp = Quadratic(backend="array-api-strict")
    with pytest.raises(ValueError, match="backend"):
        solvers.lbfgs(nlp, numpy.zeros(3))


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("sgd", {"lr": 0.0}),
        ("momentum", {"gamma": 1.0}),
        ("adam", {"betas": (0.9,)}),
        ("rmsprop", {"rho": -0.1}),
        ("adagrad", {"eps": 0.0}),
        ("adam", {"clip": -1.0}),
        ("r2", {"gamma2": 0.5}),
        ("lbfgs", {"mem": 0}),
        ("lbfgs", {"line_search": "wolfe"}),
        ("trunk", {"cg_max_iter": 0}),
        ("lsr1", {"mem": -1}),
    ],
)
def test_bad_parameters_are_refused(method: str, params: dict) -> None:
    with pytest.raises(ValueError, match=method):
        minimize(Quadratic(), method, **params)


def test_trunk_without_hprod_suggests_a_quasi_newton_model() -> None:
    with pytest.raises(ValueError, match="LSR1Model"):
        solvers.trunk(NoHessian())
    assert solvers.trunk(LSR1Model(NoHessian())).status == "first_order"
    assert solvers.lsr1(NoHessian()).status == "first_order"


def test_bad_callback_and_eval_every() -> None:
    with pytest.raises(TypeError, match="callback"):
        solvers.lbfgs(Quadratic(), callback=3)
    with pytest.raises(ValueError, match="eval_every"):
        solvers.lbfgs(Quadratic(), eval_every="batch")
    with pytest.raises(ValueError, match="accuracy"):
        solvers.lbfgs(Quadratic(), eval_every=2)
    with pytest.raises(ValueError, match="minibatches"):
        solvers.lbfgs(Quadratic(), max_epochs=3)
    with pytest.raises(ValueError, match="minibatches"):
        solvers.lbfgs(Quadratic(), resample="iteration")


# -- backends and dtypes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL)
def test_every_solver_runs_on_every_backend(method: str, be: backends.Backend) -> None:
    nlp = Quadratic(backend=be.name, dtype="float32")
    lr = {"lr": 0.01} if method in STOCHASTIC else {}
    stats = minimize(nlp, method, max_iter=30, **lr)
    assert be.owns(stats.solution)
    assert stats.solution.dtype == be.xp.float32
    assert stats.status in ("first_order", "max_iter")
    assert stats.objective < 0.0


@pytest.mark.parametrize("method", ALL)
def test_float32_stays_float32(method: str) -> None:
    nlp = Quadratic(dtype="float32")
    lr = {"lr": 0.01} if method in STOCHASTIC else {}
    stats = minimize(nlp, method, max_iter=20, **lr)
    assert stats.solution.dtype == numpy.float32
    assert all(isinstance(v, float) for v in stats.history["f"])


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_float32_first_order_with_default_tolerances(method: str) -> None:
    stats = minimize(Quadratic(dtype="float32"), method)
    assert stats.status == "first_order"
    numpy.testing.assert_allclose(stats.solution, [1.0, 0.1, 0.01], rtol=1e-2)


# -- parameter declarations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL)
def test_every_parameter_is_declared_with_a_check_and_a_doc(method: str) -> None:
    record = solvers.METHODS[method].parameters
    for field in dataclasses.fields(record):
        assert field.metadata["doc"] and isinstance(field.metadata["check"], parameters.Check)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record().__setattr__(dataclasses.fields(record)[0].name, 1)


@pytest.mark.parametrize("method", ALL)
def test_signature_and_docstring_come_from_the_declaration(method: str) -> None:
    record = solvers.METHODS[method].parameters
    function = getattr(solvers, method)
    signature = inspect.signature(function).parameters
    for name, default in parameters.defaults(record).items():
        assert signature[name].default == default
        assert signature[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert ("resample" in signature) == (method in DETERMINISTIC)
    for line in parameters.doc_lines(record):
        assert line in function.__doc__ and line in record.__doc__
    assert "max_epochs" in function.__doc__


def test_a_doc_line_says_meaning_range_default_and_source() -> None:
    adam_lr = "lr: step length; a finite number > 0; default 0.001 (Knet.jl Adam: lr = 0.001)"
    assert adam_lr in solvers.adam.__doc__
    assert "eta1: acceptance threshold of ρ; a number in (0, 1); default eps^(1/4) of the model's dtype" in (
        solvers.r2.__doc__
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_derived_defaults_follow_the_problem(dtype: str) -> None:
    nlp = Quadratic(dtype=dtype)
    eps = float(numpy.finfo(dtype).eps)
    r2 = parameters.checked("r2", solvers.METHODS["r2"].parameters(), nlp.meta)
    assert r2.eta1 == eps**0.25
    lbfgs = parameters.checked("lbfgs", solvers.METHODS["lbfgs"].parameters(), nlp.meta)
    assert lbfgs.tau0 == max(1e-4, math.sqrt(eps))
    trunk = parameters.checked("trunk", solvers.METHODS["trunk"].parameters(), nlp.meta)
    assert trunk.cg_max_iter == 50


def test_a_bound_may_name_another_parameter() -> None:
    with pytest.raises(ValueError, match=r"r2: eta2 must be a number in \(eta1 = 0.5, 1\), got 0.4"):
        solvers.r2(Quadratic(), eta1=0.5, eta2=0.4)
    with pytest.raises(ValueError, match=r"lbfgs: tau1 must be a number in \(tau0 = 0.01, 1\), got 0.001"):
        solvers.lbfgs(Quadratic(), tau0=0.01, tau1=0.001)


def test_checked_values_are_plain_python_values() -> None:
    nlp = Quadratic()
    record = parameters.checked("adam", solvers.METHODS["adam"].parameters(betas=[0.8, 0.9], lr=1), nlp.meta)
    assert record.betas == (0.8, 0.9) and isinstance(record.lr, float)


def test_every_declaration_is_complete() -> None:
    with pytest.raises(TypeError, match="declare b with parameter"):

        @parameters.declared
        class Incomplete:
            a: int = parameter_a()
            b: int = 3


def parameter_a():
    return parameters.parameter(1, "a", parameters.Integer(0))


# -- SciPy's result names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lbfgs", "trunk", "adam"])
def test_stats_answer_scipy_result_names(method: str) -> None:
    nlp = Quadratic()
    options = {"lr": 0.01, "max_iter": 5} if method in STOCHASTIC else {}
    stats = minimize(nlp, method, **options)
    assert stats.x is stats.solution
    assert stats.fun == stats.objective == pytest.approx(nlp.obj(stats.x))
    numpy.testing.assert_allclose(stats.jac, nlp.grad(stats.x))
    assert stats.nit == stats.iter
    assert stats.nfev == stats.counters["neval_obj"] > 0
    assert stats.success == (stats.status == "first_order") == (method != "adam")


def test_success_is_false_on_a_spent_budget_as_in_scipy() -> None:
    stats = solvers.lbfgs(rosenbrock(), max_iter=2)
    assert stats.status == "max_iter" and not stats.success


# -- the minibatch interface ---------------------------------------------------------------------------------
def test_minibatch_models_are_told_apart_by_the_protocol() -> None:
    assert Batches(MinibatchLogistic()).minibatched and Batches(MinibatchLogistic()).has_accuracy
    assert Batches(LSR1Model(MinibatchLogistic())).minibatched
    fixed = Batches(Quadratic())
    assert not fixed.minibatched and not fixed.has_accuracy
    assert fixed.version == 0 and fixed.epoch is None and not fixed.advance()


@pytest.mark.parametrize("method", DETERMINISTIC)
def test_objective_that_turns_nan_is_an_exception(method: str) -> None:
    xs = []
    stats = minimize(
        Poisoned(after=3), method, atol=0.0, rtol=0.0, callback=lambda n, s, st: xs.append(s.x.copy())
    )
    assert stats.status == "exception" and "objective" in stats.message
    numpy.testing.assert_array_equal(stats.solution, xs[-1])
    assert math.isfinite(stats.objective)


# -- the gradient test: 0 means off; stochastic solvers on minibatches test only when asked ------------------
@pytest.mark.parametrize("method", DETERMINISTIC)
def test_zero_tolerances_turn_the_gradient_test_off(method: str) -> None:
    start = numpy.array([1.0, 0.5, 0.25])  # the exact minimiser: ∇f(x0) = 0 in floating point
    assert minimize(Quadratic((1.0, 2.0, 4.0)), method, x0=start, max_iter=3).status == "first_order"
    stats = minimize(Quadratic((1.0, 2.0, 4.0)), method, x0=start, atol=0.0, rtol=0.0, max_iter=3)
    assert stats.status in ("small_step", "not_desc") and stats.dual_feas == 0.0  # the method's own stop


@pytest.mark.parametrize("method", STOCHASTIC)
def test_stochastic_solvers_on_minibatches_test_the_gradient_only_when_asked(method: str) -> None:
    huge = {"atol": 1e3}  # any minibatch gradient passes this test
    assert solvers.minimize(MinibatchLogistic(), method, max_iter=4).status == "max_iter"
    assert solvers.minimize(MinibatchLogistic(), method, max_iter=4, **huge).status == "first_order"
    assert solvers.minimize(Quadratic(), method, max_iter=4, **huge).status == "first_order"


@pytest.mark.parametrize(
    ("atol", "rtol", "explicit", "stochastic", "on"),
    [
        (1e-4, 1e-4, False, False, True),
        (1e-4, 1e-4, False, True, False),
        (1e-4, 1e-4, True, True, True),
        (0.0, 0.0, True, False, False),
        (0.0, 1e-4, True, True, True),
    ],
)
def test_when_the_gradient_test_runs(
    atol: float, rtol: float, explicit: bool, stochastic: bool, on: bool
) -> None:
    assert Budget(atol=atol, rtol=rtol).gradient_test(explicit, stochastic=stochastic) is on


def test_the_solver_docstrings_say_when_the_gradient_test_is_off() -> None:
    assert "off on a minibatch model unless atol or rtol is given" in solvers.adam.__doc__
    assert "atol = rtol = 0 turns it off" in solvers.lbfgs.__doc__


def test_an_interrupt_inside_a_history_row_leaves_no_half_row():
    class InterruptedColumn(list):
        def append(self, value):
            raise KeyboardInterrupt

    history = solvers.History(extra=("cg",))
    history.append(iter=0, f=1.0)
    history._data["time"] = InterruptedColumn(history["time"])
    with pytest.raises(KeyboardInterrupt):
        history.append(iter=1, f=0.5, cg=3)
    assert {len(history[name]) for name in history.columns} == {1}
    assert history["iter"] == [0] and history["f"] == [1.0]
