import copy

import pytest
import torch
from torch import nn

from torchgeo_geossl.models import create_encoder, use_channels_last


def last_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The last batch norm of every residual branch of a timm ResNet."""
    norms = []
    for name, module in model.named_modules():
        if type(module).__name__ in {'BasicBlock', 'Bottleneck'}:
            last = module.bn3 if hasattr(module, 'bn3') else module.bn2
            assert isinstance(last, nn.BatchNorm2d), name
            norms.append(last)
    return norms


@pytest.mark.parametrize(('name', 'blocks'), [('resnet18', 8), ('resnet50', 16)])
def test_residual_branches_are_not_zero_initialised(name: str, blocks: int) -> None:
    # torchvision's ResNet (zero_init_residual=False), as the GASSL and SeCo
    # reference code: every batch norm starts with gamma = 1 and beta = 0
    model = create_encoder(name, in_channels=3)
    norms = last_norms(model)
    assert len(norms) == blocks
    for norm in norms:
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.equal(module.bias, torch.zeros_like(module.bias))


@pytest.mark.parametrize('size', [32, 64])
def test_untrained_output_depends_on_the_whole_image(size: int) -> None:
    torch.manual_seed(0)
    model = create_encoder('resnet18', in_channels=3).eval()
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        reference = model(x)
        for row, col in [(size - 1, size - 1), (size - 1, 0), (0, size - 1)]:
            changed = x.clone()
            changed[..., row, col] += 1.0  # one pixel far from the top-left corner
            assert not torch.allclose(model(changed), reference, rtol=0, atol=1e-6)


def test_models_without_residual_blocks() -> None:
    model = create_encoder('efficientnet_b0', in_channels=4)
    assert model(torch.rand(2, 4, 32, 32)).shape == (2, model.num_features)


def test_channels_last_gives_the_same_features() -> None:
    torch.manual_seed(0)
    model = create_encoder('resnet18', in_channels=4).eval()
    x = torch.rand(2, 4, 32, 32)
    expected = model(x)
    fast = use_channels_last(copy.deepcopy(model))
    inputs: list[torch.Tensor] = []
    fast.conv1.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    out = fast(x)
    assert inputs[0].is_contiguous(memory_format=torch.channels_last)
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    # the same numbers, summed in another order: float32 rounding only
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)
    # a momentum copy keeps the format and the hook
    inputs.clear()
    copy.deepcopy(fast)(x)
    assert inputs[0].is_contiguous(memory_format=torch.channels_last)
