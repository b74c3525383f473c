"""Figures of several runs reduced to median/min/max, and the table printed at the end."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Series:
    """One measured quantity (e.g. events/s of the hub at 8 connections) over several runs."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    def summary(self) -> dict[str, Any]:
        if not self.values:
            return {"unit": self.unit, "runs": 0}
        return {
            "unit": self.unit,
            "runs": len(self.values),
            "median": statistics.median(self.values),
            "min": min(self.values),
            "max": max(self.values),
        }


class Results:
    """All series of one benchmark, plus notes and derived ratios."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.series: dict[str, Series] = {}
        self.notes: list[str] = []
        self.ratios: dict[str, float] = {}

    def series_for(self, name: str, unit: str) -> Series:
        if name not in self.series:
            self.series[name] = Series(name, unit)
        return self.series[name]

    def median(self, name: str) -> float:
        return statistics.median(self.series[name].values) if self.series.get(name, Series("", "")).values else 0.0

    def ratio(self, name: str, numerator: str, denominator: str) -> None:
        base = self.median(denominator)
        if base:
            self.ratios[name] = self.median(numerator) / base

    def to_json(self) -> dict[str, Any]:
        return {
            "series": {n: s.summary() for n, s in self.series.items()},
            "ratios": self.ratios,
            "notes": self.notes,
        }

    def table(self) -> str:
        lines = [f"== {self.benchmark}"]
        for s in self.series.values():
            d = s.summary()
            if d["runs"]:
                spread = f"(min {d['min']:,.1f}, max {d['max']:,.1f}, n={d['runs']})"
                lines.append(f"  {s.name:<46} {d['median']:>12,.1f} {s.unit:<9} {spread}")
        for n, r in self.ratios.items():
            lines.append(f"  {n:<46} {r:>12.2f}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)
