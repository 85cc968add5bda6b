"""Status reports: which send each one is about, and what it makes of its message."""
