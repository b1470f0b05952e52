"""The command line's argument types (argparse ``type=``): each checks a value where argparse reads it.

A bad value is a one-line usage error (exit 2) before anything is loaded,
contacted or changed.  Every subcommand of `cam.cli` takes its numbers,
files and values through them.

>>> positive_int("3"), seconds("0.5"), port("7700")
(3, 0.5, 7700)
>>> seconds("nan")
Traceback (most recent call last):
  ...
argparse.ArgumentTypeError: expected a number of seconds more than 0 and at most 1,000,000,000, not 'nan'
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from cam.code import Value
from cam.spec import parse_state
from cam.text import ParseError, from_json

__all__ = ["MAX_SECONDS", "positive_int", "natural", "seconds", "port", "readable", "tls_ca", "signing_key",
           "fifo_path", "type_text", "input_value"]

MAX_SECONDS = 1e9
"""The longest wait any flag takes (about 31 years): a socket's timeout cannot be much longer."""


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a budget, a count, a size)."""
    return _whole(text, 1)


def natural(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    return _whole(text, 0)


def _whole(text: str, low: int) -> int:
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < low:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least {low}, not {text!r}")
    return n


def seconds(text: str) -> float:
    """An argparse type: seconds, more than 0 and finite (at most `MAX_SECONDS`): a timeout, an interval."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not 0 < x <= MAX_SECONDS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a number of seconds more than 0 and at most {MAX_SECONDS:,.0f}, "
                                         f"not {text!r}")
    return x


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: any free one, for a node)."""
    n = _whole(text, 0)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port from 0 to 65535, not {text!r}")
    return n


def readable(path: str) -> str:
    """An argparse type: the path of a file this process can read (opened and closed here, so that the error names
    the file: ``ssl`` and ``os.mkfifo`` say only "No such file or directory")."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {e.strerror or e}") from None
    return path


def tls_ca(path: str) -> Any:
    """An argparse type: a TLS client context trusting the PEM certificate(s) in `path` (``--tls-ca``)."""
    import ssl

    readable(path)
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as e:
        raise argparse.ArgumentTypeError(f"{path} holds no PEM certificate to trust ({e.reason or e})") from None


def signing_key(path: str) -> str:
    """An argparse type: the path of an Ed25519 private key (``--key``, as ``cam keygen`` writes NAME.key)."""
    from cam import auth

    readable(path)
    try:
        auth.sign(path, b"")  # loads the key as signing will
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{path} is not an Ed25519 private key in PEM (cam keygen NAME writes "
                                         f"NAME.key; NAME.pub is the node's --trust): {e}") from None
    except RuntimeError as e:  # no `cryptography`
        raise argparse.ArgumentTypeError(str(e)) from None
    return path


def fifo_path(path: str) -> str:
    """An argparse type: where the node's named pipe is or will be made (its directory must exist)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot make the named pipe {path}: the directory {folder} does not exist")
    return path


def type_text(text: str) -> Any:
    """An argparse type: a type's text, e.g. ``Either () ()`` (`catlib.types.parse`)."""
    from catlib.types import TypeParseError, parse

    try:
        return parse(text)
    except TypeParseError as e:
        raise argparse.ArgumentTypeError(f"the type {text!r} does not parse: {e}") from None


def input_value(text: str) -> Value:
    """An argparse type: a value in the reference's text form, a Python literal (`cam.spec.parse_state`), or the
    JSON value document of `cam.text.to_json` (``{"format": "cam-bytecode", "version": 1, "value": ...}``, read as
    a request's ``"input"`` is: `cam.text.from_json`)."""
    try:
        if text.lstrip().startswith("{"):
            v = from_json(text)
            if not isinstance(v, Value):
                raise ParseError("$", "a value document ('value')", "a code document ('code')")
            return v
        return parse_state(text)
    except ParseError as e:
        raise argparse.ArgumentTypeError(f"the value does not parse: {e}") from None
