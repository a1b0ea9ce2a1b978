from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import resnet18

import engine.models as model_zoo
from engine.evaluation.gradcam import (GradCamResult, feature_map_grid, feature_maps,
                                       gradcam_overlay, list_feature_layers)
from engine.evaluation.heatmap import HEAT_OPACITY, blend_heatmap, colour_scale_stops
from engine.models.custom_cnn import CONV_GRID, CustomCNN1
from tests.engine.evaluation.conftest import MEAN, STD, random_image, tiny_vit, vit_tokens_to_grid

CNN_SIZE = 64


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return resnet18(weights=None, num_classes=3)


@pytest.fixture(scope="module")
def vit() -> nn.Module:
    return tiny_vit(image_size=64)


def _check_result(result: GradCamResult, size: int) -> None:
    assert result.overlay.shape == (size, size, 3) and result.overlay.dtype == np.uint8
    assert result.heatmap.shape == (size, size) and result.heatmap.dtype == np.float32
    assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
    assert result.heatmap.max() > 0.5  # a real map, not all zeros
    assert 0 <= result.predicted_index < 3
    assert 1 / 3 <= result.confidence <= 1.0  # the argmax of 3 softmax outputs


def test_resnet18_overlay(cnn: nn.Module) -> None:
    result = gradcam_overlay(cnn, "resnet18", random_image(CNN_SIZE), MEAN, STD,
                             target_layers=[cnn.layer4[-1]])
    _check_result(result, CNN_SIZE)
    # Explaining the predicted class by name is the same as the default.
    explicit = gradcam_overlay(cnn, "resnet18", random_image(CNN_SIZE), MEAN, STD,
                               target_index=result.predicted_index, target_layers=[cnn.layer4[-1]])
    np.testing.assert_allclose(explicit.heatmap, result.heatmap, atol=1e-5)


def test_vit_overlay(vit: nn.Module) -> None:
    result = gradcam_overlay(vit, "vit", random_image(64), MEAN, STD,
                             target_layers=[vit.encoder.layers[-1].ln_1],
                             reshape_transform=vit_tokens_to_grid)
    _check_result(result, 64)


def test_model_in_training_keeps_its_modes_and_gradients(cnn: nn.Module) -> None:
    cnn.train()
    cnn.bn1.eval()  # e.g. a frozen batch-norm kept in eval while fine-tuning
    cnn.fc.weight.grad = torch.ones_like(cnn.fc.weight)
    try:
        gradcam_overlay(cnn, "resnet18", random_image(CNN_SIZE), MEAN, STD,
                        target_layers=[cnn.layer4[-1]])
        assert cnn.training and cnn.layer1.training and not cnn.bn1.training
        assert torch.equal(cnn.fc.weight.grad, torch.ones_like(cnn.fc.weight))
        assert cnn.conv1.weight.grad is None
    finally:
        cnn.eval()
        cnn.fc.weight.grad = None


def test_frozen_backbone_still_gets_a_map() -> None:
    model = resnet18(weights=None, num_classes=3)
    model.requires_grad_(False)
    result = gradcam_overlay(model, "resnet18", random_image(CNN_SIZE), MEAN, STD,
                             target_layers=[model.layer4[-1]])
    _check_result(result, CNN_SIZE)


def test_works_inside_inference_mode(cnn: nn.Module) -> None:
    with torch.inference_mode():
        result = gradcam_overlay(cnn, "resnet18", random_image(CNN_SIZE), MEAN, STD,
                                 target_layers=[cnn.layer4[-1]])
    _check_result(result, CNN_SIZE)


@pytest.mark.skipif(not hasattr(model_zoo, "gradcam_target_layers"),
                    reason="the model zoo's Grad-CAM registry is not there yet")
@pytest.mark.parametrize("arch", ["resnet18", pytest.param("vit_b_16", marks=pytest.mark.slow)])
def test_zoo_models_at_their_input_size(arch: str) -> None:
    spec = model_zoo.get_spec(arch)
    model = model_zoo.build_model(arch, 3, pretrained=False)
    result = gradcam_overlay(model, arch, random_image(spec.input_size), spec.mean, spec.std)
    _check_result(result, spec.input_size)


def test_feature_maps_of_a_conv_layer(cnn: nn.Module) -> None:
    maps = feature_maps(cnn, "conv1", random_image(CNN_SIZE), MEAN, STD)
    assert maps.shape == (16, CNN_SIZE // 2, CNN_SIZE // 2) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)
    deeper = feature_maps(cnn, "layer4.1.conv2", random_image(CNN_SIZE), MEAN, STD, max_maps=4)
    assert deeper.shape == (4, 2, 2)


def test_feature_maps_refuse_other_layers(cnn: nn.Module) -> None:
    with pytest.raises(ValueError, match="no layer"):
        feature_maps(cnn, "layer9", random_image(CNN_SIZE), MEAN, STD)
    with pytest.raises(ValueError, match="fc"):
        feature_maps(cnn, "fc", random_image(CNN_SIZE), MEAN, STD)


def test_list_feature_layers(cnn: nn.Module, vit: nn.Module) -> None:
    names = list_feature_layers(cnn)
    assert names[0] == "conv1" and names[-1] == "layer4.1.conv2"
    assert all(isinstance(cnn.get_submodule(name), nn.Conv2d) for name in names)
    assert list_feature_layers(vit) == ["conv_proj"]


def test_feature_map_grid_layout() -> None:
    maps = np.zeros((5, 4, 4), dtype=np.float32)
    maps[0] = 1.0
    maps[4] = 0.5
    grid = feature_map_grid(maps, columns=3, padding=1, pad_value=7)
    assert grid.shape == (2 * 4 + 1, 3 * 4 + 2) and grid.dtype == np.uint8
    assert (grid[0:4, 0:4] == 255).all()  # first map, top left
    assert (grid[5:9, 5:9] == 128).all()  # fifth map, second row, second column
    assert (grid[4, :] == 7).all() and (grid[:, 4] == 7).all()  # the separators
    assert (grid[5:9, 10:14] == 7).all()  # the empty sixth cell
    with pytest.raises(ValueError):
        feature_map_grid(np.zeros((0, 4, 4)), columns=2)


# ------------------------------------------------------- maps that show something
def test_a_cnn_that_flattens_its_features_gets_the_region_its_decision_reads() -> None:
    """CustomCNN1 reads its feature map position by position (Flatten -> Linear). Here
    the explained class reads only the top-left quarter: the map must light that
    quarter and nothing else. (Grad-CAM's position-averaged gradients lit the whole
    photo, wherever the features were active: a recoloured photo.)"""
    model = CustomCNN1(num_classes=2).eval()
    with torch.no_grad():
        hidden, out = model.fc[1], model.fc[4]
        weights = torch.zeros(hidden.weight.shape[1])
        grid = weights.view(-1, CONV_GRID, CONV_GRID)
        grid[:, : CONV_GRID // 2, : CONV_GRID // 2] = 1e-3
        hidden.weight.zero_()
        hidden.weight[0] = weights
        hidden.bias.zero_()
        out.weight.zero_()
        out.weight[0, 0] = 1.0
        out.bias.zero_()
    result = gradcam_overlay(model, "customcnn1", random_image(224), MEAN, STD, target_index=0,
                             target_layers=[model.conv])
    heat = result.heatmap
    assert not result.flat
    assert heat[:96, :96].mean() > 0.5  # the quarter the class reads, away from its edges
    # Outside it (a region of blur at the edge allowed): nothing.
    assert heat[128:, :].max() < 0.05 and heat[:, 128:].max() < 0.05


class _PooledNet(nn.Module):
    """Conv 1x1, average pool, Linear: its evidence is the same at every position of a
    uniform image."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
        with torch.no_grad():
            self.conv.weight.fill_(0.5)
            self.conv.bias.fill_(0.1)
            self.head[2].weight.fill_(sign)
            self.head[2].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_map_without_a_region_that_stands_out_is_flat(sign: float) -> None:
    model = _PooledNet(sign)
    uniform = np.full((32, 32, 3), 150, dtype=np.uint8)
    result = gradcam_overlay(model, "pooled", uniform, MEAN, STD, target_index=0,
                             target_layers=[model.conv])
    assert result.flat
    # Uniform, not noise stretched to the full scale; no evidence at all is the low end.
    assert np.ptp(result.heatmap) == 0.0
    assert result.heatmap.max() == (1.0 if sign > 0 else 0.0)
    assert np.ptp(result.overlay.reshape(-1, 3), axis=0).max() == 0


def test_the_heat_blend_keeps_the_face_readable_and_marks_the_hot_regions() -> None:
    face = random_image(48, seed=3)
    cold = blend_heatmap(face, np.zeros((48, 48), np.float32))
    # Where nothing counts the face is barely tinted (a 50 % blend hid it).
    low_opacity = HEAT_OPACITY[0]
    assert np.abs(cold.astype(int) - face.astype(int)).max() <= 255 * low_opacity + 1
    grey = np.full((48, 48, 3), 128, np.uint8)
    hot = blend_heatmap(grey, np.ones((24, 24), np.float32)).astype(int)  # any map size
    assert hot.shape == (48, 48, 3)
    assert (hot[..., 0] > hot[..., 1] + 50).all() and (hot[..., 0] > hot[..., 2] + 50).all()
    stops = colour_scale_stops()
    first, last = stops[0][1], stops[-1][1]
    assert stops[0][0] == 0.0 and stops[-1][0] == 1.0
    assert int(first[5:7], 16) > int(first[1:3], 16)  # low end blue
    assert int(last[1:3], 16) > int(last[5:7], 16)  # high end red
