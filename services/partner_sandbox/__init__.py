"""Partner sandbox: stands in for the welfare, Jobcenter and registration office systems.

It is not part of Lotse in production. It gives the demo and the tests partner systems with
their own storage and APIs: idempotent case creation, switchable failures (5xx, timeouts,
slowness) and signed status callbacks back to Lotse.
"""
