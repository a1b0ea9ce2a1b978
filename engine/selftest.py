"""`FaceLab --self-test`: does this installation work? (The engine half; no Qt.)

Run on a lab machine after installing, and by CI on the frozen app unpacked from the
.deb: a frozen app fails in ways the source tree never does (a native library or a data
file the bundler missed, a GPU newer than the bundled torch was built for), so each
check uses the real code path (the photo is cut by the import's own face cropper, the
model comes from the zoo) rather than only importing modules. `gui.selftest` adds a
window check and prints the verdict as one JSON object.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine import __version__
from engine.paths import resources_dir

log = logging.getLogger(__name__)

# The stack a working installation must be able to import, in the order the app needs it.
STACK_MODULES = (
    "numpy", "PIL", "cv2", "torch", "torchvision", "facenet_pytorch", "sklearn",
    "cleanlab", "pytorch_grad_cam", "onnx", "onnxruntime", "matplotlib", "platformdirs",
)
# A photo of a real face that may be shipped: see resources/selftest/README.md.
SELFTEST_PHOTO = "selftest/grace_hopper.jpg"


class SelfTestFailure(Exception):
    """A check found the installation broken; the message says what and what to do."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checks: tuple[CheckResult, ...]
    environment: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


Check = tuple[str, Callable[[], str]]


def run_checks(checks: Sequence[Check]) -> list[CheckResult]:
    """Run every check (a failure does not stop the others) and time each."""
    results = []
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as error:  # every failure, whatever it is, becomes part of the verdict
            log.debug("self-test check %s failed", name, exc_info=True)
            detail, ok = f"{type(error).__name__}: {error}", False
        results.append(CheckResult(name, ok, detail, round(time.perf_counter() - started, 2)))
    return results


def verdict(results: Sequence[CheckResult]) -> Verdict:
    return Verdict(all(r.ok for r in results) and bool(results), tuple(results), environment())


def environment() -> dict[str, object]:
    info: dict[str, object] = {
        "facelab": __version__,
        "python": sys.version.split()[0],
        "frozen": bool(getattr(sys, "frozen", False)),
        "platform": sys.platform,
    }
    flavour_file = resources_dir() / "flavour.txt"  # written by packaging/facelab.spec
    if flavour_file.is_file():
        info["flavour"] = flavour_file.read_text().strip()
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
    return info


# ------------------------------------------------------------------------ the checks

def import_package_modules(package_name: str) -> int:
    """Import every module of a package; returns how many. Modules the code imports by
    name at run time (the CLI's subcommands, engine.training's lazy names) are invisible
    to a bundler's analysis: this finds any the spec failed to collect."""
    import pkgutil

    package = importlib.import_module(package_name)
    names = [info.name for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")]
    for name in names:
        importlib.import_module(name)
    return len(names) + 1


def check_imports() -> str:
    versions = []
    for name in STACK_MODULES:
        module = importlib.import_module(name)
        version = getattr(module, "__version__", None)
        if version:
            versions.append(f"{name} {version}")
    engine_modules = import_package_modules("engine")
    from engine.cli import build_parser

    build_parser()  # imports every subcommand's module, by name
    import torch
    import torchvision
    from torchvision.extension import _has_ops

    # torchvision's native ops are loaded by path at import time and silently skipped
    # when missing (a bundler that misses _C_stable.so); MTCNN needs its nms.
    if not _has_ops():
        raise SelfTestFailure("torchvision's native ops library is missing: its nms is unavailable")
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0]])
    kept = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    if kept.tolist() != [0]:
        raise SelfTestFailure(f"torchvision's nms gave {kept.tolist()}, expected [0]")
    return f"{engine_modules} engine modules and the CLI; " + ", ".join(versions)


def check_worker_process() -> str:
    """The app finds faces in worker processes (engine/ingest/crop_workers.py): forked
    from a fork server on Linux and macOS, spawned on Windows, and in a frozen app both
    are the app's own executable run again, which `multiprocessing.freeze_support()`
    first in gui/launcher.py turns into the server or the worker. One crop worker, made
    as an import makes it, crops the self-test photo into a scratch project."""
    import tempfile

    from engine.ingest import CropSettings, import_paths
    from engine.ingest.crop_workers import crop_in_worker, open_crop_pool, process_context
    from engine.ingest.detect import resolve_detector
    from engine.project import Project

    with tempfile.TemporaryDirectory(prefix="facelab-selftest-") as scratch:
        with Project.create(Path(scratch) / "project") as project:
            import_paths(project, [selftest_photo()])
            photo = project.catalog.photos()[0]
            with open_crop_pool(resolve_detector("auto")[0], CropSettings(), 1) as pool:
                result = pool.submit(crop_in_worker, photo, project.resolve(photo.path),
                                     project.root).result(timeout=300)
    if result.error:
        raise SelfTestFailure(f"the crop worker process could not crop the photo: {result.error}")
    faces = [face for face in result.faces if not face.whole_image]
    if not faces:
        raise SelfTestFailure("the crop worker process found no face in the self-test photo")
    return (f"a crop worker process ({process_context().get_start_method()}) found "
            f"{len(faces)} face(s)")


def _arch_number(arch: str) -> tuple[str, int, str] | None:
    """("sm" | "compute", 86, suffix) from "sm_86", "compute_90", "sm_90a"."""
    match = re.fullmatch(r"(sm|compute)_(\d+)([a-z]?)", arch)
    return (match.group(1), int(match.group(2)), match.group(3)) if match else None


def cuda_arch_supported(capability: tuple[int, int], arch_list: Sequence[str]) -> bool:
    """Whether kernels built for `arch_list` (torch.cuda.get_arch_list()) run on a GPU of
    compute `capability`: machine code for the same major version and a lower or equal
    minor runs as is; PTX (compute_XY) for an older capability is compiled by the driver.
    Arch-specific targets (sm_90a) run only on exactly their GPU."""
    major, minor = capability
    wanted = major * 10 + minor
    for arch in arch_list:
        parsed = _arch_number(arch)
        if parsed is None:
            continue
        kind, number, suffix = parsed
        if kind == "sm" and (number == wanted or (not suffix and number // 10 == major and number <= wanted)):
            return True
        if kind == "compute" and not suffix and number <= wanted:
            return True
    return False


def check_gpu() -> str:
    import torch

    if not torch.cuda.is_available():
        if environment().get("flavour") == "cpu":
            return f"CPU flavour (torch {torch.__version__}): GPUs are not used, training runs on the CPU"
        if torch.version.cuda is None:
            return "no CUDA in this build (CPU flavour): training runs on the CPU"
        return f"no usable CUDA GPU (torch built for CUDA {torch.version.cuda}): training runs on the CPU"
    arch_list = torch.cuda.get_arch_list()
    found = []
    for index in range(torch.cuda.device_count()):
        name = torch.cuda.get_device_name(index)
        capability = torch.cuda.get_device_capability(index)
        if not cuda_arch_supported(capability, arch_list):
            raise SelfTestFailure(
                f"{name} (compute capability {capability[0]}.{capability[1]}) is not supported by "
                f"this build of torch {torch.__version__}, which has kernels for {', '.join(arch_list)}; "
                "install the FaceLab flavour built for this GPU, or the CPU flavour")
        with torch.device(f"cuda:{index}"):
            value = (torch.arange(4.0) * 2).sum().item()  # a real kernel launch, not only a query
        if value != 12.0:
            raise SelfTestFailure(f"{name} computed {value} instead of 12.0")
        found.append(f"{name} (sm_{capability[0]}{capability[1]})")
    return f"{', '.join(found)} supported (CUDA {torch.version.cuda}, kernels for {', '.join(arch_list)})"


def selftest_photo() -> Path:
    path = resources_dir() / SELFTEST_PHOTO
    if not path.is_file():
        raise SelfTestFailure(f"the self-test photo is missing: {path}")
    return path


class FaceCropCheck:
    """MTCNN on the bundled photo, cut by the import's own cropper; keeps the crop for the
    training check, so the model trains on what the detector found."""

    def __init__(self) -> None:
        self.crop = None

    def __call__(self) -> str:
        from engine.ingest.crop import CropSettings, find_face_crops
        from engine.ingest.detect import MtcnnDetector

        settings = CropSettings()
        # Constructing MTCNN loads its three weight files (pnet/rnet/onet.pt) from the package.
        detector = MtcnnDetector(min_face_size=settings.min_face_size, min_score=settings.min_score)
        faces, size = find_face_crops(selftest_photo(), settings, detector)
        found = [face for face in faces if not face.whole_image]
        if not found:
            raise SelfTestFailure("MTCNN found no face in the self-test photo")
        best = max(found, key=lambda face: face.score or 0.0)
        if best.crop.shape != (settings.crop_size, settings.crop_size, 3):
            raise SelfTestFailure(f"the face crop has shape {best.crop.shape}")
        self.crop = best.crop
        box = ", ".join(f"{v:.0f}" for v in best.box)
        return f"{len(found)} face(s) in a {size[0]}x{size[1]} photo, best score {best.score:.3f} at ({box})"


class TrainAndInferCheck:
    """One optimiser step and one prediction of a zoo model, on the device training would use."""

    def __init__(self, crops: FaceCropCheck, arch: str = "customcnn1") -> None:
        self.crops = crops
        self.arch = arch

    def _batch(self, input_size: int, mean, std):
        import numpy as np
        import torch
        import torch.nn.functional as F

        crop = self.crops.crop
        if crop is None:  # the face check failed: still test training, on a stand-in image
            crop = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
        image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255
        image = F.interpolate(image[None], size=(input_size, input_size), mode="bilinear",
                              align_corners=False)[0]
        batch = torch.stack([image, image.flip(-1)])  # the face and its mirror image
        mean_t, std_t = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
        return (batch - mean_t) / std_t, torch.tensor([0, 1])

    def __call__(self) -> str:
        import torch

        from engine.models import build_model, get_spec
        from engine.training.device import resolve_device

        device = resolve_device("auto")
        spec = get_spec(self.arch)
        torch.manual_seed(0)
        model = build_model(self.arch, 2, pretrained=False).to(device)
        images, labels = self._batch(spec.input_size, spec.mean, spec.std)
        images, labels = images.to(device), labels.to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        before = [p.detach().clone() for p in model.parameters()]
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if not torch.isfinite(loss):
            raise SelfTestFailure(f"the training loss is {loss.item()}")
        if all(torch.equal(a, b) for a, b in zip(before, model.parameters())):
            raise SelfTestFailure("the training step changed no weight")
        model.eval()
        with torch.inference_mode():
            probabilities = model(images[:1]).softmax(dim=1)
        if probabilities.shape != (1, 2) or not torch.isfinite(probabilities).all():
            raise SelfTestFailure(f"inference gave {probabilities}")
        if abs(probabilities.sum().item() - 1.0) > 1e-4:
            raise SelfTestFailure(f"class probabilities sum to {probabilities.sum().item()}")
        return (f"{spec.display_name} on {device}: one training step (loss {loss.item():.3f}), "
                f"one inference (p={probabilities[0].max().item():.3f})")


def check_weights() -> str:
    """Bundled pretrained weights must be known files on the search path; none is fine."""
    from engine.models import list_architectures, weight_search_dirs
    from engine.models.weights import bundled_weights_dir, find_weights_file, licence_note_name

    bundled = bundled_weights_dir()
    if bundled not in weight_search_dirs():
        raise SelfTestFailure(f"the bundled weights folder {bundled} is not searched")
    files = sorted(p.name for p in bundled.glob("*") if p.is_file()) if bundled.is_dir() else []
    if not files:
        return (f"none bundled ({bundled}); pretrained models need `facelab weights import` "
                "or, with internet, `facelab weights download`")
    by_file = {spec.weights_filename: spec for spec in list_architectures() if spec.weights_filename}
    notes = {licence_note_name(spec) for spec in by_file.values()} - {None}
    files = [name for name in files if name not in notes]  # licence notes beside weights
    unknown = [name for name in files if name not in by_file]
    if unknown:
        raise SelfTestFailure(f"unknown files in {bundled}: {', '.join(unknown)}")
    found = [f"{by_file[name].name} ({'bundled' if find_weights_file(by_file[name]).parent == bundled else 'user copy'})"
             for name in files]
    return f"{len(files)} in {bundled}: {', '.join(found)}"


def engine_checks() -> list[Check]:
    crops = FaceCropCheck()
    return [
        ("imports", check_imports),
        ("worker_process", check_worker_process),
        ("gpu", check_gpu),
        ("face_detection", crops),
        ("train_and_infer", TrainAndInferCheck(crops)),
        ("weights", check_weights),
    ]
