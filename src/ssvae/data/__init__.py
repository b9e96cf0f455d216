"""Data: sources (named sets, .npz files, folders of images, tables, arrays), splits drawn by a seed,
preprocessing, the device copy."""

from .catalog import load_dataset
from .device import DeviceData, resolve_device, to_unit
from .sources import SOURCES, UNLABELED, Dataset, encode_labels, is_unlabeled, load_npz, luma
from .splits import Split, labeled_validation, make_split, own_marks_split

__all__ = [
    "SOURCES",
    "UNLABELED",
    "Dataset",
    "DeviceData",
    "Split",
    "encode_labels",
    "is_unlabeled",
    "labeled_validation",
    "load_dataset",
    "load_npz",
    "luma",
    "make_split",
    "own_marks_split",
    "resolve_device",
    "to_unit",
]
