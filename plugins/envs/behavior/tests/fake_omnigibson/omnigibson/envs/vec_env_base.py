"""Fake ``omnigibson.envs.vec_env_base.VectorEnvironment`` (3.7 only: a list of Environments, one sim step)."""

import copy

import omnigibson as og


class VectorEnvironment:
    def __init__(self, num_envs, config):
        self.num_envs = num_envs
        if og.sim is not None:
            og.sim.stop()
        for i, robot_cfg in enumerate(config.get("robots", [])):
            assert "name" in robot_cfg, f"Robot at index {i} must specify a name for vector environment!"
        self.envs = [og.Environment(configs=copy.deepcopy(config), in_vec_env=True) for _ in range(num_envs)]
        og.sim.play()
        for env in self.envs:
            env.post_play_load()

    def step(self, actions):
        assert len(actions) == self.num_envs, "one action per env"
        for env, action in zip(self.envs, actions):
            env._pre_step(action)
        og.sim.step()
        results = [env._post_step(action) for env, action in zip(self.envs, actions)]
        obs, rewards, terms, truncs, infos = (list(x) for x in zip(*results))
        return obs, rewards, terms, truncs, infos

    def reset(self, get_obs=True, **kwargs):
        results = [env.reset(get_obs=get_obs, **kwargs) for env in self.envs]
        if get_obs:
            return [r[0] for r in results], [r[1] for r in results]
        return None

    def close(self):
        pass

    def __len__(self):
        return self.num_envs
