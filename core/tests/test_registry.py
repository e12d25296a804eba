"""Plugin discovery: entry points -> pluggy -> specs, with every failure reported by name."""

import sys

import pytest
from plugin_dists import write_dist, write_plugin

from vlarl.errors import PluginError
from vlarl.plugins.build import build_env, resolve
from vlarl.plugins.registry import Registry


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[name]


def test_a_plugin_is_found_with_its_distribution(site):
    write_plugin(site, "tp-line", "tp_line", "env", "line")
    found = Registry(allow=["line"]).get("env", "line")
    assert (found.distribution, found.version, found.module) == ("tp-line", "0.1", "tp_line")
    assert found.spec.description == "test plugin"


def test_unknown_name_lists_installed_and_suggests(site):
    write_plugin(site, "tp-line", "tp_line", "env", "line")
    with pytest.raises(PluginError) as err:
        Registry(allow=["line"]).get("env", "lin")
    assert "Installed envs: line" in err.value.problem and "Did you mean 'line'" in err.value.problem


def test_duplicate_names_name_both_distributions_and_can_be_picked(site):
    write_plugin(site, "tp-a", "tp_a", "env", "dup")
    write_plugin(site, "tp-b", "tp_b", "env", "dup")
    registry = Registry(allow=["tp-a", "tp-b"])
    with pytest.raises(PluginError) as err:
        registry.get("env", "dup")
    assert "tp-a" in err.value.problem and "tp-b" in err.value.problem
    assert registry.get("env", "tp-b:dup").distribution == "tp-b"
    assert Registry(allow=["tp-a", "tp-b"], deny=["tp-b"]).get("env", "dup").distribution == "tp-a"


def test_a_broken_plugin_is_reported_and_others_still_work(site):
    write_plugin(site, "tp-good", "tp_good", "env", "good")
    write_dist(site, "tp-bad", "tp_bad", "vlarl.envs", "bad", "raise RuntimeError('boom at import')\n")
    registry = Registry(allow=["good", "bad"])
    assert registry.get("env", "good").distribution == "tp-good"
    (failure,) = registry.failures
    assert failure.distribution == "tp-bad" and "boom at import" in failure.message()
    assert "VLARL_DISABLE_PLUGINS=bad" in failure.message()
    with pytest.raises(PluginError, match="boom at import"):
        registry.get("env", "bad")


def test_malformed_entry_point_and_wrong_kind_are_reported(site):
    write_dist(site, "tp-missing", "tp_missing_module_xyz", "vlarl.envs", "ghost", "")
    (site / "tp_missing_module_xyz.py").unlink()
    write_plugin(site, "tp-kind", "tp_kind", "policy", "wrongkind")
    # declared as a policy, registered under the env group
    (site / "tp_kind-0.1.dist-info" / "entry_points.txt").write_text("[vlarl.envs]\nwrongkind = tp_kind\n")
    registry = Registry(allow=["ghost", "wrongkind"])
    messages = " ".join(f.message() for f in registry.failures)
    assert "tp_missing_module_xyz" in messages
    assert "declare it under vlarl.policies" in messages


def test_allow_and_deny_env_vars(site, monkeypatch):
    write_plugin(site, "tp-one", "tp_one", "env", "one")
    write_plugin(site, "tp-two", "tp_two", "env", "two")
    monkeypatch.setenv("VLARL_PLUGINS", "one,two")
    monkeypatch.setenv("VLARL_DISABLE_PLUGINS", "two")
    assert Registry().names("env") == ["one"]


def test_missing_requirement_names_the_fix_before_building(site):
    req = '(vlarl.Requirement("python", "surely_not_installed_pkg", "pip install surely-not"),)'
    write_plugin(site, "tp-req", "tp_req", "env", "needy", requirements=req)
    registry = Registry(allow=["needy"])
    with pytest.raises(PluginError) as err:
        resolve("env", "needy", {}, registry)
    assert "surely_not_installed_pkg" in err.value.problem and "pip install surely-not" in err.value.problem


def test_config_is_validated_against_the_plugin_schema(site):
    write_plugin(site, "tp-line", "tp_line", "env", "line")
    registry = Registry(allow=["line"])
    with pytest.raises(Exception, match="Did you mean 'size'"):
        build_env("line", {"sise": 2}, registry)


def test_plugin_defined_hooks_reach_extension_modules(site):
    # A plugin adds a hookspec for sub-plugins; another distribution implements it.
    write_dist(
        site,
        "tp-host",
        "tp_host",
        "vlarl.envs",
        "hosty",
        '''
        import vlarl

        class Specs:
            @vlarl.hookspec
            def tp_tasks(self):
                """Tasks for the host plugin."""

        @vlarl.hookimpl
        def vlarl_addhooks(pluginmanager):
            pluginmanager.add_hookspecs(Specs)

        @vlarl.hookimpl
        def vlarl_register():
            return []
    ''',
    )
    write_dist(
        site,
        "tp-user-task",
        "tp_user_task",
        "vlarl.extensions",
        "usertask",
        """
        import vlarl

        @vlarl.hookimpl
        def tp_tasks():
            return ["my-task"]
    """,
    )
    registry = Registry(allow=["hosty", "usertask"])
    assert registry.failures == []
    assert registry.hook_results_by_plugin("tp_tasks") == [("tp-user-task", ["my-task"])]
