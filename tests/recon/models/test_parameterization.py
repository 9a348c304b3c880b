import pytest
import torch

from recon.models.parameterization import PARAMETERIZATIONS
from recon.models.template import icosphere


@pytest.mark.parametrize("name", sorted(PARAMETERIZATIONS))
def test_starts_at_base_and_stays_in_the_unit_cube(name):
    base = 0.25 * icosphere(3)[0]
    fn = PARAMETERIZATIONS[name]
    zero = fn(base, torch.zeros(2, 3), torch.zeros(2, 642, 3))
    assert torch.allclose(zero, base.expand(2, -1, -1), atol=1e-5)
    wild = fn(base, 50 * torch.randn(4, 3), 50 * torch.randn(4, 642, 3))
    assert wild.abs().max() <= 0.5 and torch.isfinite(wild).all()


def test_softras_freezes_zero_coordinates_and_tanh_does_not():
    base = 0.25 * icosphere(3)[0]
    offset = torch.ones(1, 642, 3, requires_grad=True)
    zero = base == 0
    assert zero.any()
    for name, frozen in (("softras", True), ("tanh", False)):
        offset.grad = None
        v = PARAMETERIZATIONS[name](base, torch.zeros(1, 3), offset)
        v.sum().backward()
        moved = v[0][zero] != 0
        assert (not moved.any()) if frozen else moved.all(), name
        assert (offset.grad[0][zero] == 0).all() == frozen, name
