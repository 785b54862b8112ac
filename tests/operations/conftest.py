"""Operations fixtures: the app with /metrics behind a token, and a scrape parser."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings

METRICS_TOKEN = "metrics-secret-for-tests-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(metrics_token=METRICS_TOKEN)


class Scrape:
    """One /metrics answer, parsed: `value(name, **labels)` is the sample's value (0 when
    the series is absent: a counter never incremented), `has(name)` whether it is there."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str) -> bool:
        return any(key[0] == name for key in self.samples)


async def scrape(http: httpx.AsyncClient, token: str = METRICS_TOKEN) -> Scrape:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)
