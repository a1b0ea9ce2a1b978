"""Every architecture builds, trains one step, and exposes its head and Grad-CAM layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from engine.models import (
    ArchSpec,
    UnknownArchitectureError,
    build_model,
    get_spec,
    gradcam_reshape_transform,
    gradcam_target_layers,
    head_parameters,
    list_architectures,
    register_architecture,
    set_backbone_frozen,
    unregister_architecture,
)
from engine.models.custom_cnn import CustomCNN2, SelfAttention

BUILTIN_NAMES = [
    "customcnn1",
    "customcnn2",
    "resnet18",
    "resnet50",
    "resnet101",
    "densenet121",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "vit_b_16",
    "facenet",
    "faceresnet",
]
NUM_CLASSES = 5


def test_every_builtin_architecture_is_registered_with_sane_preprocessing():
    specs = {spec.name: spec for spec in list_architectures()}
    assert set(BUILTIN_NAMES) <= set(specs)
    for name in BUILTIN_NAMES:
        spec = specs[name]
        assert spec.description and "\n" not in spec.description
        assert all(0 < value < 1 for value in spec.mean)
        # dlib's (pixel - mean) / 256 is a std of 256/255 on [0, 1] pixels.
        assert all(0 < value <= 256 / 255 for value in spec.std)
    assert specs["customcnn1"].mean == (0.5, 0.5, 0.5) and specs["customcnn1"].std == (0.5, 0.5, 0.5)
    assert specs["resnet50"].mean == (0.485, 0.456, 0.406)
    assert specs["facenet"].input_size == 160
    # fixed_image_standardization: (x*255 - 127.5) / 128 == (x - mean) / std
    x = torch.rand(10)
    mean, std = specs["facenet"].mean[0], specs["facenet"].std[0]
    # Equal in exact arithmetic; atol covers float32 rounding near x = 0.5.
    assert torch.allclose((x - mean) / std, (x * 255 - 127.5) / 128, atol=1e-6)


def test_weights_file_names_are_torchvision_and_facenet_cache_names():
    assert get_spec("resnet50").weights_filename == "resnet50-11ad3fa6.pth"
    assert get_spec("resnet18").weights_filename == tvm.ResNet18_Weights.DEFAULT.url.rsplit("/", 1)[1]
    assert get_spec("vit_b_16").weights_filename == tvm.ViT_B_16_Weights.DEFAULT.url.rsplit("/", 1)[1]
    assert get_spec("facenet").weights_filename == "20180402-114759-vggface2.pt"
    assert get_spec("facenet").pretrained_source == "facenet"
    assert get_spec("customcnn1").weights_filename is None
    assert get_spec("customcnn1").pretrained_source is None


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(UnknownArchitectureError) as raised:
        get_spec("resnet9000")
    assert isinstance(raised.value, ValueError)
    assert "resnet50" in str(raised.value) and "customcnn1" in str(raised.value)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_forward_backward_and_helpers(name: str):
    torch.manual_seed(0)
    spec = get_spec(name)
    model = build_model(name, NUM_CLASSES, pretrained=False)
    images = torch.randn(2, 3, spec.input_size, spec.input_size)

    logits = model(images)
    assert logits.shape == (2, NUM_CLASSES)
    nn.functional.cross_entropy(logits, torch.tensor([0, 4])).backward()
    head = head_parameters(model, name)
    assert head and all(p.grad is not None and torch.isfinite(p.grad).all() for p in head)
    assert head[0].shape[0] == NUM_CLASSES  # the head's Linear weight: one row per class

    model_modules = list(model.modules())
    layers = gradcam_target_layers(name, model)
    assert layers and all(any(layer is module for module in model_modules) for layer in layers)

    set_backbone_frozen(model, name, True)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in head}
    set_backbone_frozen(model, name, False)
    assert all(p.requires_grad for p in model.parameters())


# The two whose layer choice is not "the last conv block": attention and tokens.
@pytest.mark.parametrize("name", ["customcnn2", "vit_b_16"])
def test_gradcam_package_runs_on_target_layers(name: str):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    spec = get_spec(name)
    model = build_model(name, NUM_CLASSES, pretrained=False)
    cam = GradCAM(
        model=model,
        target_layers=gradcam_target_layers(name, model),
        reshape_transform=gradcam_reshape_transform(name),
    )
    heatmap = cam(
        input_tensor=torch.randn(1, 3, spec.input_size, spec.input_size),
        targets=[ClassifierOutputTarget(1)],
    )
    assert heatmap.shape == (1, spec.input_size, spec.input_size)


def test_reshape_transform_only_for_vit():
    transform = gradcam_reshape_transform("vit_b_16")
    assert transform(torch.randn(2, 197, 768)).shape == (2, 768, 14, 14)
    for name in BUILTIN_NAMES:
        if name != "vit_b_16":
            assert gradcam_reshape_transform(name) is None


def test_customcnn1_is_the_lab_network():
    model = build_model("customcnn1", 10, pretrained=False)
    convs = [m for m in model.conv if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (3, 16, (3, 3), (1, 1)),
        (16, 32, (3, 3), (1, 1)),
    ]
    linears = [m for m in model.fc if isinstance(m, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(32 * 56 * 56, 128), (128, 10)]


def test_self_attention_is_scaled_dot_product_attention_over_positions():
    attention = SelfAttention(32)
    tokens = torch.randn(2, 196, 32)
    q, k, v = attention.query(tokens), attention.key(tokens), attention.value(tokens)
    expected = torch.softmax(q @ k.transpose(1, 2) / 32**0.5, dim=-1) @ v
    assert torch.allclose(attention(tokens), expected, atol=1e-6)

    model = CustomCNN2(num_classes=3)
    seen: list[torch.Size] = []
    model.attention.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].shape))
    model(torch.randn(1, 3, 224, 224))
    assert seen == [torch.Size([1, 14 * 14, 32])]


def test_dropout_goes_before_the_final_layer_without_changing_keys():
    plain = build_model("resnet18", NUM_CLASSES, pretrained=False)
    with_dropout = build_model("resnet18", NUM_CLASSES, pretrained=False, dropout=0.3)
    assert isinstance(with_dropout.fc[0], nn.Dropout) and with_dropout.fc[0].p == 0.3
    assert plain.state_dict().keys() == with_dropout.state_dict().keys()
    assert build_model("efficientnet_b0", 3, pretrained=False).classifier[0].p == 0.2
    assert build_model("efficientnet_b0", 3, pretrained=False, dropout=0.5).classifier[0].p == 0.5
    assert build_model("customcnn1", 3, pretrained=False, dropout=0.4).fc[3].p == 0.4


@pytest.mark.parametrize("bad", [{"num_classes": 0}, {"num_classes": 3, "dropout": 1.0}])
def test_invalid_build_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        build_model("customcnn1", bad.pop("num_classes"), pretrained=False, **bad)


def test_registered_tiny_architecture_builds_and_falls_back_to_last_conv():
    def tiny(num_classes: int, dropout: float | None) -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes))

    spec = ArchSpec(
        name="tiny_for_tests",
        display_name="Tiny",
        description="A tiny test network.",
        input_size=16,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        family="cnn",
        builder=tiny,
        head_path="3",
    )
    register_architecture(spec)
    try:
        model = build_model("tiny_for_tests", 2, pretrained=False)
        assert model(torch.randn(1, 3, 16, 16)).shape == (1, 2)
        assert gradcam_target_layers("tiny_for_tests", model) == [model[0]]
        assert head_parameters(model, "tiny_for_tests") == list(model[3].parameters())
    finally:
        unregister_architecture("tiny_for_tests")
    with pytest.raises(UnknownArchitectureError):
        get_spec("tiny_for_tests")
