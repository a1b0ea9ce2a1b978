"""FaceNet (facenet-pytorch's InceptionResnetV1) as a face classifier.

The network turns a 160x160 face into a 512-d L2-normalised embedding; a
Linear head on top classifies the embedding. Pretrained weights are the
VGGFace2 ones facenet-pytorch itself uses, loaded from a local file.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from facenet_pytorch.models.inception_resnet_v1 import InceptionResnetV1
from torch import nn

FACENET_INPUT_SIZE = 160
EMBEDDING_SIZE = 512
VGGFACE2_FILENAME = "20180402-114759-vggface2.pt"
VGGFACE2_URL = (
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/" + VGGFACE2_FILENAME
)
# Its name carries no hash (facenet-pytorch checks none). This is the SHA-256 that
# projects pinning the same release file publish (111,898,327 bytes); FaceLab checks it
# on import and download, as torchvision's files are checked by their name's prefix.
VGGFACE2_SHA256 = "281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b"
# facenet-pytorch's fixed_image_standardization is (x*255 - 127.5) / 128 on [0, 1]
# pixels, which is Normalize(mean=127.5/255, std=128/255).
FACENET_MEAN = (127.5 / 255,) * 3
FACENET_STD = (128 / 255,) * 3

_EMBEDDER_PREFIX = "embedder."
# The VGGFace2 file carries the 8,631-identity classifier it was trained with; ours replaces it.
_UPSTREAM_CLASSIFIER_PREFIX = "logits."


class FaceNetClassifier(nn.Module):
    def __init__(self, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.embedder = InceptionResnetV1(pretrained=None, classify=False)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(EMBEDDING_SIZE, num_classes))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedder(faces))


def build_facenet(num_classes: int, dropout: float | None) -> nn.Module:
    return FaceNetClassifier(num_classes, dropout or 0.0)


def adapt_facenet_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an InceptionResnetV1 state dict (facenet-pytorch's file) onto FaceNetClassifier's keys."""
    return {
        _EMBEDDER_PREFIX + key: value
        for key, value in state_dict.items()
        if not key.startswith(_UPSTREAM_CLASSIFIER_PREFIX)
    }
