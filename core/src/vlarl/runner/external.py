"""Algorithms that bring their own training loop (``PluginSpec.extra["external_trainer"] = True``).

Such an algorithm (e.g. the stable-baselines3 bridge) implements
``learn(env, total_timesteps, log)``; vlarl gives it the env, the step budget
(``runner.max_epochs x rollout.n_chunks x num_envs`` chunk steps) and its logger.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from vlarl.plugins.build import call_factory
from vlarl.runner.context import build_env, run_dir, save_resolved_config, seed_everything
from vlarl.runner.logger import MetricLogger
from vlarl.runner.setup import RunSpec


def train_external(spec: RunSpec) -> Any:
    from vlarl.runner.loop import TrainSummary

    r = spec.runner
    seed_everything(r.seed)
    out = run_dir(spec)
    save_resolved_config(spec, out)
    provided, config, _ = spec.plugins["algorithm"]
    algo = call_factory(provided, config)
    env = build_env(spec)
    logger = MetricLogger(out, r.logger.logger_backends, r.logger.project_name, r.logger.experiment_name,
                          OmegaConf.to_container(spec.raw, resolve=True))  # fmt: skip
    last: dict[str, float] = {}

    def log(metrics: dict[str, float], step: int) -> None:
        last.update(metrics)
        logger.log(metrics, step)

    total = r.max_epochs * spec.rollout.n_chunks * env.num_envs
    try:
        model = algo.learn(env, total_timesteps=total, log=log)
        path = out / "checkpoints" / "external_model"
        path.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(model, "save"):
            model.save(str(path))  # the library's own format (SB3: a zip)
    finally:
        logger.close()
        env.close()
    return TrainSummary(out, r.max_epochs, total, last, path.parent if hasattr(model, "save") else None, [])
