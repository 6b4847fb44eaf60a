"""docs/csi-driver.md's table of metrics is the registry's: every family the driver serves, with its
type, labels and the help text its code gives it, so the metric's definition stays its one owner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rds_csi import appliance, metrics  # importing appliance registers the appliance families

DOCS = Path(__file__).resolve().parents[2] / "docs" / "csi-driver.md"
KINDS = {
    "counter": "counter, scraped as `<name>_total`",
    "gauge": "gauge",
    "histogram": "histogram (`_bucket`, `_sum`, `_count`)",
}


def label_names() -> dict[str, tuple[str, ...]]:
    """Each family's label names. prometheus_client keeps them only in ``_labelnames`` (of a metric
    object, and of a family a custom collector yields); a change there fails this test, not the driver."""
    names: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if hasattr(value, "_labelnames") and hasattr(value, "describe"):
            for family in value.describe():
                names[family.name] = tuple(value._labelnames)
    for family in appliance.APPLIANCE.describe():
        names[family.name] = tuple(getattr(family, "_labelnames"))  # noqa: B009
    return names


def metrics_markdown() -> str:
    labels = label_names()
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    # The appliance's families are served after the registry's, pre-rendered per collection round.
    for family in [*metrics.REGISTRY.collect(), *appliance.APPLIANCE.describe()]:
        rows.append(row(family, labels[family.name]))
    return "\n".join(rows) + "\n"


def row(family: Any, labels: tuple[str, ...]) -> str:
    shown = ", ".join("`%s`" % name for name in labels)
    return "| `%s` | %s | %s | %s |" % (
        family.name,
        KINDS[family.type],
        shown,
        family.documentation.replace("|", "\\|"),
    )


def test_the_documented_table_of_metrics_is_the_registry() -> None:
    text = DOCS.read_text(encoding="utf-8")
    expected = metrics_markdown()
    header = expected.splitlines()[0]
    assert header in text, "docs/csi-driver.md has no table of metrics starting with %r" % header
    start = text.index(header)
    documented = text[start : text.index("\n\n", start) + 1]
    assert documented == expected, (
        "docs/csi-driver.md's table of metrics differs from the registry (csi_driver/rds_csi/metrics.py, "
        "appliance.py); replace it with:\n\n" + expected
    )
