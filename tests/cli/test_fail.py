"""How a command ends on an error: one line, the right exit code, no secret."""

from __future__ import annotations

import json

import pytest

from trackline.cli.common import fail
from trackline.errors import UsageError


def test_an_unexpected_error_is_one_redacted_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    exc = RuntimeError(
        "could not reach postgresql://app:pa55word@db:5432/x?password=pa55word\nmore"
    )
    code = fail(exc, debug=False, json_output=True)
    out, err = capsys.readouterr()
    assert code == 1
    assert "pa55word" not in out + err
    assert err.count("\n") == 1 and err.startswith("error: unexpected RuntimeError")
    assert json.loads(out) == {"error": err.removeprefix("error: ").strip(), "exit_code": 1}


def test_an_unusable_call_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert fail(UsageError("no such dataset 'x'"), debug=False, json_output=False) == 2
    assert capsys.readouterr().err.strip() == "error: no such dataset 'x'"
