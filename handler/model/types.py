"""Column data types. Each serializes as ``{"kind": NAME, ...sizes}``."""

from __future__ import annotations

from handler.model.base import ModelObject


class _Type(ModelObject, tag_field="kind", tag=lambda name: name):
    """Base of the data types; the JSON tag is the class name."""


class TinyInt(_Type):
    pass


class SmallInt(_Type):
    pass


class Integer(_Type):
    pass


class BigInt(_Type):
    pass


class Float(_Type):
    pass


class Double(_Type):
    pass


class Decimal(_Type):
    """Fixed point: ``maxSize`` digits in all, ``precision`` of them after the point."""

    maxSize: int
    precision: int = 0


class VarChar(_Type):
    maxSize: int


class NVarChar(_Type):
    maxSize: int


class Char(_Type):
    maxSize: int


class String(_Type):
    """A string; unbounded when ``maxSize`` is None."""

    maxSize: int | None = None


class Date(_Type):
    pass


class Timestamp(_Type):
    pass


class Boolean(_Type):
    pass


class Variant(_Type):
    """Semi-structured data (JSON)."""


class Binary(_Type):
    maxSize: int | None = None


DataType = (
    TinyInt
    | SmallInt
    | Integer
    | BigInt
    | Float
    | Double
    | Decimal
    | VarChar
    | NVarChar
    | Char
    | String
    | Date
    | Timestamp
    | Boolean
    | Variant
    | Binary
)

#: Integer kinds from narrowest to widest.
INTEGER_KINDS = ("TinyInt", "SmallInt", "Integer", "BigInt")


def type_name(data_type: ModelObject) -> str:
    """``VarChar(20)``, ``Decimal(10,2)``, ``Date`` - as a model author writes it."""
    kind = type(data_type).__name__
    sizes = [getattr(data_type, f) for f in data_type.__struct_fields__ if getattr(data_type, f) is not None]
    return f"{kind}({','.join(map(str, sizes))})" if sizes else kind
