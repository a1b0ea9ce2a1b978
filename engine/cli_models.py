"""`facelab predict | export | weights | models | summary`: using and inspecting models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.cli import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, cli_task, open_project
from engine.display import confidence_text


# ------------------------------------------------------------------------- predict
def _face_json(face) -> dict:
    return {"box": [round(v, 2) for v in face.box], "person": face.person,
            "confidence": face.confidence, "unknown": face.is_unknown,
            "top": [{"person": name, "probability": p} for name, p in face.top],
            "whole_image": face.whole_image, "score": face.score, "aligned": face.aligned}


def _face_line(face, aligned_run: bool = False) -> str:
    best = f"{face.top[0][0]} {confidence_text(face.top[0][1], 1)}"
    name = f"unknown (closest: {best})" if face.is_unknown else best
    others = ", ".join(f"{n} {confidence_text(p, 1)}" for n, p in face.top[1:])
    where = "" if face.whole_image else "  box " + ",".join(str(round(v)) for v in face.box)
    # A model trained on aligned faces sees a face without landmarks less well: say so.
    framing = "  [centred crop, no landmarks to align]" if (
        aligned_run and not face.aligned and not face.whole_image) else ""
    return f"  {name}{where}{framing}" + (f"  (then {others})" if others else "")


def cmd_predict(args) -> int:
    from engine.ingest.images import ImageReadError
    from engine.inference.predictor import Predictor

    with open_project(args.dir, readonly=True) as project:
        predictor = Predictor.from_run(project, args.run, threshold=args.threshold,
                                       device=args.device)
    results, failed = [], 0
    for image in args.images:
        try:
            faces = predictor.predict_image(image)
        except ImageReadError as exc:
            failed += 1
            print(f"error: {image}: {exc.reason}", file=sys.stderr)
            results.append({"image": image, "error": exc.reason, "faces": []})
            continue
        results.append({"image": image, "faces": [_face_json(f) for f in faces]})
        if not args.json:
            found = "no face found, the whole image" if faces[0].whole_image \
                else f"{len(faces)} face(s)"
            print(f"{image}: {found}")
            for face in faces:
                print(_face_line(face, predictor.alignment is not None))
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    # Unreadable images are reported and skipped; only "nothing could be read" fails.
    return EXIT_ERROR if failed == len(args.images) else EXIT_OK


# -------------------------------------------------------------------------- export
def cmd_export(args) -> int:
    from engine.inference.export_run import export_run

    with open_project(args.dir, readonly=True) as project:
        exported = export_run(project, args.run, args.format, args.out)
    result = exported.model
    print(f"exported {result.format} model to {result.path}")
    print(f"sha256: {result.sha256}")
    print(f"max difference from the trained model: {result.max_abs_diff:.2e}")
    print(f"sidecar (persons, input size, normalisation, crop settings): {exported.sidecar}")
    return EXIT_OK


# ------------------------------------------------------------------------- weights
def cmd_weights_list(args) -> int:
    from engine.models import list_architectures, weights_status

    rows = []
    for spec in list_architectures():
        status = weights_status(spec.name)
        rows.append({"arch": spec.name, "available": status.available,
                     "path": str(status.path) if status.path else None,
                     "filename": status.filename, "message": status.message})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    width = max((len(r["arch"]) for r in rows), default=0)
    for r in rows:
        state = "available" if r["available"] else ("missing" if r["filename"] else "none")
        print(f"{r['arch']:<{width}}  {state:<9}  {r['message']}")
    return EXIT_OK


def cmd_weights_import(args) -> int:
    from engine.models import import_weights

    installed = import_weights(args.file)
    given = Path(args.file).name
    if installed.name != given:  # converted from another format (dlib's .dat)
        print(f"imported {given}: checksum verified, converted to {installed.name}, installed at {installed}")
    else:
        print(f"imported {installed.name}: checksum and contents verified, installed at {installed}")
    return EXIT_OK


def cmd_weights_download(args) -> int:
    from engine.display import size_text
    from engine.models import get_spec
    from engine.models.weights_download import download_url, download_weights
    from engine.tasks import Cancelled

    for name in args.names:
        get_spec(name)  # an unknown name fails before anything is fetched
    for name in args.names:
        url = download_url(get_spec(name), args.mirror)
        try:
            with cli_task("stopping the download; what arrived is kept") as ctx:
                result = download_weights(name, ctx, base_url=args.mirror)
        except Cancelled:
            print(f"download of {name} cancelled: run the same command again to continue "
                  "where it stopped", file=sys.stderr)
            return EXIT_CANCELLED
        if result.already_present:
            print(f"{name}: already on this machine at {result.path}")
            continue
        resumed = f", resumed after {size_text(result.resumed_from)}" if result.resumed_from else ""
        print(f"{name}: downloaded {size_text(result.size)} from {url}{resumed}; checksum and "
              f"contents verified, installed at {result.path}")
    return EXIT_OK


# ------------------------------------------------------------------ models, summary
def cmd_models(args) -> int:
    from engine.models import list_architectures, weights_status
    from engine.models.summary import DESCRIBE_NUM_CLASSES, parameter_count

    rows = [{"name": spec.name, "display_name": spec.display_name, "family": spec.family,
             "description": spec.description, "input_size": spec.input_size,
             "params": parameter_count(spec.name),
             "pretrained_weights": spec.has_pretrained_weights,
             "weights_available": weights_status(spec.name).available}
            for spec in list_architectures()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    width = max((len(r["name"]) for r in rows), default=0)
    print(f"{'model':<{width}}  {'input':>7}  {'params':>12}  weights    description")
    for r in rows:
        weights = ("available" if r["weights_available"] else "missing") \
            if r["pretrained_weights"] else "-"
        params = f"{r['params']:,}" if r["params"] is not None else "?"
        size = f"{r['input_size']}px"
        print(f"{r['name']:<{width}}  {size:>7}  {params:>12}  {weights:<9}  {r['description']}")
    print(f"(parameters with a {DESCRIBE_NUM_CLASSES}-person head; "
          "`facelab summary MODEL` shows the layers)")
    return EXIT_OK


def cmd_summary(args) -> int:
    from engine.models import build_model, describe_architecture, format_summary, get_spec, summarize

    from engine.models.summary import DESCRIBE_NUM_CLASSES

    spec = get_spec(args.arch)
    classes = DESCRIBE_NUM_CLASSES if args.classes is None else args.classes
    model = build_model(spec.name, classes, pretrained=False)
    print(describe_architecture(spec.name, classes))
    print()
    print(format_summary(summarize(model, spec.input_size)))
    return EXIT_OK


def cmd_explain(args) -> int:
    from engine.evaluation.explain import face_feature_maps, face_gradcam, save_png
    from engine.evaluation.heatmap import FLAT_MESSAGE, LEGEND_TEXT

    with open_project(args.dir, readonly=True) as project:
        if args.layer:
            view = face_feature_maps(project, args.run, args.face, args.layer)
            save_png(view.grid, Path(args.out))
            print(f"{args.out}: {len(view.maps)} feature maps of layer {view.layer}")
            return EXIT_OK
        result, persons = face_gradcam(project, args.run, args.face, args.target)
        save_png(result.overlay, Path(args.out))
    print(f"{args.out}: Grad-CAM for {args.target or persons[result.predicted_index]} "
          f"(predicted {persons[result.predicted_index]}, {confidence_text(result.confidence)})")
    print(FLAT_MESSAGE if result.flat else LEGEND_TEXT)
    return EXIT_OK


def register(sub) -> None:
    p = sub.add_parser("predict", help="name the faces in photos with a trained run",
                       description="Find the faces in each image as the import does and name "
                       "them with the run's best model. Unreadable images are reported and "
                       "skipped; the exit code is 1 only when no image could be read.")
    p.add_argument("dir", help="the project folder")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--run", required=True, help="run id (see `facelab runs`)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="below this confidence a face is 'unknown' (default 0.5)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--json", action="store_true", help="print one JSON list, one entry per image")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("export", help="export a run's best model to ONNX or TorchScript",
                       description="Export, load back and check the outputs, then write "
                       "OUT and OUT.json (persons in output order, input size, mean/std, "
                       "crop settings).")
    p.add_argument("dir", help="the project folder")
    p.add_argument("out", metavar="OUT", help="the model file to write")
    p.add_argument("--run", required=True)
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"))
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("weights", help="pretrained weights on this machine (downloaded only "
                       "when you ask)")
    weights = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    q = weights.add_parser("list", help="every architecture's weights: found where, or how to get them")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_weights_list)
    q = weights.add_parser("import", help="check a downloaded weights file and install it")
    q.add_argument("file", metavar="FILE", help="the file, named exactly as downloaded")
    q.set_defaults(func=cmd_weights_import)
    q = weights.add_parser(
        "download", help="fetch an architecture's published weights file (needs internet)",
        description="Download torchvision's or facenet-pytorch's published weights file from "
        "its official address, check its SHA-256 and contents, and install it where "
        "`facelab weights import` does. An interrupted download continues where it stopped; "
        "proxies come from HTTP_PROXY / HTTPS_PROXY / NO_PROXY. Nothing is ever downloaded "
        "without this command (or the app's Download button).")
    q.add_argument("names", nargs="+", metavar="NAME",
                   help="architecture name(s), e.g. resnet18 facenet (see `facelab weights list`)")
    q.add_argument("--mirror", metavar="URL", default=None,
                   help="fetch the same file names from this base URL instead (default: "
                   "$FACELAB_WEIGHTS_BASE_URL, else the official addresses)")
    q.set_defaults(func=cmd_weights_download)

    p = sub.add_parser("models", help="the architectures FaceLab can train")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("summary", help="an architecture's layers, output shapes and parameters")
    p.add_argument("arch", metavar="ARCH", help="architecture name (see `facelab models`)")
    p.add_argument("--classes", type=int, default=None,
                   help="persons in the output layer (default: the lab's ten)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("explain", help="Grad-CAM (where the model looks) or feature maps of a "
                       "layer, for one face, as a PNG")
    p.add_argument("dir", help="the project folder")
    p.add_argument("--run", required=True)
    p.add_argument("--face", type=int, required=True, help="face id (see `facelab mistakes` "
                   "or the app)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--target", help="explain this person instead of the predicted one")
    p.add_argument("--layer", help="show this layer's feature maps instead of Grad-CAM")
    p.set_defaults(func=cmd_explain)
