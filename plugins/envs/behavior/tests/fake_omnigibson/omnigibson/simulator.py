"""Fake simulator: one per process, shared by every environment (as Isaac Sim's is)."""


class Simulator:
    def __init__(self, physics_dt, rendering_dt, sim_step_dt, device, viewer_width, viewer_height):
        self.initial_physics_dt = physics_dt
        self.initial_rendering_dt = rendering_dt
        self.sim_step_dt = sim_step_dt
        self.device = device
        self.viewer_width = viewer_width
        self.viewer_height = viewer_height
        self._playing = False
        self.physics_steps = 0

    def get_physics_dt(self):
        return self.initial_physics_dt

    def play(self):
        self._playing = True

    def stop(self):
        self._playing = False

    def is_stopped(self):
        return not self._playing

    def step(self):
        self.physics_steps += round(self.sim_step_dt / self.initial_physics_dt)

    def step_physics(self):
        self.physics_steps += 1

    def render(self):
        pass
