import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "dispatch"))

from relay_parts import *  # noqa: E402,F403  (the fixtures and helpers the dispatch side's tests share)
