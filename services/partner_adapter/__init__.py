"""Partner adapter: turns referrals into cases in partner systems and brings their answers back."""
