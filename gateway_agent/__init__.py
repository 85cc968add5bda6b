"""The device side: one agent per modem or phone, its backends, AT driver, PDU codec and emulator."""
