"""Each service's tables.py matches its migrations on PostgreSQL too (see
tests/component/test_schema_matches_tables.py): autogenerate proposes nothing."""
from __future__ import annotations

import pytest

from shared.config import SERVICES
from tests.integration.conftest import fresh_database
from tests.schema_drift import proposed_changes

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
def test_autogenerate_proposes_nothing_for_a_postgresql_database_migrated_to_head(service):
    # a database of the service's own: the other services' tables would be proposed for dropping
    with fresh_database("lotse_schema", services=(service,)) as url:
        assert proposed_changes(url, service) == []
