import sys
from pathlib import Path

# The toy env/policy module sits beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["pytester"]
