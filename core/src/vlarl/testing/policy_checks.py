"""Conformance checks for chunked policies."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from vlarl.contracts.dataset import DemoBatch
from vlarl.contracts.observation import ObsBatch
from vlarl.contracts.policy import ActOutput, ChunkedPolicy
from vlarl.contracts.spaces import ObservationSpec
from vlarl.testing.report import Report, SkipCheck, expect
from vlarl.testing.synth import synthetic_obs

LOGPROB_RANK = {"token": 3, "action": 2, "chunk": 1}


def expected_logprob_shape(policy: ChunkedPolicy, n: int, lp: torch.Tensor) -> tuple[int, ...]:
    c = policy.action_chunk
    return {"token": (n, c, lp.shape[-1] if lp.ndim == 3 else -1), "action": (n, c), "chunk": (n,)}[policy.logprob_type]


def _check_act(policy: ChunkedPolicy, out: ActOutput, n: int) -> str:
    c, a = policy.action_chunk, policy.action_dim
    expect(isinstance(out, ActOutput), f"act must return ActOutput, got {type(out).__name__}")
    expect(tuple(out.actions.shape) == (n, c, a), f"actions shape {tuple(out.actions.shape)} != {(n, c, a)}")
    expect(out.actions.dtype == torch.float32, f"actions dtype {out.actions.dtype} != float32")
    expect(bool(torch.isfinite(out.actions).all()), "actions have NaN or inf")
    expect(policy.logprob_type in LOGPROB_RANK, f"logprob_type {policy.logprob_type!r} is not token/action/chunk")
    lp = out.log_probs
    expect(
        tuple(lp.shape) == expected_logprob_shape(policy, n, lp),
        f"log_probs shape {tuple(lp.shape)} does not fit logprob_type={policy.logprob_type!r} ({expected_logprob_shape(policy, n, lp)})",
    )
    expect(
        bool(torch.isfinite(lp).all()) and bool((lp <= 1e-4).all() or policy.logprob_type != "token"),
        "log_probs must be finite (and <= 0 for token probabilities)",
    )
    if policy.has_critic:
        expect(out.values is not None, "has_critic=True but act returned values=None")
        shape = (n,) if policy.value_type == "chunk" else (n, c)
        expect(
            tuple(out.values.shape) == shape,
            f"values shape {tuple(out.values.shape)} != {shape} for value_type={policy.value_type!r}",
        )
    else:
        expect(out.values is None, "has_critic=False but act returned values")
    for key, value in out.replay.items():
        expect(isinstance(value, torch.Tensor), f"replay['{key}'] must be a tensor (the buffer stacks them)")
        expect(value.shape[0] == n, f"replay['{key}'] must have leading dim N={n}, got {tuple(value.shape)}")
    return f"actions {tuple(out.actions.shape)}, log_probs {tuple(lp.shape)} ({policy.logprob_type})"


def _agreement(policy: ChunkedPolicy, obs: ObsBatch, atol: float) -> str:
    policy.eval()
    out = policy.act(obs)
    ev = policy.evaluate(out.replay)
    expect(
        ev.log_probs.shape == out.log_probs.shape,
        f"evaluate log_probs shape {tuple(ev.log_probs.shape)} != act's {tuple(out.log_probs.shape)}",
    )
    err = (ev.log_probs.detach().float() - out.log_probs.float()).abs().max().item()
    expect(err <= atol, f"evaluate(replay) log_probs differ from act's by {err:.3g} > {atol:g} at unchanged weights")
    expect(ev.entropy.shape == ev.log_probs.shape, f"entropy shape {tuple(ev.entropy.shape)} != log_probs shape")
    expect(bool(torch.isfinite(ev.entropy).all()), "entropy has NaN or inf")
    if policy.has_critic and out.values is not None:
        verr = (ev.values.detach() - out.values).abs().max().item()
        expect(verr <= max(atol, 1e-4), f"evaluate values differ from act's by {verr:.3g}")
    return f"max |Δ log_prob| = {err:.2g}"


def _gradients(policy: ChunkedPolicy, obs: ObsBatch, allow_unused: Iterable[str]) -> str:
    policy.train()
    policy.zero_grad(set_to_none=True)
    out = policy.act(obs)
    ev = policy.evaluate(out.replay)
    expect(ev.log_probs.requires_grad, "evaluate log_probs are not differentiable (computed under no_grad?)")
    loss = -ev.log_probs.float().mean() - 0.01 * ev.entropy.float().mean()
    if ev.values is not None:
        loss = loss + ev.values.float().pow(2).mean()
    loss.backward()
    allowed = (*allow_unused, *getattr(policy, "unused_parameters", ()))
    trainable = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]
    frozen = [(n, p) for n, p in policy.named_parameters() if not p.requires_grad]
    expect(bool(trainable), "the policy has no trainable parameters")
    missing = [n for n, p in trainable if p.grad is None and not n.startswith(allowed)]
    expect(not missing, f"trainable parameters get no gradient: {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    leaked = [n for n, p in frozen if p.grad is not None]
    expect(not leaked, f"frozen parameters got gradients: {leaked[:8]}")
    nonzero = sum(1 for _, p in trainable if p.grad is not None and p.grad.abs().sum() > 0)
    expect(nonzero > 0, "all gradients are zero")
    expect(all(torch.isfinite(p.grad).all() for _, p in trainable if p.grad is not None), "gradients have NaN or inf")
    policy.zero_grad(set_to_none=True)
    return f"{nonzero}/{len(trainable)} trainable tensors get non-zero gradients; {len(frozen)} frozen stay untouched"


def synthetic_demos(policy: ChunkedPolicy, obs: ObsBatch, seed: int = 0) -> DemoBatch:
    """Action chunks inside the policy's action bounds for ``obs``, the last step of row 0 padded."""
    import numpy as np

    n, c, a = len(obs["task_descriptions"]), policy.action_chunk, policy.action_dim
    spec = getattr(policy, "action_spec", None)
    low = np.maximum(spec.low, -1.0) if spec is not None else -np.ones(a, np.float32)
    high = np.minimum(spec.high, 1.0) if spec is not None else np.ones(a, np.float32)
    rng = np.random.default_rng(seed)
    actions = (low + (high - low) * rng.random((n, c, a))).astype(np.float32)
    if spec is not None:
        discrete = [i for i, d in enumerate(spec.dims) if d.kind == "discrete"]
        actions[..., discrete] = np.round(actions[..., discrete])
    mask = np.ones((n, c), dtype=bool)
    if c > 1:
        mask[0, -1] = False
    return DemoBatch(obs, actions, mask)


def _supervised(policy: ChunkedPolicy, obs: ObsBatch, steps: int = 30, lr: float = 1e-3) -> str:
    """The supervised loss is finite, reaches the parameters, and a few steps on one batch lower it."""
    if not policy.supports_supervised:
        raise SkipCheck("the policy defines no supervised loss (ChunkedPolicy.supervised_loss)")
    batch = synthetic_demos(policy, obs)
    policy.train()
    policy.zero_grad(set_to_none=True)
    first = policy.supervised_loss(batch)
    expect(first.loss.ndim == 0, f"supervised_loss must be a scalar, got shape {tuple(first.loss.shape)}")
    expect(bool(torch.isfinite(first.loss)), f"supervised loss is {first.loss.item()}")
    first.loss.backward()
    trainable = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]
    reached = [n for n, p in trainable if p.grad is not None and p.grad.abs().sum() > 0]
    expect(bool(reached), "the supervised loss reaches no trainable parameter")
    expect(all(torch.isfinite(p.grad).all() for _, p in trainable if p.grad is not None), "gradients have NaN or inf")
    opt = torch.optim.Adam([p for _, p in trainable], lr=lr)

    def averaged() -> float:
        # Stochastic losses (flow matching draws noise and time) are compared at the same fixed draws.
        values = []
        for seed in range(4):
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                values.append(policy.supervised_loss(batch).loss.item())
        return sum(values) / len(values)

    start = averaged()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        policy.supervised_loss(batch).loss.backward()
        opt.step()
    last = averaged()
    policy.zero_grad(set_to_none=True)
    expect(last < start, f"{steps} Adam steps on one batch did not lower the supervised loss ({start:.4g} -> {last:.4g})")
    return f"loss {start:.4g} -> {last:.4g} in {steps} steps; {len(reached)}/{len(trainable)} tensors reached"


def check_policy(
    make_policy: Callable[[], ChunkedPolicy],
    observation_spec: ObservationSpec,
    batch_size: int = 2,
    obs: ObsBatch | None = None,
    atol: float = 1e-5,
    allow_unused: Iterable[str] = (),
    name: str = "policy",
) -> Report:
    """Check a policy against the chunked policy contract on ``obs`` (synthesised from the spec if None).

    ``allow_unused``: parameter-name prefixes that may legitimately get no gradient.
    """
    report = Report(f"policy '{name}'")
    torch.manual_seed(0)
    policy = make_policy()
    obs = obs if obs is not None else synthetic_obs(observation_spec, batch_size)
    n = len(obs["task_descriptions"])
    report.run(
        "is a ChunkedPolicy (torch module)",
        lambda: (
            expect(
                isinstance(policy, ChunkedPolicy) and isinstance(policy, torch.nn.Module),
                "must subclass vlarl.contracts.policy.ChunkedPolicy",
            )
            or ""
        ),
    )
    report.run("act shapes and dtypes", lambda: _check_act(policy, policy.act(obs), n))

    def deterministic() -> str:
        policy.eval()
        a = policy.act(obs, deterministic=True).actions
        b = policy.act(obs, deterministic=True).actions
        expect(torch.equal(a, b), "act(deterministic=True) is not deterministic")
        return ""

    report.run("deterministic act is repeatable", deterministic)
    report.run("evaluate reproduces act log-probs", lambda: _agreement(policy, obs, atol))
    report.run("gradients reach trainable parameters only", lambda: _gradients(policy, obs, allow_unused))
    # Last: it trains the policy.
    report.run("supervised loss learns a fixed batch", lambda: _supervised(policy, obs))
    return report
