"""Referral service: routes an intake's needs to partners and follows each referral's status."""
