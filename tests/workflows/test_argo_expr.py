"""The Argo expressions the local runner evaluates."""

from __future__ import annotations

import pytest

from workflows.argo_expr import ExpressionError, condition, evaluate, substitute


def test_substitution_and_expressions() -> None:
    values = {"inputs.parameters.iteration": "3", "steps.merge.outputs.parameters.outcome": "keep_working"}
    assert substitute("run {{inputs.parameters.iteration}}", values) == "run 3"
    assert substitute("{{=asInt(inputs.parameters.iteration) + 1}}", values) == "4"
    when = substitute(
        "'{{steps.merge.outputs.parameters.outcome}}' == 'keep_working' && {{inputs.parameters.iteration}} < 10", values
    )
    assert condition(when) is True
    assert condition("'done' == 'keep_working' || 11 < 10") is False
    assert evaluate("asInt(lastRetry.exitCode) == 75", {"lastRetry.exitCode": "75"}) is True


def test_anything_else_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="unknown variable"):
        substitute("{{workflow.secret}}", {})
    with pytest.raises(ExpressionError, match=r"only asInt|unsupported construct"):
        condition("__import__('os').system('true')")
    with pytest.raises(ExpressionError):
        evaluate("open(inputs.parameters.x)", {"inputs.parameters.x": "/etc/passwd"})
