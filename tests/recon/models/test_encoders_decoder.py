import pytest
import torch

from recon.models import ConvEncoder, MeshDecoder, ReconstructionNet, ResNetEncoder
from recon.models.build import build_network


@pytest.mark.parametrize("batch_norm", [True, False])
def test_conv_encoder_layout(batch_norm):
    enc = ConvEncoder(batch_norm=batch_norm)
    assert enc(torch.rand(3, 4, 64, 64)).shape == (3, 512)
    has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    assert has_bn == batch_norm
    linear = [m for m in enc.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(16384, 1024), (1024, 1024), (1024, 512)]


def test_network_outputs_shapes_and_colours():
    net = build_network({"name": "conv"}, {"predict_colors": True})
    pred = net(torch.rand(2, 4, 64, 64))
    assert pred.vertices.shape == (2, 642, 3) and pred.faces.shape == (1280, 3)
    assert pred.colors.shape == (2, 642, 3) and 0 <= pred.colors.min() and pred.colors.max() <= 1
    with pytest.raises(ValueError, match="RGBA"):
        net(torch.rand(2, 3, 64, 64))


def test_decoder_and_builder_errors():
    with pytest.raises(ValueError, match="parameterization"):
        MeshDecoder(parameterization="nope")
    with pytest.raises(ValueError, match="unknown encoder"):
        build_network({"name": "vit"}, {})
    with pytest.raises(ValueError, match="latent_dim"):
        build_network({"name": "conv", "latent_dim": 256}, {"latent_dim": 512})


def test_resnet_loads_local_weights_and_widens_to_rgba(tmp_path):
    from torchvision.models import resnet18

    reference = resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    enc = ResNetEncoder(18, weights=path)
    conv = enc.trunk.conv1.weight
    assert torch.equal(conv[:, :3], reference.conv1.weight)
    assert torch.allclose(conv[:, 3], reference.conv1.weight.mean(1))
    assert torch.equal(enc.trunk.layer4[0].conv1.weight, reference.layer4[0].conv1.weight)
    assert ReconstructionNet(enc, MeshDecoder())(torch.rand(2, 4, 64, 64)).vertices.shape == (2, 642, 3)


def test_resnet_weight_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        ResNetEncoder(18, weights=tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        ResNetEncoder(18, weights=bad)
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ValueError, match="does not match"):
        ResNetEncoder(34, weights=wrong)
    with pytest.raises(ValueError, match="depth"):
        ResNetEncoder(50)
