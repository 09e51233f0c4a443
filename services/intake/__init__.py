"""Intake service: records consultations (person, needs, consent) and announces them."""
