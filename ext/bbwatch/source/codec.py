"""The one codec: msgspec, straight between bytes and the records of ``bbwatch.models`` and
``bbwatch.logs`` (msgspec Structs and dataclasses; no dicts in between, no hand-written field
lists).

- ``pack``/``unpack``: MessagePack, for the store (``bbwatch.source.store``).
- ``dump_json``/``load_json``: readable JSON (sorted keys and sets, indented), for files
  people diff: snapshots (``bbwatch.source.snapshot``) and golden files of the tests.
- ``plain``: builtins (dict, list, str, ...) with sorted keys and sets, e.g. to hash.

``unpack`` and ``load_json`` check types as they decode: anything malformed raises
``CodecError`` (a ``ValueError``), never gives a half-filled object.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

_ENCODER = msgspec.msgpack.Encoder()
_JSON_ENCODER = msgspec.json.Encoder(order="sorted")


class CodecError(ValueError):
    """Bytes that are not a value of the type asked for."""


@functools.cache
def _decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(type_)


@functools.cache
def _json_decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def pack(value: object) -> bytes:
    return _ENCODER.encode(value)


def unpack(raw: bytes, type_: type[T]) -> T:
    try:
        return _decoder(type_).decode(raw)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as exc:
        raise CodecError(str(exc)) from None


def dump_json(value: object) -> str:
    """Readable JSON: keys and sets sorted, one key a line, UTF-8 kept (not ``\\u`` escaped)."""
    return msgspec.json.format(_JSON_ENCODER.encode(value), indent=1).decode() + "\n"


def load_json(raw: bytes | str, type_: type[T]) -> T:
    try:
        return _json_decoder(type_).decode(raw)  # type: ignore[no-any-return]
    except msgspec.MsgspecError as exc:
        raise CodecError(str(exc)) from None


def plain(value: object) -> Any:
    """``value`` as builtins (dataclasses become dicts, tuples and sets lists), sorted."""
    return msgspec.to_builtins(value, order="sorted")
