"""Model summaries: per-layer shapes and parameter counts students can trust."""

from __future__ import annotations

from torch import nn

from engine.models import (
    build_model,
    describe_architecture,
    format_summary,
    set_backbone_frozen,
    summarize,
)


def _total(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_customcnn1_summary_rows_and_totals():
    model = build_model("customcnn1", 5, pretrained=False)
    summary = summarize(model, 224)

    assert summary.total_params == _total(model) == summary.trainable_params
    assert sum(row.params for row in summary.rows) == summary.total_params
    shapes = {row.name: row.output_shape for row in summary.rows}
    assert shapes["conv.0"] == (16, 224, 224)
    assert shapes["conv.5"] == (32, 56, 56)  # the conv output that feeds Linear(32*56*56, 128)
    assert shapes["fc.1"] == (128,)
    assert summary.rows[-1].output_shape == (5,)
    assert {row.type_name for row in summary.rows} >= {"Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"}


def test_summary_counts_frozen_parameters_and_restores_modes():
    model = build_model("resnet18", 5, pretrained=False)
    model.train()
    model.bn1.eval()  # a deliberately frozen BatchNorm must stay in eval
    set_backbone_frozen(model, "resnet18", True)

    summary = summarize(model, 224)

    assert summary.trainable_params == 512 * 5 + 5
    assert summary.total_params == _total(model)
    assert model.training and model.layer1.training and not model.bn1.training
    assert next(row for row in summary.rows if row.name == "layer4.1.conv2").output_shape == (512, 7, 7)


def test_summary_includes_parameters_held_by_containers():
    # ViT keeps its class token and position embedding outside any leaf module.
    model = build_model("vit_b_16", 5, pretrained=False)
    summary = summarize(model, 224)
    assert sum(row.params for row in summary.rows) == summary.total_params == _total(model)


def test_format_summary_is_a_readable_table():
    model = build_model("customcnn2", 3, pretrained=False)
    summary = summarize(model, 224)
    text = format_summary(summary)
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Parameters"]
    assert any(line.startswith("attention.query") and "196 x 32" in line for line in lines)
    assert f"Total parameters:     {summary.total_params:,}" in text
    assert "Trainable parameters" in text


def test_describe_architecture_mentions_spec_weights_and_size(weights_home):
    text = describe_architecture("resnet50")
    assert "ResNet-50" in text
    assert "resnet50-11ad3fa6.pth" in text  # no weights in the empty test folders
    assert "Parameters: 23,528,522" in text  # 10-class head by default
    assert "trains from scratch" in describe_architecture("customcnn1")
