"""The four verdicts and the exceptions that produce them. Blame is in the type, never in a message.

=================  ==============================  ===============  ================  ===========
exception          verdict                         pytest outcome   Allure status     exit code
=================  ==============================  ===============  ================  ===========
(none)             PASS                            passed           passed            0
SutFailure         FAIL: the SUT broke a rule      failed           failed            1
SutTimeout         FAIL: the SUT stayed silent     failed           failed            1
Inconclusive       INCONCLUSIVE                    skipped          skipped           1
HarnessError, any  ERROR: harness or configuration failed           broken            3
other exception
=================  ==============================  ===============  ================  ===========

``SutFailure`` subclasses ``AssertionError`` so that pytest and Allure call it a failure; every other
exception is an ERROR (Allure: broken). INCONCLUSIVE goes through ``pytest.skip`` with a ``INCONCLUSIVE:``
prefix, and the verdict itself is written to the case's result file, which the CLI and reports read, so a
skip is never mistaken for a pass nor a FAIL for a skip.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from harness.evidence import clip


class Verdict(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


@dataclass(frozen=True)
class StepRef:
    """Where in the Part 6 table something happened: the step number and the requirement ids it checks."""

    number: str = ""
    title: str = ""
    requirements: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.number and not self.title:
            return "before the first step"
        text = f"step {self.number}" if self.number else "step"
        if self.title:
            text += f" ({self.title})"
        if self.requirements:
            text += f" [{', '.join(self.requirements)}]"
        return text


class SutFailure(AssertionError):
    """The SUT broke a requirement: FAIL. Names the step, the requirement and quotes the frame.

    ``validation`` is the id of the Part 6 validation the failure breaks ("step 6", "post 1", or a §2.1
    monitor rule such as "§2.1 seqNo"), so that the self-test can tell which check a fault killed.
    ``requirement_text`` quotes Part 2 for the requirement named. The reason and the frame are kept to
    QUOTE_LIMIT bytes each (cut with their size and sha256, see :mod:`harness.evidence`): a verdict quoting a
    16 MiB frame would be copied into every report whole."""

    def __init__(
        self,
        reason: str,
        step: StepRef,
        requirement: str = "",
        frame: str | None = None,
        *,
        validation: str = "",
        requirement_text: str = "",
    ) -> None:
        self.reason = clip(reason)
        self.step = step
        self.requirement = requirement or ", ".join(step.requirements)
        self.frame = None if frame is None else clip(frame)
        self.validation = validation
        self.requirement_text = requirement_text
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"FAIL at {self.step}"
        if self.validation:
            text += f", validation {self.validation}"
        text += f": {self.reason}"
        if self.requirement:
            text += f" (requirement {self.requirement})"
        if self.requirement_text:
            text += f"\n  {self.requirement_text}"
        if self.frame is not None:
            text += f"\n  offending frame: {self.frame}"
        return text


class SutTimeout(SutFailure):
    """The SUT did not send what the step expects within the deadline: FAIL."""


class TransportFailure(SutFailure):
    """The SUT broke Part 4's transport rules while the harness connected (the handshake): FAIL. Every case needs
    the connection, so when it happens before a case (the prelude, a restore) that case FAILs with it too."""


class Inconclusive(Exception):
    """A precondition, an optional feature or a manual action is not available: INCONCLUSIVE. The reason is kept
    to QUOTE_LIMIT bytes, as a FAIL's."""

    def __init__(self, reason: str) -> None:
        self.reason = clip(reason)
        super().__init__(f"INCONCLUSIVE: {reason}")


class HarnessError(Exception):
    """The harness or its configuration failed: ERROR. The SUT is not to blame."""


def verdict_of(error: BaseException | None) -> Verdict:
    """The verdict an exception (or its absence) stands for."""
    if error is None:
        return Verdict.PASS
    if isinstance(error, SutFailure):
        return Verdict.FAIL
    if isinstance(error, Inconclusive):
        return Verdict.INCONCLUSIVE
    return Verdict.ERROR
