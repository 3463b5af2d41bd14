"""One-entry memory for the work the judge and the classifier both ask for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def last_call(function: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Remember the last call's answer: reading a kept article judges it, and reads its
    words, again right after the crawl did. The first argument (a topic or a model) is
    compared by identity, the rest (texts) by equality: a topic's hash costs more than
    the comparison, and a text's hash is work for a single use."""
    last: list[Any] = []

    @functools.wraps(function)
    def remembered(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        first, rest = args[0], (args[1:], kwargs)
        if last and last[0] is first and last[1] == rest:
            result: _Result = last[2]
            return result
        result = function(*args, **kwargs)
        last[:] = [first, rest, result]
        return result

    return remembered
