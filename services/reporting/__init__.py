"""Reporting service: the centre's figures, built from the event stream into tables of its own."""
