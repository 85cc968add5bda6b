from fault_gateway import gateway  # noqa: F401  (the gateway on a redis-server each test owns)
from own_redis import own_redis  # noqa: F401
