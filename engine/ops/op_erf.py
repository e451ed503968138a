"""Erf: elementwise Gauss error function (Cephes rational approximations evaluated in float64)."""

from engine.ops._elementwise import erf as _erf
from engine.ops.registry import register


@register("Erf", since=9)
def erf(x):
    return (_erf(x),)
