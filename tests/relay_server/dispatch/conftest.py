from relay_parts import *  # noqa: F403  (the fixtures and helpers the dispatch side's tests share)
