from e2e_gateway import gateway  # noqa: F401  (the running gateway every end-to-end test drives)
from own_redis import own_redis  # noqa: F401  (a redis-server a test may restart)
