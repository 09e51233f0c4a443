"""The machinery of typed events: frozen dataclasses read from and written to the JSON values
of their payload contract, field by field, by their type hints.

An event class (shared/events/model.py) names its contract's type and version as class
attributes, has a `subject` and writes its payload with `data()`; `UnitOfWork.publish`
stages it, and the contract checks it there, as it leaves (new_envelope). An incoming
envelope was checked as it entered (parse_envelope: its attributes, a known contract, the
payload's field names); `from_envelope` converts each field by its type hint and refuses a
value of another type (InvalidEvent), so a handler reading typed events meets no payload its
contract would refuse in shape. `from_data` checks the whole contract first, for payloads
from anywhere else (the contract proper runs once per event, at its producer).
"""
from __future__ import annotations

import enum
import types
import typing
import uuid
from dataclasses import MISSING, fields
from datetime import date, datetime
from typing import Any, Callable, ClassVar, Mapping, Self

from shared.events.envelope import Envelope, InvalidEvent

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _exactly(kind: type) -> Convert:
    """A JSON scalar read as is, if it is of the hinted type (a bool is no int here)."""
    def read(value: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidEvent(f"expected {kind.__name__}, got {type(value).__name__}")
        return value
    return read


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _jsonable(value: Any) -> Any:
    """Plain JSON values of an untyped part (a dict passed on as received)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (date, uuid.UUID)):  # datetime is a date too
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _each(convert: Convert, into: type) -> Convert:
    return lambda value: into(convert(v) for v in value)


def _converters(hint: Any) -> tuple[Convert, Convert]:
    """(read a JSON value into the hinted type, write the typed value as a JSON value)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"only `X | None` unions are supported, not {hint!r}")
        read, write = _converters(inner[0])
        return _optional(read), _optional(write)
    if origin is tuple:
        read, write = _converters(typing.get_args(hint)[0])
        return _each(read, tuple), _each(write, list)
    if origin is dict or hint is Any:
        return _same, _jsonable
    if isinstance(hint, type):
        if issubclass(hint, Part):
            return hint.from_wire, hint.wire
        if issubclass(hint, enum.Enum):
            return hint, lambda member: hint(member).value
        if hint is uuid.UUID:
            return _as_uuid, str
        if hint is datetime:
            return _as_datetime, datetime.isoformat
        if hint is date:
            return _as_date, date.isoformat
        if hint in (str, int, bool):
            return _exactly(hint), _same
    raise TypeError(f"no JSON reading for {hint!r}")


class _Field(typing.NamedTuple):
    attribute: str
    wire: str  # the contract's name for it (`version` is taken by the contract version)
    required: bool
    read: Convert
    write: Convert


class Part:
    """A frozen dataclass that is (part of) an event payload. A field's metadata may give
    its contract name (`wire`) where the attribute is called otherwise."""

    __plans: ClassVar[dict[type, tuple[_Field, ...]]] = {}

    @classmethod
    def _plan(cls) -> tuple[_Field, ...]:
        plan = Part.__plans.get(cls)
        if plan is None:
            hints = typing.get_type_hints(cls)
            plan = tuple(_Field(f.name, f.metadata.get("wire", f.name),
                                f.default is MISSING and f.default_factory is MISSING,
                                *_converters(hints[f.name])) for f in fields(cls))  # type: ignore[arg-type]
            Part.__plans[cls] = plan
        return plan

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """Built from JSON values (or values already typed); optional fields left out take
        their defaults. Each value must be of its hinted type (InvalidEvent names the field);
        the contract's other rules are checked by `TypedEvent.from_data`."""
        if not isinstance(data, Mapping):
            raise InvalidEvent(f"{cls.__name__}: expected an object, got {type(data).__name__}")
        values = {}
        for f in cls._plan():
            if f.required or f.wire in data:
                try:
                    values[f.attribute] = f.read(data[f.wire])
                except KeyError:
                    raise InvalidEvent(f"{cls.__name__}.{f.wire}: missing") from None
                except (TypeError, ValueError, InvalidEvent) as exc:
                    raise InvalidEvent(f"{cls.__name__}.{f.wire}: {exc}") from None
        return cls(**values)

    def wire(self) -> dict[str, Any]:
        """The JSON values, named as in the contract."""
        return {f.wire: f.write(getattr(self, f.attribute)) for f in self._plan()}


class TypedEvent(Part):
    """One event contract version as a frozen dataclass (see the module docstring)."""

    type: ClassVar[str]
    version: ClassVar[int]

    @property
    def subject(self) -> str:
        raise NotImplementedError

    def data(self) -> dict[str, Any]:
        """The payload as JSON values; the contract checks it when it is staged."""
        return self.wire()

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> Self:
        """This event from an envelope of its type and version (its field names checked when
        it was parsed, its whole contract when it was built); InvalidEvent names a value
        that is missing or of another type."""
        if (envelope.type, envelope.schemaversion) != (cls.type, cls.version):
            raise InvalidEvent(f"{cls.__name__} is {cls.type} v{cls.version}, not "
                               f"{envelope.type} v{envelope.schemaversion}")
        return cls.from_wire(envelope.data)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        """This event from a payload checked against its contract first (InvalidEvent)."""
        from shared.events.contracts import validate_payload

        return cls.from_wire(validate_payload(cls.type, cls.version, dict(data)))
