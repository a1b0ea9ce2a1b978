"""The architectures FaceLab ships with, registered when `engine.models` is imported."""

from __future__ import annotations

from functools import partial

from torchvision import models as tvm

from engine.models import (
    custom_cnn,
    dlib_weights,
    facenet_classifier,
    faceresnet,
    torchvision_zoo,
)
from engine.models.spec import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LAB_MEAN,
    LAB_STD,
    ArchSpec,
    register_architecture,
)

IMAGENET_INPUT_SIZE = 224


def _custom_cnn1(num_classes: int, dropout: float | None) -> custom_cnn.CustomCNN1:
    return custom_cnn.CustomCNN1(num_classes, dropout or 0.0)


def _custom_cnn2(num_classes: int, dropout: float | None) -> custom_cnn.CustomCNN2:
    return custom_cnn.CustomCNN2(num_classes, dropout or 0.0)


def _lab_spec(**fields) -> ArchSpec:
    return ArchSpec(
        input_size=custom_cnn.LAB_INPUT_SIZE,
        mean=LAB_MEAN,
        std=LAB_STD,
        head_path="fc.-1",
        gradcam_layer_path="conv",
        **fields,
    )


def _torchvision_spec(weights: tvm.WeightsEnum, **fields) -> ArchSpec:
    filename, url = torchvision_zoo.weights_file_of(weights)
    return ArchSpec(
        input_size=IMAGENET_INPUT_SIZE,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        pretrained_source="torchvision",
        weights_filename=filename,
        weights_url=url,
        pretrained_dataset="ImageNet",
        **fields,
    )


def builtin_specs() -> list[ArchSpec]:
    return [
        _lab_spec(
            name="customcnn1",
            display_name="CustomCNN1",
            description="The lab's small LeNet-style CNN: two conv blocks and two dense layers, trained from scratch.",
            family="cnn",
            builder=_custom_cnn1,
        ),
        _lab_spec(
            name="customcnn2",
            display_name="CustomCNN2 (CNN + self-attention)",
            description="CustomCNN1's conv blocks plus self-attention that lets every image region look at every other one.",
            family="attention",
            builder=_custom_cnn2,
        ),
        _torchvision_spec(
            tvm.ResNet18_Weights.DEFAULT,
            name="resnet18",
            display_name="ResNet-18",
            description="A light 18-layer residual network: quick to fine-tune, a good first transfer-learning model.",
            family="cnn",
            builder=partial(torchvision_zoo.build_resnet, 18),
            head_path="fc",
            gradcam_layer_path="layer4.-1",
        ),
        _torchvision_spec(
            tvm.ResNet50_Weights.DEFAULT,
            name="resnet50",
            display_name="ResNet-50",
            description="A deep residual network whose skip connections let 50 layers train well.",
            family="cnn",
            builder=partial(torchvision_zoo.build_resnet, 50),
            head_path="fc",
            gradcam_layer_path="layer4.-1",
        ),
        _torchvision_spec(
            tvm.ResNet101_Weights.DEFAULT,
            name="resnet101",
            display_name="ResNet-101",
            description="A deeper ResNet with 101 layers: more capacity, slower to train.",
            family="cnn",
            builder=partial(torchvision_zoo.build_resnet, 101),
            head_path="fc",
            gradcam_layer_path="layer4.-1",
        ),
        _torchvision_spec(
            tvm.DenseNet121_Weights.DEFAULT,
            name="densenet121",
            display_name="DenseNet-121",
            description="A CNN where every layer sees the outputs of all earlier layers in its block.",
            family="cnn",
            builder=torchvision_zoo.build_densenet121,
            head_path="classifier",
            gradcam_layer_path="features.-1",
            adapt_state_dict=torchvision_zoo.adapt_densenet_state_dict,
        ),
        _torchvision_spec(
            tvm.MobileNet_V3_Large_Weights.DEFAULT,
            name="mobilenet_v3_large",
            display_name="MobileNetV3-Large",
            description="A CNN designed for phones: small and fast, good for the webcam.",
            family="cnn",
            builder=torchvision_zoo.build_mobilenet_v3_large,
            head_path="classifier.3",
            gradcam_layer_path="features.-1",
        ),
        _torchvision_spec(
            tvm.EfficientNet_B0_Weights.DEFAULT,
            name="efficientnet_b0",
            display_name="EfficientNet-B0",
            description="A CNN whose depth, width and resolution were scaled together for accuracy per compute.",
            family="cnn",
            builder=torchvision_zoo.build_efficientnet_b0,
            head_path="classifier",
            gradcam_layer_path="features.-1",
        ),
        _torchvision_spec(
            tvm.ViT_B_16_Weights.DEFAULT,
            name="vit_b_16",
            display_name="Vision Transformer (ViT-B/16)",
            description="A transformer that reads the image as 196 patches of 16x16 pixels, like words in a sentence.",
            family="transformer",
            builder=torchvision_zoo.build_vit_b_16,
            head_path="heads",
            # The grad-cam docs' choice for ViTs: the last block's first LayerNorm.
            gradcam_layer_path="encoder.layers.-1.ln_1",
            reshape_transform=torchvision_zoo.vit_tokens_to_grid,
        ),
        ArchSpec(
            name="facenet",
            display_name="FaceNet (InceptionResnetV1)",
            description="A network trained on millions of faces to map each face to a 512-number fingerprint; we classify that.",
            input_size=facenet_classifier.FACENET_INPUT_SIZE,
            mean=facenet_classifier.FACENET_MEAN,
            std=facenet_classifier.FACENET_STD,
            family="face-embedding",
            pretrained_source="facenet",
            weights_filename=facenet_classifier.VGGFACE2_FILENAME,
            weights_url=facenet_classifier.VGGFACE2_URL,
            weights_sha256=facenet_classifier.VGGFACE2_SHA256,
            pretrained_dataset="VGGFace2",
            builder=facenet_classifier.build_facenet,
            head_path="head",
            gradcam_layer_path="embedder.block8",
            embedder_path="embedder",
            adapt_state_dict=facenet_classifier.adapt_facenet_state_dict,
        ),
        ArchSpec(
            name="faceresnet",
            display_name="Face ResNet (dlib)",
            description="dlib's public-domain face network: turns a face into 128 numbers that match "
                        "for one person (99.4% on LFW); we classify those.",
            input_size=faceresnet.FACERESNET_INPUT_SIZE,
            mean=faceresnet.FACERESNET_MEAN,
            std=faceresnet.FACERESNET_STD,
            family="face-embedding",
            pretrained_source="dlib",
            weights_filename=dlib_weights.CONVERTED_FILENAME,
            pretrained_dataset="dlib face",  # trained by dlib on about 3 million faces
            builder=faceresnet.build_faceresnet,
            head_path="head",
            # 8x8 maps (layer4's are 4x4, layer5's 2x2: too coarse to show which part of a face counted).
            gradcam_layer_path="embedder.layer3",
            embedder_path="embedder",
            # The limit for runs without their own (see open_set.calibrate_max_distance).
            # Below dlib's same-person distance (0.6, for a pair of faces): a stranger's
            # distance to a person's mean embedding is often under 0.6 too. On lfw20 with
            # 12 persons held back (bench/unknown_faces.py, aligned chips) 0.5 names 99.3%
            # of known faces and rejects 89% of strangers; 0.6 rejects 23%.
            unknown_distance=faceresnet.UNKNOWN_DISTANCE,
            adapt_state_dict=faceresnet.adapt_faceresnet_state_dict,
            convertible=dlib_weights.DLIB_FACE_WEIGHTS,
            # dlib trained it on chips aligned to its 5-point template. Measured: with the
            # head `--arch auto` trains (bench/accuracy.py), 5celeb 83% on crops, 100%
            # aligned, lfw20 86% vs 99.7%; out of fold (bench/label_mistakes.py) 85% vs 97%.
            face_framing="aligned",
        ),
    ]


def register_builtin_architectures() -> None:
    for spec in builtin_specs():
        register_architecture(spec)
