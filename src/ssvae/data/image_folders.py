"""A folder of images as a data set: one folder per class (its name is the class), `unlabeled/` for the images
without a label, and optionally `test/` with class folders of its own, as torchvision's `ImageFolder` reads them.

Every image is read by `open_image`, at training and in `ssvae predict` alike: converted to one mode (grayscale
"L", ITU-R 601-2 luma, or "RGB") and, where the model was trained on a folder, resized to its size, so that a
model trained on a folder predicts on the same kind of files with no extra flag.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SSVAEError, warn

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
UNLABELED_FOLDER, TEST_FOLDER = "unlabeled", "test"  # reserved names: no class may be called so
GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}  # PIL modes of one channel (an alpha channel is dropped)
READERS = 8  # threads that decode (PIL releases the GIL while it decodes and resizes)


def parse_size(text: str) -> tuple[int, int]:
    """'28x28' -> (28, 28): width by height, as PIL gives sizes."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise SSVAEError(f"--image-size {text!r} is not WIDTHxHEIGHT in pixels, e.g. --image-size 28x28")
    return int(parts[0]), int(parts[1])


def open_image(p: Path, w: int, h: int, mode: str, resize: bool = False) -> np.ndarray:
    """One image as uint8 [h, w] (mode "L") or [h, w, 3] ("RGB"). Without `resize` an image of another size is
    refused. PIL is held to a pixel budget (its own limit, for any image, is about 179 million): a larger header
    is refused before anything is decoded, and PIL's decompression-bomb warning becomes this one line."""
    from PIL import Image, UnidentifiedImageError

    budget = w * h * (64 if resize else 1)  # a photo may be larger than what it is resized to, within reason
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, budget
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                if im.size != (w, h) and not resize:
                    raise SSVAEError(
                        f"{p}: is {im.size[0]}x{im.size[1]} pixels but the model takes {w}x{h}; resize the images"
                    )
                im = im.convert(mode)
                if im.size != (w, h):
                    im = im.resize((w, h), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        most = f"{budget:,} ({w}x{h} times 64)" if resize else f"{w}x{h}"
        raise SSVAEError(f"{p}: has more than the {most} pixels the model takes; resize the images") from e
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise SSVAEError(f"{p}: not a readable image ({first_line(e)})") from e
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def first_line(e: Exception) -> str:
    """An exception's message cut to its first line (PIL's can run long), or its type when it has none."""
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


def image_files(folder: Path) -> list[Path]:
    """The image files under `folder`, its subfolders included, in sorted order; links are followed, a link back
    into a folder already walked (a loop) is one line."""
    seen: set[str] = set()
    found = []
    for here, dirs, files in os.walk(folder, followlinks=True, onerror=_raise):
        real = os.path.realpath(here)
        if real in seen:
            raise SSVAEError(f"{here}: a symlink loop (it leads back to {real}); remove the link")
        seen.add(real)
        dirs.sort()
        found += [Path(here) / f for f in sorted(files) if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return found


def _raise(e: OSError) -> None:
    raise SSVAEError(f"{e.filename}: cannot be read ({e.strerror}); fix its permissions or remove it")


@dataclass
class Folder:
    """What a folder of images holds, before any pixel is decoded: files by class, unlabeled, test."""

    root: Path
    classes: list[str]
    labeled: list[tuple[Path, str]]
    unlabeled: list[Path]
    test: list[tuple[Path, str]]

    @classmethod
    def scan(cls, root: Path) -> "Folder":
        if not root.is_dir():
            raise SSVAEError(f"{root}: no such folder")
        subs = sorted(p for p in root.iterdir() if p.is_dir())
        class_dirs = [p for p in subs if p.name not in (UNLABELED_FOLDER, TEST_FOLDER)]
        if not class_dirs:
            raise SSVAEError(
                f"{root}: holds no class folders; put each class's images in a folder named after the class, "
                f"and the images without a label in {root / UNLABELED_FOLDER}"
            )
        labeled = [(p, d.name) for d in class_dirs for p in _nonempty(d)]
        unlabeled = image_files(root / UNLABELED_FOLDER) if (root / UNLABELED_FOLDER).is_dir() else []
        test = []
        if (root / TEST_FOLDER).is_dir():
            test = [
                (p, d.name)
                for d in sorted(q for q in (root / TEST_FOLDER).iterdir() if q.is_dir())
                for p in _nonempty(d)
            ]
            if not test:
                raise SSVAEError(f"{root / TEST_FOLDER}: holds no class folders of images; add them or remove it")
        return cls(root, [d.name for d in class_dirs], labeled, unlabeled, test)

    def all_files(self) -> list[Path]:
        """Every image file of the folder: labeled, unlabeled and test."""
        return [p for p, _ in self.labeled] + self.unlabeled + [p for p, _ in self.test]


def _nonempty(d: Path) -> list[Path]:
    files = image_files(d)
    if not files:
        raise SSVAEError(
            f"{d}: a class folder with no images ({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove it"
        )
    return files


def headers(files: list[Path], skip_unreadable: bool) -> dict[Path, tuple[tuple[int, int], str]]:
    """Each readable file's size and mode, from its header alone (nothing decoded); an unreadable one is one line,
    or, with `skip_unreadable`, left out with one warning that counts them."""
    from PIL import Image

    def head(p: Path):
        try:
            with Image.open(p) as im:
                return im.size, im.mode
        except Exception as e:  # PIL raises many kinds; each one means "not an image we can read"
            return e

    with ThreadPoolExecutor(READERS) as pool:
        found = dict(zip(files, pool.map(head, files)))
    bad = {p: r for p, r in found.items() if isinstance(r, Exception)}
    if bad and not skip_unreadable:
        p, e = next(iter(bad.items()))
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise SSVAEError(f"{p}: not a readable image ({first_line(e)}){more}; fix or remove it, or --skip-unreadable")
    if bad:
        warn(f"left out {len(bad)} unreadable file(s), the first {next(iter(bad))} (--skip-unreadable)")
    return {p: r for p, r in found.items() if not isinstance(r, Exception)}


def choose_size(root: Path, sizes: Counter, image_size: str | None) -> tuple[tuple[int, int], bool]:
    """The size every image is brought to, and whether any must be resized: the one size they share, or
    `--image-size`; mixed sizes without it are refused, naming the most common."""
    if image_size is not None:
        size = parse_size(image_size)
        return size, set(sizes) != {size}
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}: {n}" for (w, h), n in sizes.most_common(3))
        (w, h), _ = sizes.most_common(1)[0]
        raise SSVAEError(
            f"{root}: the images come in {len(sizes)} sizes ({listed}{', ...' if len(sizes) > 3 else ''}); give "
            f"--image-size to bring them to one, e.g. --image-size {w}x{h}, the most common"
        )
    return next(iter(sizes)), False


def load_image_folder(
    path: str | os.PathLike, image_size: str | None = None, grayscale: bool = False, skip_unreadable: bool = False
) -> dict:
    """The folder's images as uint8 arrays ([N, H, W] grayscale, [N, H, W, 3] colour: colour when any image has
    colour and `grayscale` is off), their labels (class names; -1 for `unlabeled/`), the test split's when there is
    a `test/` folder (else None), and the preprocessing record a saved model keeps (`Preprocessing.source`)."""
    folder = Folder.scan(Path(path))
    found = headers(folder.all_files(), skip_unreadable)
    if not any(p in found for p, _ in folder.labeled):
        raise SSVAEError(f"{folder.root}: no readable labeled image; fix the files or remove them")
    (w, h), resize = choose_size(folder.root, Counter(size for size, _ in found.values()), image_size)
    color = not grayscale and any(mode not in GRAY_MODES for _, mode in found.values())
    mode = "RGB" if color else "L"

    def read(pairs: list[tuple[Path, object]]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(p, y) for p, y in pairs if p in found]
        with ThreadPoolExecutor(READERS) as pool:
            images = list(pool.map(lambda p: open_image(p, w, h, mode, resize=True), [p for p, _ in pairs]))
        shape = (h, w, 3) if color else (h, w)
        x = np.stack(images) if images else np.zeros((0, *shape), np.uint8)
        return x, np.array([y for _, y in pairs], dtype=object)

    x_train, y_train = read(folder.labeled + [(p, -1) for p in folder.unlabeled])
    x_test, y_test = read(folder.test) if folder.test else (None, None)
    source = {"kind": "image-folder", "size": [w, h], "mode": mode, "resize": True}
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, source=source)
