"""Check results collected into a report that prints as a pass/fail table."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vlarl.errors import ContractError

Status = Literal["pass", "fail", "skip"]


@dataclass
class CheckResult:
    name: str
    status: Status
    detail: str = ""


class CheckFailed(AssertionError):
    """Raised inside a check to fail it with a message."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class SkipCheck(Exception):
    """Raised inside a check that does not apply (e.g. no episode ended)."""


@dataclass
class Report:
    subject: str
    results: list[CheckResult] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], str | None]) -> bool:
        """Run one check; exceptions become failures with their message."""
        try:
            detail = fn() or ""
            self.results.append(CheckResult(name, "pass", detail))
            return True
        except SkipCheck as exc:
            self.results.append(CheckResult(name, "skip", str(exc)))
        except CheckFailed as exc:
            self.results.append(CheckResult(name, "fail", str(exc)))
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            where = f" (at {tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})"
            self.results.append(CheckResult(name, "fail", f"{type(exc).__name__}: {exc}{where}"))
        return False

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]

    def table(self) -> str:
        width = max((len(r.name) for r in self.results), default=10)
        lines = [f"{self.subject}: {'PASS' if self.ok else 'FAIL'}"]
        for r in self.results:
            lines.append(f"  {r.status.upper():4}  {r.name:<{width}}  {r.detail}")
        return "\n".join(lines)

    def raise_if_failed(self) -> Report:
        if not self.ok:
            raise ContractError(
                f"{self.subject} breaks the contract:\n{self.table()}",
                "Fix each FAIL row above; the docstrings of vlarl.contracts describe the rules.",
            )
        return self
