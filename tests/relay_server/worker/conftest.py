import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "dispatch"))

from own_redis import own_redis  # noqa: E402,F401  (a redis-server a test may restart)
from relay_parts import *  # noqa: E402,F403  (the fixtures and helpers the dispatch side's tests share)
