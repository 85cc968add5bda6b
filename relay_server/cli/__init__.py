"""The relay's command line: ``zimsend-relay`` and the processes it starts."""
