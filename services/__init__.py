"""Lotse services: intake, referral, partner_adapter (and the partner sandbox stand-in)."""
