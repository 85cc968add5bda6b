"""What the relay and the device agents share: configuration, the wire contract, failure codes."""
