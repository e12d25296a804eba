import subprocess
import sys


def test_register_module_imports_nothing_heavy():
    code = (
        "import sys, vlarl_openvla_oft.register as r; specs = r.vlarl_register();"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'safetensors', 'numpy') if m in sys.modules];"
        "assert not heavy, heavy; assert specs[0].name == 'openvla_oft' and specs[0].kind == 'policy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entry_point_is_registered():
    from importlib.metadata import entry_points

    eps = {e.name: e.value for e in entry_points(group="vlarl.policies")}
    assert eps.get("openvla_oft") == "vlarl_openvla_oft.register"
