"""vlarl bridge to stable-baselines3: an SB3 VecEnv over the chunked env contract, and a trainer."""
