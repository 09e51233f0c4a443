"""When a password login may be tried: throttling per account and client address with
growing delays, and a limit on failed logins across all accounts.

Plain rules over what happened (counts and times); intake's accounts module reads and
records the attempts. Unknown user names are throttled exactly like accounts, so the
answers never tell which accounts exist."""
from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    # per (account, client address): a few free tries, then a delay that doubles, capped
    free_failures: int = 5
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=15)
    counted_for: timedelta = timedelta(hours=24)  # older failures are forgiven
    # across all accounts and addresses (password spraying): beyond this, logins wait
    global_failures: int = 60
    global_window: timedelta = timedelta(minutes=1)
    # ... except an account from an address it logged in from before (staff at their desks)
    known_address_for: timedelta = timedelta(days=30)

    def delay_after(self, failures: int) -> timedelta | None:
        """The wait after `failures` failed logins in a row of one account from one address."""
        if failures < self.free_failures:
            return None
        doublings = min(failures - self.free_failures, 32)  # 2**32 x 30 s is past any cap
        return min(self.first_delay * 2 ** doublings, self.max_delay)


@dataclass(frozen=True)
class PairHistory:
    """Failed logins of one account from one address since its last success there."""
    failures: int
    last_failure_at: datetime | None
    known_address: bool  # a successful login from there within known_address_for


@dataclass(frozen=True)
class Throttled:
    until: datetime
    scope: str  # "account" (this account from this address) or "global"


def verdict(policy: ThrottlePolicy, pair: PairHistory, recent_failures: int,
            now: datetime) -> Throttled | None:
    """None if the login may be tried now; else until when it must wait. `recent_failures`:
    failed logins of all accounts within the policy's global window."""
    delay = policy.delay_after(pair.failures)
    if delay is not None and pair.last_failure_at is not None:
        until = pair.last_failure_at + delay
        if until > now:
            return Throttled(until, "account")
    if recent_failures >= policy.global_failures and not pair.known_address:
        return Throttled(now + policy.global_window, "global")
    return None


DEFAULT_POLICY = ThrottlePolicy()


def client_key(address: str) -> str:
    """Whom an address stands for: an IPv6 client holds a whole /64 (one customer's prefix)
    and could otherwise take new free tries from each of its addresses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:203.0.113.9 is that IPv4 client
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


def plausible_name(username: str) -> bool:
    """No account name holds control characters (NUL, ESC, CR/LF ...): such a login is
    answered like any unknown name without being looked up (a NUL breaks PostgreSQL text)."""
    return not any(unicodedata.category(c) == "Cc" for c in username)
