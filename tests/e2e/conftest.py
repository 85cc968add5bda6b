from e2e_gateway import gateway  # noqa: F401  (the running gateway every end-to-end test drives)
