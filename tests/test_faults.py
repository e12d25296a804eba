"""Faults that must never lose a checkpoint: signals sent to a real ``vlarl train`` subprocess at exact points
(the ``VLARL_TEST_PAUSE`` hook holds the run there), a killed save, a full disk, retention, and resuming
with changed hyperparameters. docs/faults.md lists every case with the message it gets."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vlarl.config import load_config
from vlarl.runner import checkpoint as ckpt
from vlarl.runner.train import train

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "gymnasium_cartpole_ppo_mlp.yaml"
SMALL = [
    "runner.logger.experiment_name=t",
    "env.num_envs=2",
    "rollout.n_chunks=4",
    "policy.num_action_chunks=1",
    "policy.hidden_sizes=[16,16]",
    "algorithm.update_epochs=1",
    "algorithm.num_minibatches=1",
    "runner.torch_threads=1",
]


def small_config(log_path: Path, *overrides: str):
    return load_config(EXAMPLE, [f"runner.logger.log_path={log_path}", *SMALL, *overrides])


def _default_sigint() -> None:
    # A test run started in the background of a shell inherits an ignored SIGINT, and so would the run
    # (Python then installs no Ctrl-C handling at all): give it the disposition a terminal's process has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def popen(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_default_sigint)  # fmt: skip


def start(
    log_path: Path, pause_dir: Path, pause: str, *overrides: str, prefix: tuple[str, ...] = ()
) -> subprocess.Popen:
    env = {**os.environ, "VLARL_TEST_PAUSE": pause, "VLARL_TEST_PAUSE_DIR": str(pause_dir), "OMP_NUM_THREADS": "1"}
    cmd = [*prefix, sys.executable, "-m", "vlarl.cli", "train", str(EXAMPLE),
           f"runner.logger.log_path={log_path}", *SMALL, *overrides]  # fmt: skip
    return popen(cmd, env)


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 420.0) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended (rc {proc.returncode}) before reaching {marker.name}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run never reached {marker.name}")
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 420.0) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the run did not end:\n{out}\n{err}")
    return proc.returncode, out, err


def digest(path: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir())}


def meta(path: Path) -> dict:
    return json.loads((path / "meta.json").read_text())


def num_updates(path: Path) -> int:
    return int(torch.load(path / "trainer.pt", weights_only=True)["algorithm"]["num_updates"])


def logged_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------------------------- data loss


def test_ctrl_c_during_an_update_saves_the_completed_iteration_and_never_rewrites_a_checkpoint(tmp_path):
    """Issue case 1: SIGINT inside iteration 2's update (save_interval 2) used to rewrite step_000002 with
    weights from the middle of that update. Now iteration 2 completes and is saved as step_000003."""
    proc = start(tmp_path, tmp_path, "after_update:2", "runner.save_interval=2", "runner.max_epochs=6")
    marker = tmp_path / "after_update-2"
    wait_for(marker, proc)
    root = tmp_path / "t" / "checkpoints"
    before = digest(root / "step_000002")
    proc.send_signal(signal.SIGINT)  # the run goes on once its handler has seen the signal
    rc, _, err = finish(proc)
    assert digest(root / "step_000002") == before  # the complete checkpoint is untouched
    assert rc == 130, err
    assert "stopping once this iteration completes" in err
    assert "Stopped by Ctrl-C after 3 iterations; checkpoint" in err and "step_000003" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in root.iterdir()) == ["step_000002", "step_000003"]
    two, three = root / "step_000002", root / "step_000003"
    assert (meta(two)["iteration"], meta(three)["iteration"]) == (2, 3)
    assert meta(three)["env_steps"] * 2 == meta(two)["env_steps"] * 3  # one whole iteration more, no half
    assert (num_updates(two), num_updates(three)) == (2, 3)
    # A resume continues from the consistent state.
    summary = train(small_config(tmp_path, "runner.resume=auto", "runner.save_interval=2", "runner.max_epochs=4"))
    assert summary.iterations == 4 and logged_steps(tmp_path / "t") == [0, 1, 2, 3]


def test_second_ctrl_c_during_the_interrupt_save_says_nothing_was_written_and_keeps_the_last_checkpoint(tmp_path):
    """Issue case 2: a second Ctrl-C while the interrupt checkpoint is written used to print only
    'interrupted'. Now it names the unwritten checkpoint and the last complete one, which stays intact."""
    proc = start(tmp_path, tmp_path, "after_update:4,save:5", "runner.save_interval=3", "runner.max_epochs=10")
    first = tmp_path / "after_update-4"
    wait_for(first, proc)
    root = tmp_path / "t" / "checkpoints"
    before = digest(root / "step_000003")
    proc.send_signal(signal.SIGINT)
    wait_for(tmp_path / "save-5", proc)  # the interrupt save of iteration 5 is half written
    proc.send_signal(signal.SIGINT)
    rc, _, err = finish(proc)
    assert rc == 130, err
    assert f"the checkpoint {root / 'step_000005'} was not written" in err
    assert f"the last checkpoint {root / 'step_000003'} is intact" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in root.iterdir()) == ["step_000003"]  # no step_000005, no temporary directory
    assert digest(root / "step_000003") == before


def test_sigterm_is_handled_like_the_first_ctrl_c(tmp_path):
    """What a scheduler, `kill` or a container stop sends: it used to end the run at once, losing the work since
    the last checkpoint. Now the iteration completes and is saved, and the run exits 143 (128 + SIGTERM)."""
    proc = start(tmp_path, tmp_path, "after_update:2", "runner.save_interval=2", "runner.max_epochs=6")
    wait_for(tmp_path / "after_update-2", proc)
    root = tmp_path / "t" / "checkpoints"
    before = digest(root / "step_000002")
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 143, err
    assert "SIGTERM: stopping once this iteration completes, then saving a checkpoint of it." in err
    assert (
        f"Stopped by SIGTERM after 3 iterations; checkpoint {root / 'step_000003'}. Continue with runner.resume=auto."
        in err
    )
    assert "Traceback" not in err and digest(root / "step_000002") == before
    assert sorted(p.name for p in root.iterdir()) == ["step_000002", "step_000003"]
    assert meta(root / "step_000003")["iteration"] == 3 and num_updates(root / "step_000003") == 3


def test_a_second_sigterm_during_the_interrupt_save_stops_at_once_and_keeps_the_last_checkpoint(tmp_path):
    proc = start(tmp_path, tmp_path, "after_update:4,save:5", "runner.save_interval=3", "runner.max_epochs=10")
    wait_for(tmp_path / "after_update-4", proc)
    root = tmp_path / "t" / "checkpoints"
    before = digest(root / "step_000003")
    proc.send_signal(signal.SIGTERM)
    wait_for(tmp_path / "save-5", proc)
    proc.send_signal(signal.SIGTERM)
    rc, _, err = finish(proc)
    assert rc == 143, err
    assert (f"Interrupted: the checkpoint {root / 'step_000005'} was not written (its temporary files were removed); "
            f"the last checkpoint {root / 'step_000003'} is intact.") in err  # fmt: skip
    assert sorted(p.name for p in root.iterdir()) == ["step_000003"] and digest(root / "step_000003") == before


def test_the_second_signal_text_is_one_for_train_and_sft(tmp_path):
    """runner/loop.py and runner/sft.py share StopRequest.hard_stop; each phase says what was lost."""
    from vlarl.runner.interrupt import StopRequest

    target, last = tmp_path / "step_000004", "the last checkpoint X is intact"
    train_stop, sft_stop = StopRequest("iteration"), StopRequest("step", "SFT step")
    assert sft_stop.hard_stop("step", 5, 40, target, None, last).message == (
        "Interrupted: SFT step 5 of 40 did not complete and nothing of it was saved; the last checkpoint X is intact."
    )
    assert train_stop.hard_stop("completed", 5, 10, target, None, last).message.startswith(
        "Interrupted: iteration 5 of 10 completed but was not saved;"
    )
    assert sft_stop.hard_stop("between", 4, 40, target, target, last).message.startswith(
        "Interrupted: stopped after 4 SFT steps;"
    )
    assert train_stop.hard_stop("save", 4, 10, target, target, last).message.startswith(
        f"Interrupted: stopped after writing {target};"
    )
    assert train_stop.hard_stop("iteration", 1, 10, target, None, last).exit_code == 130


def test_sigterm_is_graceful_on_the_ray_driver_too():
    """ray.init installs a driver SIGTERM handler that only exits; a run takes it over and puts it back."""
    code = (
        "import os, signal, ray\n"
        "ray.init(address=\"local\", num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        "from vlarl.runner.interrupt import StopRequest\n"
        "ray_handler = signal.getsignal(signal.SIGTERM)\n"
        "with StopRequest() as stop:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    print('requested', stop.requested, stop.exit_code)\n"
        "print('restored', signal.getsignal(signal.SIGTERM) is ray_handler)\n"
        "ray.shutdown()\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "requested True 143" in res.stdout and "restored True" in res.stdout


def test_sigkill_mid_save_leaves_nothing_behind_after_resume_and_no_step_is_logged_twice(tmp_path):
    """Issue case 3: SIGKILL while step_000004 is written left an orphaned .step_* directory and, after the
    resume, iterations 2 and 3 twice in metrics.jsonl."""
    proc = start(tmp_path, tmp_path, "save:4", "runner.save_interval=2", "runner.max_epochs=6")
    wait_for(tmp_path / "save-4", proc)
    proc.kill()
    proc.wait(timeout=60)
    root = tmp_path / "t" / "checkpoints"
    assert any(name.startswith(".step_000004") for name in leftovers(root))
    assert logged_steps(tmp_path / "t") == [0, 1, 2, 3]
    rc, out, err = finish(
        start(tmp_path, tmp_path, "", "runner.save_interval=2", "runner.max_epochs=6", "runner.resume=auto")
    )
    assert rc == 0, err
    assert logged_steps(tmp_path / "t") == [0, 1, 2, 3, 4, 5]
    assert leftovers(root) == []
    assert "removed .step_000004" in out and "Resuming from" in out


def test_a_save_interrupted_while_replacing_a_checkpoint_is_undone_at_the_next_start(tmp_path):
    """A checkpoint being replaced (a run resumed from an older one) is moved aside first: a process killed
    between the two renames leaves it under a temporary name, and the next start puts it back."""
    root = tmp_path / "checkpoints"
    train(small_config(tmp_path / "run", "runner.max_epochs=2", "runner.save_interval=2"))
    src = tmp_path / "run" / "t" / "checkpoints" / "step_000002"
    root.mkdir()
    shutil.copytree(src, root / ".step_000002.old-abc123")
    (root / ".step_000004.tmp-xyz").mkdir()
    notes = ckpt.clean_incomplete(root)
    assert sorted(p.name for p in root.iterdir()) == ["step_000002"]
    assert digest(root / "step_000002") == digest(src)
    assert any("restored step_000002" in n for n in notes) and any("removed .step_000004" in n for n in notes)


def test_retention_keeps_the_newest_and_the_best_and_resume_still_works(tmp_path):
    """Issue case 4: every checkpoint was kept (100 directories after 200 iterations at save_interval 2)."""
    key = "rollout/returns_mean"
    train(small_config(tmp_path, "runner.max_epochs=12", "runner.save_interval=2", f"runner.keep_best={key}"))
    root = tmp_path / "t" / "checkpoints"
    names = sorted(p.name for p in root.iterdir())
    assert names[-3:] == ["step_000008", "step_000010", "step_000012"] and len(names) <= 4
    rows = {r["step"]: r for r in map(json.loads, (tmp_path / "t" / "metrics.jsonl").read_text().splitlines())}
    best_step = max(range(2, 13, 2), key=lambda s: (rows[s - 1][key], s))  # checkpoint s holds iteration s-1
    assert f"step_{best_step:06d}" in names  # the best ever saved is kept
    summary = train(small_config(tmp_path, "runner.max_epochs=14", "runner.save_interval=2", "runner.resume=auto"))
    assert summary.iterations == 14 and (root / "step_000014").is_dir() and not (root / "step_000008").exists()
    train(
        small_config(tmp_path / "all", "runner.max_epochs=6", "runner.save_interval=2", "runner.keep_checkpoints=null")
    )
    assert len(list((tmp_path / "all" / "t" / "checkpoints").iterdir())) == 3


def test_resume_with_changed_learning_rates_applies_them_and_says_so(tmp_path, capsys):
    """Issue case 5: runner.resume=auto algorithm.lr=1e-3 silently kept the stored rate; a changed critic_lr
    crashed with 'different number of parameter groups'. The current config wins, and the log says so."""
    train(small_config(tmp_path, "runner.max_epochs=2", "runner.save_interval=2"))
    capsys.readouterr()
    train(
        small_config(
            tmp_path, "runner.max_epochs=3", "runner.save_interval=2", "runner.resume=auto", "algorithm.lr=1e-3"
        )
    )
    out = capsys.readouterr().out
    assert "algorithm.lr: 0.00025 -> 0.001" in out and "current config applies" in out
    rows = [json.loads(line) for line in (tmp_path / "t" / "metrics.jsonl").read_text().splitlines()]
    assert rows[2]["step"] == 2 and rows[2]["actor/lr"] == pytest.approx(1e-3)
    train(small_config(tmp_path, "runner.max_epochs=4", "runner.save_interval=2", "runner.resume=auto",
                       "algorithm.lr=1e-3", "algorithm.critic_lr=5e-3"))  # fmt: skip
    out = capsys.readouterr().out
    assert "algorithm.critic_lr: (default) -> 0.005" in out
    assert "parameter groups changed (actor+critic -> actor, critic)" in out and "carried over" in out


def test_unchanged_resume_is_still_exact(tmp_path):
    """The hyperparameter rule must not disturb the bitwise resume of an unchanged config."""
    train(
        small_config(tmp_path / "a", "runner.max_epochs=4", "runner.save_interval=2", "algorithm.lr_anneal_updates=8")
    )
    train(
        small_config(tmp_path / "b", "runner.max_epochs=2", "runner.save_interval=2", "algorithm.lr_anneal_updates=8")
    )
    train(small_config(tmp_path / "b", "runner.max_epochs=4", "runner.save_interval=2", "algorithm.lr_anneal_updates=8",
                       "runner.resume=auto"))  # fmt: skip
    a = ckpt.read_weights(tmp_path / "a" / "t" / "checkpoints" / "step_000004")
    b = ckpt.read_weights(tmp_path / "b" / "t" / "checkpoints" / "step_000004")
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------- disk, files


def _mount_available() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _mount_available(), reason="needs root and mount namespaces for a small tmpfs")
def test_a_real_full_disk_during_save_names_both_checkpoints(tmp_path):
    """A full tmpfs while step_000004 is written: 'disk full while saving <path>; previous checkpoint <path>
    intact', and nothing half-written left behind (the check runs inside the run's mount namespace)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    overrides = ["runner.save_interval=2", "runner.max_epochs=6", "runner.logger.logger_backends=[]"]
    script = (f'mount -t tmpfs -o size=16m tmpfs {disk} && "$@"; rc=$?; echo "rc=$rc"; '
              f"ls -a {disk}/t/checkpoints")  # fmt: skip
    proc = start(disk, tmp_path, "save:4", *overrides, prefix=("unshare", "-m", "sh", "-c", script, "sh"))
    marker = tmp_path / "save-4"
    wait_for(marker, proc)
    pid = int(marker.read_text())
    fd = os.open(f"/proc/{pid}/root{disk}/filler", os.O_WRONLY | os.O_CREAT)  # the run's view of its tmpfs
    try:
        while os.write(fd, b"\0" * (1 << 16)):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(fd)
    marker.unlink()
    _, out, err = finish(proc)
    assert "rc=2" in out, out + err
    checkpoints = disk / "t" / "checkpoints"
    assert (
        f"Disk full while saving {checkpoints / 'step_000004'}; previous checkpoint {checkpoints / 'step_000002'} intact"
        in err
    )
    assert "Traceback" not in err and "inline_container" not in err
    listed = [line for line in out.splitlines() if line.startswith(("step_", ".step_"))]
    assert listed == ["step_000002"], out


def test_torch_s_full_disk_error_is_named_too(tmp_path, monkeypatch):
    """torch.save reports ENOSPC as 'RuntimeError: [enforce fail at inline_container.cc:672]'."""
    real = torch.save
    calls = {"n": 0}

    def full(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # trainer.pt of the second checkpoint
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 8576 vs 8464")
        return real(obj, f, *args, **kwargs)

    class Usage:
        free = 0

    monkeypatch.setattr(ckpt.torch, "save", full)
    monkeypatch.setattr(ckpt.shutil, "disk_usage", lambda path: Usage())
    root = tmp_path / "t" / "checkpoints"
    with pytest.raises(ckpt.CheckpointError) as exc:
        train(small_config(tmp_path, "runner.max_epochs=4", "runner.save_interval=2"))
    assert (
        exc.value.problem
        == f"Disk full while saving {root / 'step_000004'}; previous checkpoint {root / 'step_000002'} intact."
    )
    assert sorted(p.name for p in root.iterdir()) == ["step_000002"]


def test_full_disk_before_any_checkpoint_says_none_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(
        ckpt, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device"))
    )
    with pytest.raises(ckpt.CheckpointError, match="step_000002; no earlier checkpoint exists"):
        train(small_config(tmp_path, "runner.max_epochs=2", "runner.save_interval=2"))


# ------------------------------------------------------------------------------------------- damaged checkpoints


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory) -> Path:
    """A run with step_000002 and step_000004, copied afresh by each test that damages it."""
    base = tmp_path_factory.mktemp("ckpts")
    train(small_config(base, "runner.max_epochs=4", "runner.save_interval=2"))
    return base


@pytest.fixture
def run(two_checkpoints, tmp_path) -> Path:
    shutil.copytree(two_checkpoints / "t", tmp_path / "t")
    return tmp_path


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("file", "damage", "named"),
    [
        ("model.safetensors", _truncate, "model.safetensors is truncated or damaged"),
        ("meta.json", lambda p: p.write_text("{not json"), "meta.json is damaged"),
        ("trainer.pt", _truncate, "trainer.pt is truncated or damaged"),
    ],
)
def test_resume_auto_falls_back_past_a_damaged_checkpoint(run, capsys, file, damage, named):
    """Truncated weights / trainer state or a corrupt meta.json: resume=auto names the file and continues from
    the previous complete checkpoint (it used to crash with SafetensorError / JSONDecodeError / OSError 22)."""
    damage(run / "t" / "checkpoints" / "step_000004" / file)
    summary = train(small_config(run, "runner.max_epochs=4", "runner.save_interval=2", "runner.resume=auto"))
    err = capsys.readouterr()
    assert f"step_000004/{file}" in err.err and named in err.err and "Falling back" in err.err
    assert "Resuming from" in err.out and "step_000002" in err.out
    assert summary.iterations == 4 and ckpt.read_checkpoint(run / "t" / "checkpoints" / "step_000004")


def test_an_explicit_damaged_checkpoint_is_named_without_a_traceback(run, capsys):
    from vlarl.cli import main

    path = run / "t" / "checkpoints" / "step_000004"
    _truncate(path / "trainer.pt")
    assert main(["train", str(EXAMPLE), f"runner.logger.log_path={run}", *SMALL, f"runner.resume={path}"]) == 2
    err = capsys.readouterr().err
    assert f"{path / 'trainer.pt'} is truncated or damaged" in err and "Traceback" not in err


def test_a_malicious_pickle_is_refused_named_and_never_run(run, capsys, tmp_path):
    """torch's own message suggests weights_only=False; ours names the file and never does."""
    from vlarl.cli import main

    pwned = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {pwned}",))

    path = run / "t" / "checkpoints" / "step_000004"
    torch.save({"algorithm": Evil()}, path / "trainer.pt")
    assert main(["train", str(EXAMPLE), f"runner.logger.log_path={run}", *SMALL, f"runner.resume={path}"]) == 2
    err = capsys.readouterr().err
    assert f"{path / 'trainer.pt'} was refused" in err and "nothing in it was run" in err
    assert "weights_only=False" not in err and "add_safe_globals" not in err and "Traceback" not in err
    assert not pwned.exists()


def test_a_checkpoint_of_another_architecture_lists_the_tensors(run):
    from vlarl.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        train(small_config(run, "runner.max_epochs=6", "runner.resume=auto", "policy.hidden_sizes=[32,32]"))
    text = exc.value.problem
    assert "does not fit this policy" in text and "checkpoint (16, " in text and "policy (32, " in text
    assert "size mismatch" not in text  # torch's own error never gets the chance


def test_eval_without_a_checkpoint_says_it_scores_the_initial_weights(tmp_path, capsys):
    from vlarl.runner.evaluate import evaluate

    summary = evaluate(small_config(tmp_path, "runner.eval_episodes=1"))
    err = capsys.readouterr().err
    assert "evaluating the policy's initial weights (its random initialisation)" in err
    assert summary["checkpoint"] is None and summary["weights"] == "initial"


def test_non_finite_metrics_before_any_checkpoint_do_not_claim_one_is_intact(tmp_path, monkeypatch):
    from vlarl.errors import VlarlError
    from vlarl.runner import train as train_module

    real = train_module.LocalTrainer.iteration
    monkeypatch.setattr(
        train_module.LocalTrainer, "iteration", lambda self, it: {**real(self, it), "actor/loss": float("nan")}
    )
    with pytest.raises(VlarlError) as exc:
        train(small_config(tmp_path, "runner.max_epochs=2"))
    assert "no checkpoint was written yet" in exc.value.problem and "intact" not in exc.value.problem


# ------------------------------------------------------------------------------------------- vlarl sft


def sft_config(tmp_path: Path, **sft_keys):
    from omegaconf import OmegaConf

    sys.path.insert(0, str(ROOT / "plugins" / "datasets" / "libero_hdf5" / "tests"))
    from libero_files import write_libero_file

    data = tmp_path / "demos"
    if not data.exists():
        data.mkdir(parents=True)
        write_libero_file(data / "task_demo.hdf5", lengths=(30, 25, 20), image_size=None)
    return OmegaConf.create({
        "dataset": {"name": "libero_hdf5", "paths": [str(data)], "privileged_state": True},
        "policy": {"name": "mlp", "num_action_chunks": 4, "hidden_sizes": [16, 16]},
        "sft": {"max_steps": 40, "batch_size": 8, "lr": 3e-3, "save_interval": 5, "log_interval": 5, **sft_keys},
        "runner": {"logger": {"log_path": str(tmp_path / "runs"), "experiment_name": "e"}, "seed": 3,
                   "torch_threads": 1},
    })  # fmt: skip


@pytest.mark.parametrize(
    ("signum", "rc_wanted", "by"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]
)
def test_sft_ctrl_c_saves_the_completed_step_and_keeps_the_last_checkpoints(tmp_path, signum, rc_wanted, by):
    from omegaconf import OmegaConf

    path = tmp_path / "sft.yaml"
    OmegaConf.save(sft_config(tmp_path), path)
    env = {**os.environ, "VLARL_TEST_PAUSE": "after_update:22", "VLARL_TEST_PAUSE_DIR": str(tmp_path)}
    proc = popen([sys.executable, "-m", "vlarl.cli", "sft", str(path)], env)
    wait_for(tmp_path / "after_update-22", proc)
    root = tmp_path / "runs" / "e" / "sft" / "checkpoints"
    before = digest(root / "step_000020")
    proc.send_signal(signum)
    rc, _, err = finish(proc)
    assert digest(root / "step_000020") == before
    assert rc == rc_wanted and f"Stopped by {by} after 23 SFT steps" in err and "Traceback" not in err
    assert sorted(p.name for p in root.iterdir()) == ["step_000015", "step_000020", "step_000023"]  # keep 3


def test_sft_resume_with_a_changed_lr_and_weight_decay_applies_them_and_says_so(tmp_path, capsys):
    from vlarl.runner.sft import SFTTrainer, sft, validate_sft

    sft(sft_config(tmp_path, max_steps=10))
    capsys.readouterr()
    trainer = SFTTrainer(validate_sft(sft_config(tmp_path, max_steps=20, resume="auto", lr=1e-3, weight_decay=0.01)))
    out = capsys.readouterr().out
    assert "sft.lr: 0.003 -> 0.001" in out and "sft.weight_decay: (default) -> 0.01" in out
    assert trainer.start == 10
    group = trainer.optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(1e-3) and group["weight_decay"] == pytest.approx(0.01)
    assert trainer.optimizer.state  # the moments carried over
    trainer.logger.close()


def test_optimizer_merge_rules():
    """The rule behind case 5, unit by unit: unchanged -> stored state as is; a changed rate rescales a schedule;
    a regrouping carries the moments by parameter; parameters of other shapes start afresh."""
    from vlarl.rl.state import merge_optimizer_state

    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))

    def adam(groups):
        opt = torch.optim.Adam(groups)
        for g in opt.param_groups:
            g.setdefault("initial_lr", g["lr"])
        return opt

    old = adam([{"params": [a, b], "lr": 1e-3, "name": "all"}])
    (a.sum() + b.sum()).backward()
    old.step()
    old.param_groups[0]["lr"] = 5e-4  # half-way through a linear schedule
    stored = old.state_dict()
    same, notes = merge_optimizer_state(adam([{"params": [a, b], "lr": 1e-3, "name": "all"}]), stored)
    assert notes == [] and same["param_groups"][0]["lr"] == 5e-4 and same["state"] is stored["state"]
    faster, notes = merge_optimizer_state(adam([{"params": [a, b], "lr": 2e-3, "name": "all"}]), stored)
    assert faster["param_groups"][0]["lr"] == pytest.approx(1e-3) and "initial_lr 0.001 -> 0.002" in notes[0]
    split = adam([{"params": [a], "lr": 1e-3, "name": "actor"}, {"params": [b], "lr": 1e-2, "name": "critic"}])
    merged, notes = merge_optimizer_state(split, stored)
    split.load_state_dict(merged)  # used to raise: different number of parameter groups
    assert torch.equal(split.state[b]["exp_avg"], old.state[b]["exp_avg"]) and "carried over" in notes[0]
    c = torch.nn.Parameter(torch.ones(3))
    other = adam([{"params": [c], "lr": 1e-3}, {"params": [torch.nn.Parameter(torch.ones(5))], "lr": 1e-3}])
    merged, notes = merge_optimizer_state(other, stored)
    assert merged["state"] == {} and "starts afresh" in notes[0]
