from tests.hub.tickets.conftest import desk_hub  # noqa: F401  (the same desk hub fixture)
