"""Head-only epochs: a frozen backbone's features computed once, the head trained on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import engine.models as models
from engine.data.embeddings import EmbeddingCache, image_keys
from engine.tasks import TaskContext
from engine.training import EpochEnded, TrainConfig, load_checkpoint
from engine.training.embedding import FaceEmbedder
from tests.engine.training.conftest import TINY_SIZE, TinyNet, make_data
from tests.engine.training.test_trainer import fit, fit_cancelled_after_epoch, tiny_config

EMBEDDER_ARCH = "tiny_embedder_cnn"


@pytest.fixture(autouse=True)
def embedder_arch():
    models.register_architecture(models.ArchSpec(
        name=EMBEDDER_ARCH, display_name="Tiny embedder CNN", description="A test network.",
        input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
        builder=TinyNet, head_path="head", embedder_path="features"))
    yield EMBEDDER_ARCH
    models.unregister_architecture(EMBEDDER_ARCH)


class ForwardCounter:
    """Counts the calls of TinyNet.features and the faces they saw, in every model built."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        self.faces = 0
        original = TinyNet.__init__
        counter = self

        def init(net, *args, **kwargs):
            original(net, *args, **kwargs)
            net.features.register_forward_hook(counter._seen)

        monkeypatch.setattr(TinyNet, "__init__", init)

    def _seen(self, _module, inputs, _output) -> None:
        self.calls += 1
        self.faces += len(inputs[0])


def embedder_config(**changes):
    settings = {"arch": EMBEDDER_ARCH, "epochs": 4, "freeze_epochs": 4, **changes}
    return tiny_config(**settings)


def test_a_frozen_backbone_sees_each_face_once(tmp_path, data, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    finished, recorder = fit(tmp_path, embedder_config(), data)

    assert finished.status == "completed" and finished.epochs_done == 4
    # 48 training + 24 validation faces, each embedded once, for all four epochs.
    assert counter.faces == 72
    ended = recorder.of(EpochEnded)
    assert [e.epoch for e in ended] == [1, 2, 3, 4]
    assert ended[-1].train_loss < ended[0].train_loss


def test_augmented_or_unfrozen_epochs_run_the_whole_network(tmp_path, data, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    fit(tmp_path, embedder_config(augment="light"), data, name="augmented")
    # Augmented faces differ every epoch: each batch goes through the backbone.
    assert counter.faces > 72 * 3

    counter.faces = 0
    fit(tmp_path, embedder_config(freeze_epochs=2), data, name="fine-tuned")
    # Two head-only epochs (72 faces once), then two epochs through the whole network.
    assert counter.faces == 72 + 2 * (48 + 24)


def test_the_saved_model_computes_what_the_head_epochs_measured(tmp_path, data):
    """The checkpoint holds the whole network: run on the faces themselves, it gives
    the validation loss and accuracy the head-only epoch recorded."""
    finished, recorder = fit(tmp_path, embedder_config(), data)
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    model = models.build_model(EMBEDDER_ARCH, 3, pretrained=False)
    model.load_state_dict(payload["model_state"])
    model.eval()
    with torch.inference_mode():
        logits = model((data.val_x.float() / 255 - 0.5) / 0.5)
    last = recorder.of(EpochEnded)[-1]
    assert F.cross_entropy(logits, data.val_y).item() == pytest.approx(last.val_loss, abs=1e-5)
    assert (logits.argmax(1) == data.val_y).float().mean().item() == pytest.approx(last.val_acc)


def test_a_cancelled_head_only_run_resumes_exactly(tmp_path, data):
    config = embedder_config(lr=0.05)
    whole, _ = fit(tmp_path, config, data, name="whole")
    cancelled, _ = fit_cancelled_after_epoch(tmp_path, config, data, epoch=2, name="parts")
    assert cancelled.status == "cancelled"
    resumed, _ = fit(tmp_path, config, data, name="parts", resume=True)
    assert resumed.status == "completed"
    a = load_checkpoint(tmp_path / "whole" / "last.pt")["model_state"]
    b = load_checkpoint(tmp_path / "parts" / "last.pt")["model_state"]
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_cancelling_while_embedding_stops_within_a_batch(tmp_path):
    big = make_data(num_train=200, num_val=24)
    embedded = []

    def cancel_on_first_progress(progress):
        if progress.stage == "embed":
            embedded.append(progress.done)
            ctx.cancel()

    ctx = TaskContext(on_progress=cancel_on_first_progress)
    finished, _ = fit(tmp_path, embedder_config(), big, ctx=ctx)
    assert finished.status == "cancelled" and finished.epochs_done == 0
    assert embedded == [0]


# -- the on-disk cache ----------------------------------------------------------

def test_cache_returns_what_was_added_and_misses_changed_faces(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    images = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    keys = image_keys(images)
    vectors = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    cache.add(keys[:3], vectors[:3])

    found_vectors, found = cache.lookup(keys)
    assert found.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(found_vectors[:3], vectors[:3])

    changed = images.clone()
    changed[0, 0, 0, 0] ^= 1  # one pixel of one face: a new key
    assert cache.lookup(image_keys(changed))[1].tolist() == [False, True, True, False, False]


def test_cache_stores_duplicates_once_and_survives_damage(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)  # the same face twice
    cache.add(image_keys(images), np.ones((2, 3), np.float32))
    assert np.load(tmp_path / "cache" / "keys.npy").shape == (1, 20)

    (tmp_path / "cache" / "vectors.npy").write_bytes(b"not numpy")
    assert not cache.lookup(image_keys(images))[1].any()
    cache.add(image_keys(images), np.ones((2, 3), np.float32))
    assert cache.lookup(image_keys(images))[1].all()


def test_embedder_fills_the_cache_and_reads_it_back(tmp_path, monkeypatch):
    counter = ForwardCounter(monkeypatch)
    model = models.build_model(EMBEDDER_ARCH, 3, pretrained=False)
    mean = std = torch.full((1, 3, 1, 1), 0.5)
    cache = EmbeddingCache(tmp_path / "cache")
    embed = FaceEmbedder(model, EMBEDDER_ARCH, mean, std, torch.device("cpu"), cache)
    data = make_data()

    first = embed(data.train_x[:10], TaskContext(), "training")
    assert counter.faces == 10
    again = embed(data.train_x[:20], TaskContext(), "training")
    assert counter.faces == 20  # only the 10 new faces were computed
    torch.testing.assert_close(again[:10], first)
    assert not model.training or model.features.training  # the caller's mode is kept


def test_runs_of_a_pretrained_backbone_share_the_cache(tmp_path, monkeypatch):
    from engine.project import Project
    from engine.training.runner import train_run
    from tests.reliability.synthetic import labelled_project

    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    monkeypatch.setenv("FACELAB_WEIGHTS_DIR", str(weights_dir))
    torch.save(models.build_model(EMBEDDER_ARCH, 3, pretrained=False).state_dict(),
               weights_dir / "tiny-embedder-0.pth")
    spec = models.get_spec(EMBEDDER_ARCH)
    models.register_architecture(models.ArchSpec(**{
        **spec.__dict__, "pretrained_source": "torchvision",
        "weights_filename": "tiny-embedder-0.pth"}))
    labelled_project(tmp_path / "project", persons=3, per_person=10)
    counter = ForwardCounter(monkeypatch)
    config = embedder_config(pretrained=True, epochs=3, freeze_epochs=3)

    with Project.open(tmp_path / "project") as project:
        first = train_run(project, config, evaluate=False)
        computed_first = counter.faces
        second = train_run(project, TrainConfig(**{**config.to_dict(), "seed": 1}),
                           evaluate=False)

    assert first.finished.status == second.finished.status == "completed"
    # Every training and validation face was embedded by the first run, none by the second.
    assert computed_first > 0 and counter.faces == computed_first
    assert any((tmp_path / "project" / "cache" / "embeddings").iterdir())
