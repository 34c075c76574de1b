"""The small part of Argo's expression languages the rendered workflows use, evaluated safely.

``{{path.to.value}}`` substitution, ``{{=asInt(x) + 1}}`` expressions, and ``when`` conditions
(``'a' == 'b'``, ``<``, ``&&``, ``||``). Parsed with Python's ``ast`` and evaluated by a whitelist:
anything else is an error, never ignored.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

_TEMPLATE = re.compile(r"\{\{\s*(=?)([^{}]+?)\s*\}\}")


class ExpressionError(Exception):
    pass


def substitute(text: str, values: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        is_expression, body = match.group(1), match.group(2).strip()
        if is_expression:
            return str(evaluate(body, values))
        if body not in values:
            raise ExpressionError(f"unknown variable {{{{{body}}}}}")
        return values[body]

    return _TEMPLATE.sub(replace, text)


def evaluate(expression: str, values: Mapping[str, str]) -> Any:
    """An ``{{=...}}`` expression: variables by dotted name, asInt(), + - and comparisons."""
    names: dict[str, str] = {}

    def name_for(match: re.Match[str]) -> str:
        dotted = match.group(0)
        if dotted in ("asInt",):
            return dotted
        if dotted not in values:
            raise ExpressionError(f"unknown variable {dotted} in {expression!r}")
        key = f"v{len(names)}"
        names[key] = values[dotted]
        return key

    python = re.sub(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)+|asInt", name_for, expression)
    return _eval(python, names, expression)


def condition(expression: str) -> bool:
    """An Argo ``when`` after substitution: ``'x' == 'y' && 3 < 10``."""
    python = expression.replace("&&", " and ").replace("||", " or ")
    result = _eval(python, {}, expression)
    if not isinstance(result, bool):
        raise ExpressionError(f"condition {expression!r} is not true or false")
    return result


_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Call,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
)


def _eval(python: str, names: dict[str, str], original: str) -> Any:
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {original!r}") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(f"unsupported construct {type(node).__name__} in {original!r}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id == "asInt"):
            raise ExpressionError(f"only asInt() may be called in {original!r}")
    env: dict[str, Any] = {"asInt": lambda v: int(str(v).strip()), **names}
    return eval(compile(tree, "<argo>", "eval"), {"__builtins__": {}}, env)  # noqa: S307 - whitelisted AST only
