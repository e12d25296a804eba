"""Fake simulator: one per process, shared by every scene of every environment (as Isaac Sim's is).

``step()`` runs ``sim_step_dt / physics_dt`` physics steps and ``step_physics()`` one, for **all** scenes:
each scene counts them (``Scene.physics_steps``) and its robot drives on at its last base velocity command.
"""

from omnigibson.macros import gm


class Simulator:
    def __init__(self, physics_dt, rendering_dt, sim_step_dt, device, viewer_width, viewer_height):
        # Read at launch, as _launch_app does (so they can no longer be changed afterwards)
        self.launch_macros = {k: getattr(gm, k) for k in ("HEADLESS", "USE_GPU_DYNAMICS", "ENABLE_FLATCACHE")}
        self.launch_macros["USE_NUMPY_CONTROLLER_BACKEND"] = gm.USE_NUMPY_CONTROLLER_BACKEND
        self.initial_physics_dt = physics_dt
        self.initial_rendering_dt = rendering_dt
        self.sim_step_dt = sim_step_dt
        self.device = device
        self.viewer_width = viewer_width
        self.viewer_height = viewer_height
        self._playing = False
        self.scenes = []

    def import_scene(self, scenes):
        for scene in scenes if isinstance(scenes, (list, tuple)) else [scenes]:
            scene.idx = len(self.scenes)
            self.scenes.append(scene)

    def get_physics_dt(self):
        return self.initial_physics_dt

    def play(self):
        self._playing = True

    def stop(self):
        self._playing = False

    def is_stopped(self):
        return not self._playing

    def is_playing(self):
        return self._playing

    def step(self):
        for _ in range(round(self.sim_step_dt / self.initial_physics_dt)):
            self.step_physics()

    def step_physics(self):
        for scene in self.scenes:
            scene.physics_step(self.initial_physics_dt)

    def update_handles(self):
        pass

    def render(self):
        pass
