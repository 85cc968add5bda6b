from fault_gateway import gateway, own_redis  # noqa: F401  (the gateway on a redis-server each test owns)
