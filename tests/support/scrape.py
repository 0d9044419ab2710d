"""Reading ``GET /metrics`` in tests: the samples of one scrape, by name and labels.

Counters are process-wide (prometheus_client's default registry), and several tests' servers
run in one test process: assert on the difference between two scrapes, not on totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly these labels; 0 when the scrape has none."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def labels_of(self, name: str, label: str) -> set[str]:
        """Every value ``label`` takes among the samples called ``name``."""
        return {dict(key)[label] for sample, key in self.samples if sample == name and label in dict(key)}


def parse(text: str) -> Scrape:
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return Scrape(text, samples)


async def scrape(http: httpx.AsyncClient, token: str, base_url: str = "") -> Scrape:
    """One scrape with the right token; fails the test on anything but 200."""
    response = await http.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return parse(response.text)
