"""The policies in runner/schedules.py: against Smith's formula, bckenstler's numbers, torch's schedulers, the real
YAML files, and every rejected value. Pure numbers; torch only drives its own schedulers for comparison.

    pytest tests/schedules/test_policies.py -q
"""

from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from runner.errors import ConfigError
from runner.schedules import SCHEDULES, build_schedule, cycle_of, scale_fns, triangle
from support import CONF

CONF_DIR = CONF
SCHEDULE_FILES = sorted(p.stem for p in (CONF_DIR / "schedule").glob("*.yaml"))
TOL = 1e-9


def smith(it: int, base_lr: float, max_lr: float, step_size: int, scale) -> float:
    """Smith's formula, written out again on purpose."""
    cycle = math.floor(1 + it / (2 * step_size))
    x = abs(it / step_size - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale(cycle, it)


def torch_sequence(make, steps: int, optimizer: str = "sgd", lr: float = 0.1):
    """(lrs, momenta) a torch scheduler gives per optimizer step: the value used by step it, for it < steps."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = (
        torch.optim.SGD([param], lr=lr, momentum=0.9)
        if optimizer == "sgd"
        else torch.optim.Adam([param], lr=lr, betas=(0.9, 0.999))
    )
    sched = make(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        momenta.append(group["betas"][0] if "betas" in group else group["momentum"])
        opt.step()
        sched.step()
    return lrs, momenta


def ours(policy, steps: int):
    return [policy.lr_at(i) for i in range(steps)], [policy.momentum_at(i) for i in range(steps)]


def assert_close(got, want):
    assert len(got) == len(want)
    worst = max(abs(g - w) for g, w in zip(got, want))
    assert worst <= TOL, worst


# ---- Smith's formula and bckenstler's numbers -----------------------------------------------------------------
@pytest.mark.parametrize(
    "name, scale",
    [
        ("triangular", lambda c, it: 1.0),
        ("triangular2", lambda c, it: 1 / 2 ** (c - 1)),
        ("exp_range", lambda c, it: 0.9995**it),
    ],
)
def test_clr_family_follows_design_formula(name, scale):
    policy = build_schedule(
        {
            "name": name,
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size": 37,
            **({"gamma": 0.9995} if name == "exp_range" else {}),
        }
    )
    for it in range(1000):
        assert abs(policy.lr_at(it) - smith(it, 0.01, 0.1, 37, scale)) <= 1e-12
        assert policy.cycle(it) == math.floor(1 + it / 74)


def test_bckenstler_numbers_by_hand():
    # base 0.001, max 0.006, step 20: cycles of 40 steps; amplitude 0.005, halved per cycle for triangular2.
    tri2 = build_schedule({"name": "triangular2", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20})
    by_hand = {
        0: 0.001,
        10: 0.0035,
        20: 0.006,
        30: 0.0035,
        40: 0.001,  # cycle 1, full amplitude
        50: 0.00225,
        60: 0.0035,
        80: 0.001,  # cycle 2: 0.001 + 0.0025 * triangle
        90: 0.001625,
        100: 0.00225,
        120: 0.001,
    }  # cycle 3: 0.001 + 0.00125 * triangle
    for it, lr in by_hand.items():
        assert abs(tri2.lr_at(it) - lr) <= 1e-15, it
    tri = build_schedule({"name": "triangular", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20})
    assert [round(tri.lr_at(i), 6) for i in (0, 5, 20, 35, 60, 100)] == [0.001, 0.00225, 0.006, 0.00225, 0.006, 0.006]
    exp = build_schedule({"name": "exp_range", "base_lr": 0.001, "max_lr": 0.006, "step_size": 20, "gamma": 0.99994})
    assert abs(exp.lr_at(20) - (0.001 + 0.005 * 0.99994**20)) <= 1e-15
    assert abs(exp.lr_at(70) - (0.001 + 0.005 * 0.5 * 0.99994**70)) <= 1e-15


def test_exp_range_bounds_formula():
    policy = build_schedule(
        {"name": "exp_range_bounds", "base_lr": 0.01, "max_lr": 0.1, "step_size": 50, "gamma": 0.998}
    )
    for it in range(600):
        # both bounds decay: base_lr * g**it + (max_lr * g**it - base_lr * g**it) * triangle
        lo, hi = 0.01 * 0.998**it, 0.1 * 0.998**it
        want = lo + (hi - lo) * max(0.0, 1 - abs(it / 50 - 2 * math.floor(1 + it / 100) + 1))
        assert abs(policy.lr_at(it) - want) <= 1e-15
    assert policy.lr_at(100) == pytest.approx(0.01 * 0.998**100)  # a cycle end sits on the decayed lower bound


def test_asymmetric_triangle_by_hand():
    assert [triangle(i, 2, 4) for i in range(7)] == [0, 0.5, 1, 0.75, 0.5, 0.25, 0]
    assert [cycle_of(i, 2, 4) for i in (0, 5, 6, 11, 12)] == [1, 1, 2, 2, 3]
    assert triangle(3, 4) == triangle(3, 4, 4) == 0.75  # symmetric by default


# ---- torch's schedulers, to 1e-9 -------------------------------------------------------------------------------
CYCLIC_CASES = [  # (our config, torch CyclicLR kwargs)
    ({"name": "triangular"}, {"mode": "triangular"}),
    ({"name": "triangular2"}, {"mode": "triangular2"}),
    ({"name": "exp_range", "gamma": 0.998}, {"mode": "exp_range", "gamma": 0.998}),
    (
        {"name": "clr", "scale_fn": "exp_gamma", "gamma": 0.7, "scale_mode": "cycle"},
        {"scale_fn": lambda x: 0.7**x, "scale_mode": "cycle"},
    ),
    (
        {"name": "clr", "scale_fn": "exp_gamma", "gamma": 0.999, "scale_mode": "iterations"},
        {"scale_fn": lambda x: 0.999**x, "scale_mode": "iterations"},
    ),
    (
        {"name": "clr", "scale_fn": "halve_per_cycle", "scale_mode": "cycle"},
        {"scale_fn": lambda x: 1 / 2.0 ** (x - 1), "scale_mode": "cycle"},
    ),
]


@pytest.mark.parametrize("ours_cfg, torch_kwargs", CYCLIC_CASES, ids=lambda v: str(v.get("name", v.get("mode"))))
@pytest.mark.parametrize("up, down", [(25, None), (10, 30), (33, 7)])
@pytest.mark.parametrize("cycle_momentum", [False, True])
def test_cyclic_matches_torch_cycliclr(ours_cfg, torch_kwargs, up, down, cycle_momentum):
    steps = 5 * (up + (down or up)) + 3  # five cycles and a bit
    policy = build_schedule(
        {
            **ours_cfg,
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size": up,
            "step_size_down": down,
            "cycle_momentum": cycle_momentum,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        }
    )
    want_lr, want_m = torch_sequence(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=0.01,
            max_lr=0.1,
            step_size_up=up,
            step_size_down=down,
            cycle_momentum=cycle_momentum,
            base_momentum=0.8,
            max_momentum=0.9,
            **torch_kwargs,
        ),
        steps,
    )
    got_lr, got_m = ours(policy, steps)
    assert_close(got_lr, want_lr)
    if cycle_momentum:
        assert_close(got_m, want_m)
    else:
        assert got_m == [None] * steps


def test_exp_range_bounds_differs_from_torch_exp_range():
    # The two meanings of exp_range agree at step 0 and part ways once gamma**it bites on base_lr.
    amp = build_schedule({"name": "exp_range", "base_lr": 0.01, "max_lr": 0.1, "step_size": 50, "gamma": 0.99})
    bounds = build_schedule(
        {"name": "exp_range_bounds", "base_lr": 0.01, "max_lr": 0.1, "step_size": 50, "gamma": 0.99}
    )
    assert amp.lr_at(0) == bounds.lr_at(0) == 0.01
    assert amp.lr_at(100) == pytest.approx(0.01) and bounds.lr_at(100) == pytest.approx(0.01 * 0.99**100)


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("total, pct", [(1080, 0.3), (101, 0.25), (500, 0.45)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_one_cycle_matches_torch_onecyclelr(three_phase, anneal, total, pct, optimizer):
    policy = build_schedule(
        {
            "name": "one_cycle",
            "max_lr": 0.1,
            "pct_start": pct,
            "anneal_strategy": anneal,
            "div_factor": 25.0,
            "final_div_factor": 1e4,
            "three_phase": three_phase,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        }
    ).resolve(45, total)
    assert policy.total_steps == total  # null means the run's length, given by resolve
    want_lr, want_m = torch_sequence(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.1,
            total_steps=total,
            pct_start=pct,
            anneal_strategy=anneal,
            three_phase=three_phase,
            div_factor=25.0,
            final_div_factor=1e4,
            base_momentum=0.85,
            max_momentum=0.95,
        ),
        total,
        optimizer,
    )
    got_lr, got_m = ours(policy, total)
    assert_close(got_lr, want_lr)
    assert_close(got_m, want_m)
    assert policy.lr_at(total + 50) == policy.lr_at(total - 1)  # past the end the last LR holds


@pytest.mark.parametrize("T_0, T_mult, eta_min", [(10, 1, 0.0), (7, 2, 0.001), (5, 3, 0.01)])
def test_sgdr_matches_torch_cosine_warm_restarts(T_0, T_mult, eta_min):
    steps = 400
    policy = build_schedule({"name": "sgdr", "max_lr": 0.1, "eta_min": eta_min, "T_0": T_0, "T_mult": T_mult})
    want_lr, _ = torch_sequence(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min),
        steps,
        lr=0.1,
    )
    assert_close(ours(policy, steps)[0], want_lr)
    assert policy.momentum_at(5) is None


def test_sgdr_cycles_and_cycle_ends():
    policy = build_schedule({"name": "sgdr", "max_lr": 0.1, "T_0": 72, "T_mult": 2})
    assert policy.cycle_length() is None
    assert policy.cycle_ends(1080) == [72, 216, 504, 1080]  # 72 + 144 + 288 + 576 = 1,080: the default run
    assert [policy.cycle(i) for i in (0, 71, 72, 215, 216)] == [1, 1, 2, 2, 3]
    tri = build_schedule({"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": 180})
    assert tri.cycle_ends(1080) == [360, 720, 1080]


# ---- controls and baselines ------------------------------------------------------------------------------------
def test_linear_decay_defaults_to_the_run_and_holds_base_lr():
    policy = build_schedule({"name": "linear_decay", "max_lr": 0.1, "base_lr": 0.01}).resolve(45, 1080)
    assert policy.lr_at(0) == 0.1 and policy.lr_at(540) == pytest.approx(0.055)
    assert policy.lr_at(1080) == pytest.approx(0.01) and policy.lr_at(5000) == pytest.approx(0.01)
    smith_row = build_schedule({"name": "linear_decay", "max_lr": 0.1, "base_lr": 0.01, "step_size_epochs": 4})
    smith_row = smith_row.resolve(45, 1080)
    assert smith_row.step_size == 180 and smith_row.lr_at(90) == pytest.approx(0.055)
    assert smith_row.lr_at(500) == pytest.approx(0.01)


def test_fixed_step_decay():
    every = build_schedule({"name": "fixed", "lr": 0.1, "drop": 0.5, "drop_every": 100})
    assert [every.lr_at(i) for i in (0, 99, 100, 250)] == [0.1, 0.1, 0.05, 0.025]
    at = build_schedule({"name": "fixed", "lr": 0.1, "drop": 0.1, "drop_at_epochs": [12, 18]}).resolve(45, 1080)
    assert at.drop_at == [540, 810]
    assert [at.lr_at(i) for i in (539, 540, 809, 810)] == pytest.approx([0.1, 0.01, 0.01, 0.001])
    every_epochs = build_schedule({"name": "fixed", "lr": 0.1, "drop_every_epochs": 2.0}).resolve(45, 1080)
    assert every_epochs.drop_every == 90


def test_a_length_in_steps_wins_over_the_same_length_in_epochs():
    # The defaults are in epochs (Smith's advice travels across datasets); a length in steps is the user's own.
    tri = build_schedule({"name": "triangular", "step_size": 20})
    assert tri.step_size_epochs == 4.0 and tri.ignored_keys() == ["schedule.step_size_epochs"]
    assert tri.resolve(45, 1080).cycle_length() == 40
    assert build_schedule({"name": "triangular"}).resolve(45, 1080).step_size == 180
    assert build_schedule({"name": "triangular"}).ignored_keys() == []
    sgdr = build_schedule({"name": "sgdr", "T_0": 10})
    assert sgdr.ignored_keys() == ["schedule.T_0_epochs"] and sgdr.resolve(45, 1080).T_0 == 10
    fixed = build_schedule({"name": "fixed", "drop_every": 100, "drop_at_epochs": [3.0]})
    assert fixed.ignored_keys() == ["schedule.drop_at_epochs", "schedule.drop_at_fractions"]
    assert fixed.resolve(45, 1080).drop_at is None and fixed.resolve(45, 1080).drop_every == 100


def test_fixed_drops_at_fractions_of_the_run_by_default():
    assert build_schedule({"name": "fixed"}).resolve(45, 1080).drop_at == [540, 810]  # epochs 12 and 18 of 24
    assert build_schedule({"name": "fixed"}).resolve(469, 3752).drop_at == [1876, 2814]


def test_step_sizes_in_epochs_resolve_for_every_length():
    policy = build_schedule(
        {
            "name": "clr",
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_epochs": 2,
            "step_size_down_epochs": 6,
            "scale_fn": "one",
        }
    ).resolve(45, 1080)
    assert (policy.step_size, policy.step_size_down, policy.cycle_length()) == (90, 270, 360)
    sgdr = build_schedule({"name": "sgdr", "max_lr": 0.1, "T_0": None, "T_0_epochs": 1.6}).resolve(45, 1080)
    assert sgdr.T_0 == 72


# ---- scale functions by name -----------------------------------------------------------------------------------
@pytest.fixture
def clean_registry():
    saved = set(scale_fns.SCALE_FNS.names())
    yield
    for name in set(scale_fns.SCALE_FNS.names()) - saved:
        scale_fns.SCALE_FNS.remove(name)


def test_user_scale_fn_from_a_module_is_selectable(clean_registry):
    module = types.ModuleType("user_scales")
    exec(
        "from runner.schedules.scale_fns import register_scale_fn\n"
        "@register_scale_fn('inverse_cycle', modes=('cycle',))\n"
        "def inverse_cycle(x, gamma):\n    return 1.0 / x\n",
        module.__dict__,
    )
    policy = build_schedule(
        {"name": "clr", "base_lr": 0.01, "max_lr": 0.1, "step_size": 10, "scale_fn": "inverse_cycle"}
    )
    assert policy.lr_at(10) == pytest.approx(0.1) and policy.lr_at(30) == pytest.approx(0.01 + 0.09 / 2)
    with pytest.raises(
        ConfigError,
        match=r"^schedule\.scale_mode='iterations': scale_fn 'inverse_cycle' is meant "
        r"for scale_mode=cycle$",
    ):
        build_schedule(
            {
                "name": "clr",
                "base_lr": 0.01,
                "max_lr": 0.1,
                "step_size": 10,
                "scale_fn": "inverse_cycle",
                "scale_mode": "iterations",
            }
        )


class FakeEntryPoint:
    def __init__(self, name, value, obj):
        self.name, self.value, self.obj, self.loads = name, value, obj, 0

    def load(self):
        self.loads += 1
        if isinstance(self.obj, Exception):
            raise self.obj
        return self.obj


def test_entry_point_scale_fn_is_found_lazily(clean_registry, monkeypatch):
    import importlib.metadata

    ep = FakeEntryPoint("quarter", "mypkg.scales:quarter", lambda x, gamma: 0.25)
    broken = FakeEntryPoint("broken", "mypkg.broken:fn", ImportError("No module named 'mypkg'"))
    calls = []

    def entry_points(**kwargs):
        calls.append(kwargs)
        return [ep, broken] if kwargs.get("group") == "clr_lab.scale_fns" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    build_schedule({"name": "clr", "base_lr": 0.01, "max_lr": 0.1, "step_size": 10, "scale_fn": "one"})
    assert ep.loads == 0  # a known name never touches entry points
    policy = build_schedule({"name": "clr", "base_lr": 0.01, "max_lr": 0.1, "step_size": 10, "scale_fn": "quarter"})
    assert ep.loads == 1 and policy.lr_at(10) == pytest.approx(0.01 + 0.09 * 0.25)
    assert calls and calls[0] == {"group": "clr_lab.scale_fns"}
    with pytest.raises(
        ConfigError,
        match=r"^schedule\.scale_fn='broken': entry point 'mypkg.broken:fn' .*"
        r"ImportError: No module named 'mypkg'$",
    ):
        build_schedule({"name": "clr", "base_lr": 0.01, "max_lr": 0.1, "step_size": 10, "scale_fn": "broken"})
    with pytest.raises(ConfigError) as err:
        build_schedule({"name": "clr", "base_lr": 0.01, "max_lr": 0.1, "step_size": 10, "scale_fn": "nope"})
    assert "allowed: broken, exp_gamma, halve_per_cycle, one, quarter " in str(err.value)


def test_unknown_scale_fn_is_one_line_naming_the_key():
    with pytest.raises(ConfigError) as err:
        build_schedule(
            {
                "name": "clr",
                "base_lr": 0.01,
                "max_lr": 0.1,
                "step_size": 10,
                "scale_fn": "__import__('os').system('echo hi')",
            }
        )
    message = str(err.value)
    assert message.startswith(
        "schedule.scale_fn=\"__import__('os').system('echo hi')\": unknown scale function; "
        "allowed: exp_gamma, halve_per_cycle, one"
    )
    assert "\n" not in message


# ---- every rejected value names its key ------------------------------------------------------------------------
CLR = {"base_lr": 0.01, "max_lr": 0.1, "step_size": 10}
REJECTED = [  # (name, overrides, the key the one-line message starts with)
    ("constant", {"lr": 0.0}, "schedule.lr=0.0"),
    ("constant", {"lr": float("inf")}, "schedule.lr=inf"),
    ("triangular", {**CLR, "base_lr": -1.0}, "schedule.base_lr=-1.0"),
    ("triangular", {**CLR, "max_lr": 0.0}, "schedule.max_lr=0.0"),
    ("triangular", {**CLR, "base_lr": 0.2}, "schedule.base_lr=0.2: must be below schedule.max_lr=0.1"),
    ("triangular", {**CLR, "step_size": 0}, "schedule.step_size=0"),
    (
        "triangular",
        {**CLR, "step_size": None, "step_size_epochs": None},
        "schedule.step_size=None, schedule.step_size_epochs=None: must set one of the two",
    ),
    ("triangular", {**CLR, "step_size": None, "step_size_epochs": -2.0}, "schedule.step_size_epochs=-2.0"),
    ("triangular", {**CLR, "step_size_down": 0}, "schedule.step_size_down=0"),
    ("triangular", {**CLR, "step_size_down_epochs": 0.0}, "schedule.step_size_down_epochs=0.0"),
    ("triangular", {**CLR, "base_momentum": 0.95}, "schedule.base_momentum=0.95: must not exceed"),
    ("triangular", {**CLR, "max_momentum": 1.0}, "schedule.max_momentum=1.0: must be in [0, 1)"),
    ("triangular", {**CLR, "base_momentum": -0.1}, "schedule.base_momentum=-0.1"),
    (
        "triangular2",
        {**CLR, "scale_mode": "iterations"},
        "schedule.scale_mode='iterations': scale_fn 'halve_per_cycle' is meant for scale_mode=cycle; evaluated per "
        "iteration it halves the amplitude at every step",
    ),
    ("triangular2", {**CLR, "scale_mode": "epoch"}, "schedule.scale_mode='epoch': must be one of cycle, iterations"),
    ("exp_range", {**CLR, "gamma": 1.5}, "schedule.gamma=1.5: must be in (0, 1]"),
    ("exp_range", {**CLR, "gamma": 0.0}, "schedule.gamma=0.0: must be in (0, 1]"),
    ("exp_range", {**CLR, "scale_mode": "cycles"}, "schedule.scale_mode='cycles'"),
    ("exp_range_bounds", {**CLR, "gamma": 2.0}, "schedule.gamma=2.0: must be in (0, 1]"),
    ("clr", {**CLR, "scale_fn": "halve_per_cycle", "scale_mode": "iterations"}, "schedule.scale_mode='iterations'"),
    ("clr", {**CLR, "scale_fn": "cosine"}, "schedule.scale_fn='cosine': unknown scale function"),
    ("clr", {**CLR, "gamma": -0.5}, "schedule.gamma=-0.5"),
    ("one_cycle", {"max_lr": -0.1}, "schedule.max_lr=-0.1"),
    ("one_cycle", {"total_steps": 1}, "schedule.total_steps=1"),
    ("one_cycle", {"pct_start": 0.0}, "schedule.pct_start=0.0: must be in (0, 1)"),
    ("one_cycle", {"pct_start": 1.0}, "schedule.pct_start=1.0: must be in (0, 1)"),
    ("one_cycle", {"pct_start": 0.5, "three_phase": True}, "schedule.pct_start=0.5: must be below 0.5"),
    ("one_cycle", {"total_steps": 3, "pct_start": 0.3}, "schedule.pct_start=0.3: with total_steps=3"),
    ("one_cycle", {"anneal_strategy": "cosine"}, "schedule.anneal_strategy='cosine': must be one of cos, linear"),
    ("one_cycle", {"div_factor": 0.5}, "schedule.div_factor=0.5: must be in [1, inf)"),
    ("one_cycle", {"final_div_factor": 0.0}, "schedule.final_div_factor=0.0"),
    ("one_cycle", {"base_momentum": 0.99}, "schedule.base_momentum=0.99: must not exceed"),
    ("sgdr", {"max_lr": 0.0}, "schedule.max_lr=0.0"),
    ("sgdr", {"eta_min": 0.5}, "schedule.eta_min=0.5"),
    ("sgdr", {"eta_min": -0.1}, "schedule.eta_min=-0.1"),
    ("sgdr", {"T_0": 0}, "schedule.T_0=0"),
    ("sgdr", {"T_0": None, "T_0_epochs": None}, "schedule.T_0=None, schedule.T_0_epochs=None: must set one of the two"),
    ("sgdr", {"T_mult": 0}, "schedule.T_mult=0"),
    ("sgdr", {"T_mult": 1.5}, "schedule.T_mult=1.5: must be an integer"),
    ("linear_decay", {"base_lr": 0.5, "max_lr": 0.1}, "schedule.base_lr=0.5: must not exceed"),
    ("linear_decay", {"step_size": 0}, "schedule.step_size=0"),
    ("fixed", {"lr": 0.0, "drop_every": 5}, "schedule.lr=0.0"),
    ("fixed", {"drop": 0.0, "drop_every": 5}, "schedule.drop=0.0: must be in (0, 1]"),
    ("fixed", {"drop": 1.5, "drop_every": 5}, "schedule.drop=1.5"),
    ("fixed", {"drop_at_fractions": None}, "schedule.drop_at_fractions=None: must say where the LR drops"),
    ("fixed", {"drop_every": 5, "drop_at": [10]}, "schedule.drop_every=5, schedule.drop_at=[10]: must set at most one"),
    (
        "fixed",
        {"drop_every_epochs": 2.0, "drop_at_epochs": [3.0]},
        "schedule.drop_every_epochs=2.0, schedule.drop_at_epochs",
    ),
    ("fixed", {"drop_at_fractions": [0.5, 1.0]}, "schedule.drop_at_fractions=[0.5, 1.0]: must be fractions of the run"),
    ("fixed", {"drop_every": 0}, "schedule.drop_every=0"),
    ("fixed", {"drop_every_epochs": -1.0}, "schedule.drop_every_epochs=-1.0"),
    ("fixed", {"drop_at": [20, 10]}, "schedule.drop_at=[20, 10]: must be a non-empty, increasing list"),
    ("fixed", {"drop_at": []}, "schedule.drop_at=[]"),
    ("fixed", {"drop_at_epochs": [0.0, 3.0]}, "schedule.drop_at_epochs=[0.0, 3.0]"),
    ("fixed", {"drop_at": 10}, "schedule.drop_at=10: must be a list"),
    ("nope", {}, "schedule.name='nope': unknown schedule; allowed: clr, constant, exp_range"),
]


@pytest.mark.parametrize("name, overrides, starts", REJECTED, ids=[f"{n}-{s.split('=')[0]}" for n, _, s in REJECTED])
def test_rejected_values_name_the_key(name, overrides, starts):
    with pytest.raises(ConfigError) as err:
        build_schedule({"name": name, **overrides})
    message = str(err.value)
    assert message.startswith(starts), message
    assert "\n" not in message


def test_one_cycle_too_short_for_the_run_is_refused_at_resolve():
    policy = build_schedule({"name": "one_cycle", "max_lr": 0.1, "pct_start": 0.3})
    with pytest.raises(ConfigError, match=r"^schedule\.pct_start=0\.3: with total_steps=3 "):
        policy.resolve(45, 3)


def test_unresolved_lengths_say_what_to_call():
    policy = build_schedule(
        {"name": "triangular", "base_lr": 0.01, "max_lr": 0.1, "step_size": None, "step_size_epochs": 4}
    )
    with pytest.raises(ValueError, match="resolve"):
        policy.lr_at(0)
    with pytest.raises(ValueError, match="resolve"):
        build_schedule({"name": "one_cycle"}).lr_at(0)


# ---- the real YAML files, composed by Hydra -------------------------------------------------------------------
def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from runner.config import validate

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return validate(hydra_compose(config_name="config", overrides=overrides))


def test_every_policy_has_a_yaml_file():
    assert set(SCHEDULE_FILES) == set(SCHEDULES)


@pytest.mark.parametrize("name", SCHEDULE_FILES)
def test_every_schedule_file_composes_validates_and_runs(name):
    schedule = compose([f"schedule={name}"]).schedule.resolve(45, 1080)
    lrs = [schedule.lr_at(i) for i in range(1080)]
    momenta = [schedule.momentum_at(i) for i in range(1080)]
    assert all(math.isfinite(lr) and lr > 0 for lr in lrs)
    assert all(m is None or (math.isfinite(m) and 0 <= m < 1) for m in momenta)
    assert all(isinstance(schedule.cycle(i), int) for i in range(0, 1080, 45))


def test_schedule_file_overrides_keep_working():
    assert compose(["schedule=triangular", "schedule.step_size=20"]).schedule.cycle_length() == 40
    schedule = compose(["schedule=triangular2", "schedule.step_size=null", "schedule.step_size_epochs=4"]).schedule
    assert schedule.resolve(45, 1080).step_size == 180
    one = compose(["schedule=one_cycle", "schedule.three_phase=true"]).schedule.resolve(45, 200)
    assert one.total_steps == 200
    with pytest.raises(ConfigError, match=r"^schedule\.scale_mode='iterations'"):
        compose(["schedule=triangular2", "schedule.scale_mode=iterations"])


def test_user_scale_fn_selectable_from_the_config(clean_registry):
    scale_fns.register_scale_fn("flat_half")(lambda x, gamma: 0.5)
    schedule = compose(["schedule=clr", "schedule.scale_fn=flat_half"]).schedule.resolve(45, 1080)
    assert schedule.lr_at(180) == pytest.approx(0.01 + 0.09 * 0.5)  # the peak: 4 epochs of 45 steps
    with pytest.raises(ConfigError, match=r"^schedule\.scale_fn='flat_quarter': unknown scale function"):
        compose(["schedule=clr", "schedule.scale_fn=flat_quarter"])


def test_schedules_module_imports_neither_torch_nor_hydra():
    import subprocess

    code = (
        "import sys, runner.schedules, runner.schedules.scale_fns; "
        "print(any(m.split('.')[0] in ('torch', 'hydra') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CONF.parent)
    assert out.stdout.strip() == "False"


def test_fixed_matches_torch_step_and_multistep():
    every = build_schedule({"name": "fixed", "lr": 0.1, "drop": 0.5, "drop_every": 30})
    want, _ = torch_sequence(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.5), 200)
    assert_close(ours(every, 200)[0], want)
    at = build_schedule({"name": "fixed", "lr": 0.1, "drop": 0.1, "drop_at": [50, 120, 121]})
    want, _ = torch_sequence(lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [50, 120, 121], gamma=0.1), 200)
    assert_close(ours(at, 200)[0], want)
