"""Grad-CAM works for every architecture in the zoo (CNNs, attention, ViT, FaceNet)."""

import numpy as np
import pytest
import torch

from engine.evaluation.gradcam import gradcam_overlay
from engine.models import build_model, list_architectures

pytestmark = pytest.mark.slow
ZOO = [spec.name for spec in list_architectures() if spec.builder is not None
       and not spec.name.startswith("tiny")]


@pytest.mark.parametrize("arch", ZOO)
def test_gradcam_overlay_for_every_architecture(arch):
    from engine.models import get_spec

    torch.manual_seed(0)
    spec = get_spec(arch)
    model = build_model(arch, 3, pretrained=False)
    image = np.random.default_rng(0).integers(0, 256, (spec.input_size, spec.input_size, 3),
                                              dtype=np.uint8)
    result = gradcam_overlay(model, arch, image, spec.mean, spec.std)
    assert result.overlay.shape == image.shape and result.overlay.dtype == np.uint8
    assert result.heatmap.shape == image.shape[:2]
    assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0
    assert 0 <= result.predicted_index < 3 and 0.0 < result.confidence <= 1.0


def test_zoo_covers_the_lab_and_more():
    assert {"customcnn1", "customcnn2", "resnet18", "resnet50", "resnet101", "densenet121",
            "vit_b_16", "mobilenet_v3_large", "efficientnet_b0", "facenet"} <= set(ZOO)
