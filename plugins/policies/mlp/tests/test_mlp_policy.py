import numpy as np
import pytest
import torch

from vlarl.contracts.spaces import ActionDim, ActionSpec, ObservationSpec
from vlarl.errors import ConfigError, ContractError
from vlarl.testing import synthetic_obs
from vlarl_mlp.policy import MLPPolicy
from vlarl_mlp.register import MLPPolicyConfig

STATES = ObservationSpec(states=(5,))
IMAGES = ObservationSpec(states=(5,), images=(3, 32, 32))
BOX = ActionSpec((ActionDim("x", -2.0, 2.0), ActionDim("g", -1.0, 1.0, "gripper")))
DISCRETE = ActionSpec((ActionDim("push", 0, 2, "discrete"),))


@pytest.mark.parametrize(
    ("obs_spec", "act_spec", "cfg"),
    [
        (STATES, BOX, {}),
        (STATES, DISCRETE, {"num_action_chunks": 3}),
        (IMAGES, BOX, {"use_images": True, "value_type": "action", "num_action_chunks": 2}),
        (IMAGES, DISCRETE, {"use_images": True, "cnn_channels": [8, 12]}),
        (STATES, BOX, {"critic": False}),
    ],
)
def test_conformance(vlarl_check_policy, obs_spec, act_spec, cfg):
    vlarl_check_policy(lambda: MLPPolicy(MLPPolicyConfig(**cfg), obs_spec, act_spec), obs_spec, batch_size=3)


def test_actions_use_env_units_and_categorical_indices():
    torch.manual_seed(0)
    gauss = MLPPolicy(MLPPolicyConfig(), STATES, BOX)
    with torch.no_grad():
        gauss.actor[-1].bias.zero_()
        gauss.actor[-1].weight.zero_()
    out = gauss.act(synthetic_obs(STATES, 4), deterministic=True)
    assert torch.all(out.actions == 0)  # mean of the box centre
    cat = MLPPolicy(MLPPolicyConfig(num_action_chunks=4), STATES, DISCRETE)
    acts = cat.act(synthetic_obs(STATES, 64)).actions
    assert set(acts.unique().tolist()) <= {0.0, 1.0, 2.0} and len(acts.unique()) == 3


def test_bad_inputs_and_configs_are_clear():
    policy = MLPPolicy(MLPPolicyConfig(), STATES, BOX)
    with pytest.raises(ContractError, match=r"states must be \[N, 5\]"):
        policy.act({"states": np.zeros((2, 4), np.float32), "task_descriptions": ["a", "b"]})
    with pytest.raises(ConfigError, match="value_type"):
        MLPPolicy(MLPPolicyConfig(value_type="token"), STATES, BOX)
    with pytest.raises(ConfigError, match="returns no images"):
        MLPPolicy(MLPPolicyConfig(use_images=True), STATES, BOX)
    with pytest.raises(ConfigError, match="cnn_channels"):
        MLPPolicy(MLPPolicyConfig(use_images=True, cnn_channels=[16, 0]), IMAGES, BOX)
    with pytest.raises(ConfigError, match="discrete"):
        MLPPolicy(MLPPolicyConfig(action_head="categorical"), STATES, BOX)


def test_cnn_channels_set_the_encoder_widths_and_default_keeps_the_checkpoint_layout():
    wide = MLPPolicy(MLPPolicyConfig(use_images=True, cnn_channels=[8, 12, 24, 6]), IMAGES, BOX)
    convs = [m for m in wide.actor_encoder.image.conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [
        (3, 8, 5), (8, 12, 3), (12, 24, 3), (24, 6, 3)
    ]  # fmt: skip
    assert wide.actor_encoder.image.proj.in_features == 6 * 16
    # Checkpoints written before cnn_channels existed hold exactly these keys and shapes.
    default = MLPPolicy(MLPPolicyConfig(use_images=True), IMAGES, BOX).state_dict()
    conv_shapes = {k: tuple(v.shape) for k, v in default.items() if k.startswith("actor_encoder.image.")}
    assert conv_shapes == {
        "actor_encoder.image.conv.0.weight": (16, 3, 5, 5), "actor_encoder.image.conv.0.bias": (16,),
        "actor_encoder.image.conv.2.weight": (32, 16, 3, 3), "actor_encoder.image.conv.2.bias": (32,),
        "actor_encoder.image.conv.4.weight": (32, 32, 3, 3), "actor_encoder.image.conv.4.bias": (32,),
        "actor_encoder.image.proj.weight": (128, 512), "actor_encoder.image.proj.bias": (128,),
    }  # fmt: skip


def test_init_log_std_per_action_dim_sets_each_dims_noise():
    from omegaconf import OmegaConf

    # From a config file the list arrives as an OmegaConf ListConfig.
    values = OmegaConf.create({"v": [-1.0, -4.0]}).v
    policy = MLPPolicy(MLPPolicyConfig(num_action_chunks=3, init_log_std=values), STATES, BOX)
    assert policy.log_std.shape == (3, 2)
    torch.testing.assert_close(policy.log_std[:, 1], torch.full((3,), -4.0))
    torch.manual_seed(0)
    obs = synthetic_obs(STATES, 2000)
    raw = policy.act(obs).replay["raw_actions"]
    mean = policy.act(obs, deterministic=True).replay["raw_actions"]
    spread = (raw - mean).std(dim=(0, 1))
    assert spread[0] == pytest.approx(np.exp(-1.0), rel=0.1) and spread[1] == pytest.approx(np.exp(-4.0), rel=0.1)
    scalar = MLPPolicy(MLPPolicyConfig(init_log_std=-2.0), STATES, BOX)
    assert torch.all(scalar.log_std == -2.0)
    with pytest.raises(ConfigError, match="does not fit 2 action dims"):
        MLPPolicy(MLPPolicyConfig(init_log_std=[-1.0, -2.0, -3.0]), STATES, BOX)
