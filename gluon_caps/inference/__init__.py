"""Using trained networks: load a checkpoint, score it on a data set, look inside its capsules,
export it (for MXNet, or as ONNX), and classify image files.

>>> from gluon_caps.inference import load_checkpoint, eval_data, evaluation_report
>>> checkpoint = load_checkpoint("runs/mnist")
>>> report = evaluation_report(checkpoint.net, eval_data(checkpoint), mx.cpu())
"""
from .capsules import PERTURBATION_STEPS, coupling_maps, perturb_capsule, reconstruct_images
from .datasets import EVAL_DATASETS, EvalData, eval_data, take
from .export import EXPORT_FORMATS, export_checkpoint, export_files, read_meta
from .files import prepare_output
from .images import load_image
from .loading import PRETRAINED_PREFIX, Checkpoint, describe, load_checkpoint, load_trained
from .onnx_graph import export_onnx
from .onnx_runtime import onnx_session
from .predict import Classifier, classify_files, export_format, export_prefix, load_classifier
from .report import evaluation_report, format_report

__all__ = ["Checkpoint", "load_checkpoint", "load_trained", "PRETRAINED_PREFIX", "describe",
           "EVAL_DATASETS", "EvalData", "eval_data", "take", "evaluation_report", "format_report",
           "reconstruct_images", "perturb_capsule", "coupling_maps", "PERTURBATION_STEPS",
           "EXPORT_FORMATS", "export_checkpoint", "export_files", "read_meta", "export_onnx",
           "onnx_session", "prepare_output", "load_image", "Classifier", "load_classifier",
           "export_prefix", "export_format", "classify_files"]
