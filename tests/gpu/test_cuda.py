"""The CUDA code paths: mixed precision (bf16, and fp16 with loss scaling), channels_last,
pinned-memory transfers, device-side augmentation, exact resume, and inference, Grad-CAM
and the live pipeline on the GPU, each checked against the CPU where that is meaningful.

These need an NVIDIA GPU, which CI has not: there they are skipped, and they are run on
a GPU machine (see README, "GPU checks"). A skip here is not a pass; the README records
the last run on real hardware.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.training import EpochEnded, TrainConfig, load_checkpoint
from engine.training.device import resolve_setup, to_device
from tests.engine.training.conftest import TINY_ARCH, make_data
from tests.engine.training.test_trainer import fit, fit_cancelled_after_epoch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def cuda_config(**changes) -> TrainConfig:
    settings = dict(arch=TINY_ARCH, epochs=3, batch_size=16, lr=0.01, augment="standard",
                    early_stopping_patience=None, device="cuda")
    settings.update(changes)
    return TrainConfig(**settings)


def test_auto_setup_on_cuda_uses_mixed_precision_and_channels_last():
    setup = resolve_setup(cuda_config())
    assert setup.device.type == "cuda"
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert setup.amp_dtype == expected
    assert setup.grad_scaling == (expected == torch.float16)
    assert setup.channels_last and setup.pins_memory


def test_transfers_come_from_pinned_memory_and_arrive_intact():
    setup = resolve_setup(cuda_config())
    batch = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)
    on_gpu = to_device(batch, setup)
    assert on_gpu.device.type == "cuda"
    assert torch.equal(on_gpu.cpu(), batch)
    assert to_device(on_gpu, setup) is on_gpu  # already there: no copy


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_cuda_run_learns_and_its_checkpoint_loads_on_the_cpu(tmp_path, monkeypatch, precision):
    if precision == "fp16":
        # The GradScaler path: what a GPU without bf16 (before Ampere) takes.
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    data = make_data(num_train=96, num_val=48)
    finished, recorder = fit(tmp_path, cuda_config(epochs=6, augment="light"), data)

    assert finished.status == "completed"
    epochs = recorder.of(EpochEnded)
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert epochs[-1].val_acc > 0.6  # three colour classes: chance is 1/3
    assert recorder.events[0].device.startswith("cuda")
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    for name, tensor in checkpoint["model_state"].items():
        assert tensor.device.type == "cpu", name
        assert tensor.dtype != torch.float16 and tensor.dtype != torch.bfloat16, name


def test_cuda_resume_after_cancel_matches_an_uninterrupted_run(tmp_path):
    config = cuda_config(epochs=4, dropout=0.3, scheduler="cosine", class_weighting="sampler",
                         seed=7, deterministic=True)
    data = make_data()
    whole, _ = fit(tmp_path, config, data, name="whole")
    interrupted, _ = fit_cancelled_after_epoch(tmp_path, config, data, 2, name="split")
    assert (interrupted.status, interrupted.epochs_done) == ("cancelled", 2)
    resumed, _ = fit(tmp_path, config, data, name="split", resume=True)
    assert (resumed.status, resumed.epochs_done) == ("completed", 4)
    first = load_checkpoint(tmp_path / "whole" / "last.pt")["model_state"]
    second = load_checkpoint(tmp_path / "split" / "last.pt")["model_state"]
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name
    assert whole.best_val_loss == resumed.best_val_loss


def test_device_augmentation_matches_the_cpu_for_the_same_generator_state():
    from engine.data.augment import augment_batch

    images = torch.randint(0, 255, (16, 3, 48, 48), dtype=torch.uint8)
    on_cpu = augment_batch(images, "strong", torch.Generator().manual_seed(3))
    on_gpu = augment_batch(images.cuda(), "strong", torch.Generator().manual_seed(3))
    assert on_gpu.device.type == "cuda"
    # Same random draws; the resampling arithmetic may round differently on the GPU.
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=2e-3)


@pytest.fixture(scope="module")
def celeb_run(tmp_path_factory, datasets):
    from tests.engine.inference.celeb_run import celeb_run as build_celeb_run

    return build_celeb_run(tmp_path_factory, datasets)


def test_predictor_on_the_gpu_agrees_with_the_cpu(celeb_run):
    from engine.inference.predictor import Predictor
    from engine.project import Project

    with Project.open(celeb_run.root, readonly=True) as project:
        on_cpu = Predictor.from_run(project, celeb_run.run_id, threshold=0.0, device="cpu")
        on_gpu = Predictor.from_run(project, celeb_run.run_id, threshold=0.0, device="cuda")
    assert on_gpu.device.type == "cuda"
    expected = on_cpu.predict_image(celeb_run.two_face_photo)
    got = on_gpu.predict_image(celeb_run.two_face_photo)
    assert len(got) == len(expected) == 2
    for a, b in zip(expected, got):
        assert a.person == b.person
        assert abs(a.confidence - b.confidence) < 1e-3


def test_live_pipeline_and_gradcam_on_the_gpu(celeb_run):
    from PIL import Image

    from engine.inference.camera import Frame
    from engine.inference.live_pipeline import FramePipeline, LiveSettings
    from engine.inference.predictor import Predictor
    from engine.project import Project

    with Project.open(celeb_run.root, readonly=True) as project:
        predictor = Predictor.from_run(project, celeb_run.run_id, threshold=0.0, device="cuda")
    pipeline = FramePipeline(predictor, LiveSettings(min_face_size=20))
    pipeline.set_gradcam(True)
    photo = Image.open(celeb_run.two_face_photo).convert("RGB")
    photo.thumbnail((640, 480))
    rgb = np.asarray(photo)
    analyses = [pipeline.process(Frame(index=index, timestamp=float(index), rgb=rgb))
                for index in range(3)]
    assert [len(analysis.faces) for analysis in analyses] == [2, 2, 2]
    assert all(face.person in predictor.class_names for face in analyses[-1].faces)
    cams = [analysis.gradcam for analysis in analyses if analysis.gradcam is not None]
    assert cams and cams[0].overlay.dtype == np.uint8
    assert cams[0].overlay.shape == (predictor.input_size, predictor.input_size, 3)


def test_a_graphed_step_computes_what_an_eager_step_computes(caplog):
    from engine.training.run_state import build_run_state
    from engine.training.step import EagerStep, GraphedStep

    # SGD in float32: Adam's per-weight normalisation would blow rounding up to +-lr.
    config = cuda_config(optimizer="sgd", lr=0.05, amp=False, dropout=0.0, augment="none")
    data = make_data(num_train=128)
    setup = resolve_setup(config)
    assert setup.cuda_graphs
    graphed_state, eager_state = (build_run_state(config, data.class_names, data.train_y, setup)
                                  for _ in range(2))
    graphed, eager = GraphedStep(graphed_state), EagerStep(eager_state)
    for model in (graphed_state.model, eager_state.model):
        model.train()
    caplog.set_level("DEBUG", logger="engine.training.step")
    for batch in range(8):
        if batch == 5:  # a new learning rate: the graph must be recorded again
            for state in (graphed_state, eager_state):
                state.optimizer.param_groups[0]["lr"] = 0.02
        rows = slice(16 * batch, 16 * (batch + 1))
        images = (data.train_x[rows].cuda().float() / 255 - 0.5) / 0.5
        images = images.contiguous(memory_format=torch.channels_last)
        labels = data.train_y[rows].cuda()
        graphed_logits, graphed_loss = graphed(images, labels)
        eager_logits, eager_loss = eager(images, labels)
        assert torch.allclose(graphed_logits, eager_logits, rtol=1e-3, atol=1e-4), batch
        assert graphed_loss.item() == pytest.approx(eager_loss.item(), rel=1e-3), batch
    assert graphed.graphed
    # Warm-up for batches 0-2, recorded at 3 and again at 5 (the new learning rate).
    assert len([r for r in caplog.records if "Recorded" in r.getMessage()]) == 2
    eager_params = dict(eager_state.model.named_parameters())
    for name, parameter in graphed_state.model.named_parameters():
        assert torch.allclose(parameter, eager_params[name], rtol=1e-3, atol=1e-5), name


def test_a_graphed_run_records_again_when_the_lr_or_the_frozen_layers_change(tmp_path, caplog):
    # A learning rate that moves every epoch (cosine), a backbone unfrozen after epoch
    # 1, dropout, augmentation, a weighted sampler, and 82 faces in batches of 16 (a
    # last batch of 2, run eagerly; the first three batches warm up eagerly).
    config = cuda_config(epochs=3, scheduler="cosine", freeze_epochs=1, dropout=0.2,
                         class_weighting="sampler", seed=3)
    caplog.set_level("DEBUG", logger="engine.training.step")
    finished, recorder = fit(tmp_path, config, make_data(num_train=82))

    assert finished.status == "completed"
    # Epoch 1 (frozen, lr0), epoch 2 (unfrozen, lr1), epoch 3 (lr2).
    assert len([r for r in caplog.records if "Recorded" in r.getMessage()]) == 3
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    epochs = recorder.of(EpochEnded)
    assert epochs[-1].train_loss < epochs[0].train_loss


@pytest.mark.parametrize("arch", ["customcnn2", "resnet18", "vit_b_16", "efficientnet_b0"])
def test_zoo_architectures_record_as_graphs(tmp_path, caplog, arch):
    from engine.models import get_spec

    size = get_spec(arch).input_size
    data = make_data(num_train=64, num_val=16, size=size)
    caplog.set_level("DEBUG", logger="engine.training.step")
    finished, _ = fit(tmp_path, cuda_config(arch=arch, epochs=1, batch_size=8, augment="none",
                                            lr=1e-4), data)
    assert finished.status == "completed"
    assert any("Recorded" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_head_only_epochs_on_cuda_follow_the_cpu(tmp_path):
    """A frozen backbone's features computed on the GPU and the head trained there (the
    instant face models' path) give the CPU's epochs, to rounding."""
    import engine.models as models
    from tests.engine.training.conftest import TINY_SIZE, TinyNet

    arch = "tiny_embedder_cuda"
    models.register_architecture(models.ArchSpec(
        name=arch, display_name="Tiny embedder", description="A test network.",
        input_size=TINY_SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), family="cnn",
        builder=TinyNet, head_path="head", embedder_path="features"))
    try:
        data = make_data(num_train=96, num_val=48)
        settings = dict(arch=arch, epochs=4, freeze_epochs=4, batch_size=16, lr=0.01,
                        augment="none", early_stopping_patience=None)
        cpu, cpu_events = fit(tmp_path, TrainConfig(**settings, device="cpu"), data, name="cpu")
        gpu, gpu_events = fit(tmp_path, TrainConfig(**settings, device="cuda"), data, name="gpu")
        assert cpu.status == gpu.status == "completed"
        for on_cpu, on_gpu in zip(cpu_events.of(EpochEnded), gpu_events.of(EpochEnded),
                                  strict=True):
            assert on_gpu.val_loss == pytest.approx(on_cpu.val_loss, rel=0.05, abs=0.02)
        assert load_checkpoint(tmp_path / "gpu" / "last.pt")["epoch"] == 4
    finally:
        models.unregister_architecture(arch)
