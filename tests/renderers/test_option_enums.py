"""Options reach the compiled ops by name: bound enums (renderers._ext.option_enum) instead of the
position of a string in a Python tuple. The Python choices equal the enums' names, so neither
can drift from the other, and an integer is refused where an option enum is expected."""

from __future__ import annotations

import pytest

from renderers import softras, zbuffer
from renderers._ext import extension, option_enum


@pytest.mark.parametrize(("enum_name", "choices"), [
    ("SoftDistance", softras.DIST_FUNCS),
    ("SoftAlphaAggregation", softras.ALPHA_AGGREGATIONS),
    ("SoftRgbAggregation", softras.RGB_AGGREGATIONS + ("none",)),
    ("SoftTextureType", softras.TEXTURE_KINDS),
    ("RasterTextureType", tuple("none" if kind is None else kind for kind in zbuffer.TEXTURE_KINDS)),
])
def test_python_choices_are_the_bound_enum_names(enum_name, choices):
    assert tuple(getattr(extension(), enum_name).__members__) == choices


def test_options_reach_the_params_by_name():
    options = softras.SoftRasOptions(dist_func="barycentric", aggr_alpha="sum", aggr_rgb="hard")
    params = softras.kernel_params(options, "vertex", silhouette_only=False)
    assert (params.dist_func.name, params.aggr_alpha.name, params.aggr_rgb.name, params.texture_type.name) == (
        "barycentric", "sum", "hard", "vertex")
    assert softras.kernel_params(options, "surface", silhouette_only=True).aggr_rgb.name == "none"
    assert zbuffer.raster_params(32, None).texture_type.name == "none"
    assert zbuffer.raster_params(32, "volume").texture_type.name == "volume"


def test_unknown_names_and_integers_are_refused():
    with pytest.raises(ValueError, match="unknown SoftDistance 'manhattan'; choices: euclidean, barycentric"):
        option_enum("SoftDistance", "manhattan")
    params = extension().SoftRasParams()
    with pytest.raises(TypeError):
        params.aggr_alpha = 1  # by position: refused
