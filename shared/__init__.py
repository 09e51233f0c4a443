"""Mechanisms every Lotse service needs exactly once: config, DB, events, bus, auth, logging."""
