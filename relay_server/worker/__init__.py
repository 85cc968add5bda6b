"""The relay's worker: applies the agents' events, releases scheduled messages,
plays the simulated device, and keeps Redis and the store in step."""
