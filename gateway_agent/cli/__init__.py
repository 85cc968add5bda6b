"""The agent's command line: ``zimsend-agent`` and its commands."""
