"""Loaders for every source and format, the split contract, and one clear line for each bad input."""

import pickle
import struct

import numpy as np
import pytest
import scipy.io
import torchvision.datasets.cifar
import torchvision.datasets.svhn
import torchvision.datasets.utils
from conftest import tiny_arrays

from ssvae.data import SOURCES, encode_labels, load_dataset, load_npz, luma, make_split
from ssvae.errors import SSVAEError


# ---------------------------------------------------------------------------------------------- splits
def test_split_balanced_disjoint_covering_and_seeded():
    y = np.repeat(np.arange(4), 50)
    s = make_split(y, labels_per_class=7, val_size=20, seed=3)
    assert np.bincount(y[s.labeled], minlength=4).tolist() == [7, 7, 7, 7]
    parts = [set(s.labeled), set(s.unlabeled), set(s.validation)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set.union(*parts) == set(range(len(y))) and len(s.validation) == 20
    again = make_split(y, 7, 20, seed=3)
    other = make_split(y, 7, 20, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(vars(s).values(), vars(again).values()))
    assert not np.array_equal(s.labeled, other.labeled)


def test_default_validation_size():
    y = np.repeat(np.arange(10), 6000)
    assert len(make_split(y, 100, None, 0).validation) == 5000
    assert len(make_split(np.repeat(np.arange(3), 100), 5, None, 0).validation) == 30


# ---------------------------------------------------------------------------------------------- sources
def test_digits_builtin():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1497, 64) and ds.x_test.shape == (300, 64) and ds.num_classes == 10
    assert ds.image_shape == (8, 8) and 0 <= ds.x_train.min() and ds.x_train.max() <= 1


@pytest.mark.parametrize("fname", ["fashion-mnist.npz", "fashion_mnist.npz"])
def test_named_npz_in_data_dir(tmp_path, fname):
    np.savez(tmp_path / fname, **tiny_arrays())
    ds = load_dataset("fashion-mnist", tmp_path, download=False)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape == (300, 16) and ds.num_classes == 3


def test_user_npz_path(tiny_npz):
    ds = load_dataset(str(tiny_npz))
    assert ds.name == "tiny" and ds.image_shape == (4, 4)


def test_float_unit_range_npz(tmp_path):
    a = tiny_arrays()
    a["x_train"], a["x_test"] = a["x_train"] / 255.0, a["x_test"] / 255.0
    np.savez(tmp_path / "f.npz", **a)
    ds = load_npz(tmp_path / "f.npz")
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() <= 1.0


def _idx(path, arr):
    code = 0x08  # unsigned byte
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST"), ("kmnist", "KMNIST")])
def test_torchvision_idx_formats(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xtr, xte = rng.integers(0, 256, (30, 28, 28)), rng.integers(0, 256, (10, 28, 28))
    ytr, yte = np.arange(30) % 10, np.arange(10) % 10
    _idx(raw / "train-images-idx3-ubyte", xtr)
    _idx(raw / "train-labels-idx1-ubyte", ytr)
    _idx(raw / "t10k-images-idx3-ubyte", xte)
    _idx(raw / "t10k-labels-idx1-ubyte", yte)
    ds = load_dataset(name, tmp_path)
    assert ds.x_train.shape == (30, 784) and ds.image_shape == (28, 28)
    np.testing.assert_array_equal(ds.x_train, xtr.reshape(30, -1))
    np.testing.assert_array_equal(ds.y_test, yte)


def test_torchvision_cifar10_format_and_grayscale(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3 * 32 * 32)).astype(np.uint8)
        batches[name] = (data, list(rng.integers(0, 10, 4)))
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": batches[name][1]}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    ds_fn = SOURCES["cifar10"]
    arrays = ds_fn(tmp_path, True)
    assert arrays["x_train"].shape == (20, 32, 32, 3)
    rgb = batches["data_batch_1"][0].reshape(4, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(arrays["x_train"][:4], rgb)
    from PIL import Image

    assert np.array_equal(luma(rgb[0]), np.asarray(Image.fromarray(rgb[0]).convert("L")))


def test_torchvision_cifar10_through_load_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(base / name, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (10, 3072)).astype(np.uint8), "labels": list(range(10))}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.x_train.shape == (50, 1024) and ds.x_train.dtype == np.uint8 and ds.image_shape == (32, 32)


def test_torchvision_svhn_format_maps_10_to_0(tmp_path, monkeypatch):
    # SVHN's download() checks the file's md5 in torchvision.datasets.utils before fetching
    monkeypatch.setattr(torchvision.datasets.svhn, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(torchvision.datasets.utils, "check_integrity", lambda *a, **k: True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("test", 10)):
        y = (np.arange(n) % 10 + 1).reshape(n, 1)  # SVHN's .mat files label digit 0 as 10
        scipy.io.savemat(
            tmp_path / f"{split}_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8), "y": y}
        )
    ds = load_dataset("svhn", tmp_path)
    assert ds.x_train.shape == (20, 1024) and ds.num_classes == 10
    assert ds.y_train.min() == 0 and ds.y_train.max() == 9
    assert (ds.y_train[np.arange(20) % 10 == 9] == 0).all()


# ---------------------------------------------------------------------------------------------- bad input
def _bad(tmp_path, **changes):
    a = tiny_arrays()
    a.update(changes)
    a = {k: v for k, v in a.items() if v is not None}
    path = tmp_path / "bad.npz"
    np.savez(path, **a)
    with pytest.raises(SSVAEError) as e:
        load_npz(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_unknown_dataset_lists_known():
    with pytest.raises(SSVAEError, match="unknown dataset 'foo'.*fashion-mnist.*digits|unknown dataset 'foo'.*digits"):
        load_dataset("foo")


def test_missing_keys(tmp_path):
    assert "lacks x_test" in _bad(tmp_path, x_test=None)


def test_wrong_shapes(tmp_path):
    assert "expected [N, H, W]" in _bad(tmp_path, x_train=np.zeros((3, 2, 2, 2, 2), np.uint8))
    assert "one label per image" in _bad(tmp_path, y_train=np.zeros(5, np.uint8))
    assert "pixels but x_test" in _bad(tmp_path, x_test=np.zeros((60, 5, 5), np.uint8))


def test_wrong_dtypes(tmp_path):
    assert "dtype" in _bad(tmp_path, x_train=np.array([["a"] * 16] * 300))
    assert "labels must be integers" in _bad(tmp_path, y_train=np.full(300, 0.5))


def test_test_label_unknown_to_training(tmp_path):
    y = np.arange(60) % 3
    y[0] = 7
    assert "y_test has labels 7 that no labeled y_train example has; the classes are 0, 1, 2" in _bad(
        tmp_path, y_test=y
    )


def test_class_names_are_kept_and_coded_in_sorted_order(tmp_path):
    arrays = tiny_arrays()
    names = np.array(["shirt", "bag", "coat"])
    arrays["y_train"], arrays["y_test"] = names[arrays["y_train"]], names[arrays["y_test"]]
    np.savez(tmp_path / "named.npz", **arrays)
    ds = load_npz(tmp_path / "named.npz")
    assert list(ds.classes) == ["bag", "coat", "shirt"]
    np.testing.assert_array_equal(ds.classes[ds.y_train], names[tiny_arrays()["y_train"]])
    np.testing.assert_array_equal(ds.classes[ds.y_test], names[tiny_arrays()["y_test"]])


@pytest.mark.parametrize("named", [False, True])
def test_own_unlabeled_marks(tmp_path, named):
    arrays = tiny_arrays()
    y = arrays["y_train"].astype(np.int64)
    y[10:] = -1  # only the first 10 rows keep their label
    arrays["y_train"] = np.array(["a", "b", "c"])[y].astype(object) if named else y
    if named:
        arrays["y_train"][10:] = "-1"
        arrays["y_train"] = arrays["y_train"].astype(str)
        arrays["y_test"] = np.array(["a", "b", "c"])[arrays["y_test"]]
    np.savez(tmp_path / "own.npz", **arrays)
    ds = load_npz(tmp_path / "own.npz")
    assert ds.partially_labeled and (ds.y_train == -1).sum() == 290
    split = make_split(ds.y_train, labels_per_class=None, val_size=None, seed=0)
    np.testing.assert_array_equal(split.labeled, np.arange(10))
    np.testing.assert_array_equal(split.unlabeled, np.arange(10, 300))
    assert len(split.validation) == 0


def test_all_unlabeled_or_one_class(tmp_path):
    assert "no labeled example" in _bad(tmp_path, y_train=np.full(300, -1))
    assert "labels of only one class (1)" in _bad(tmp_path, y_train=np.where(np.arange(300) < 5, 1, -1))


def test_nan_pixels(tmp_path):
    x = np.random.default_rng(0).random((300, 4, 4))
    x[3, 1, 1] = np.nan
    assert "NaN or inf" in _bad(tmp_path, x_train=x, x_test=np.zeros((60, 4, 4)))


def test_pixel_range(tmp_path):
    assert "scale them to [0, 1]" in _bad(tmp_path, x_train=np.full((300, 4, 4), 3.5))
    assert "must lie in 0..255" in _bad(tmp_path, x_train=np.full((300, 4, 4), 300, np.int32))


def test_too_many_labels_per_class():
    y = np.repeat(np.arange(3), 20)
    with pytest.raises(SSVAEError, match="more than class 0 has"):
        make_split(y, labels_per_class=50, val_size=6, seed=0)


def test_not_an_npz(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_text("not a zip")
    with pytest.raises(SSVAEError, match="not an .npz archive"):
        load_npz(p)


def test_damaged_zip_npz_is_one_line(tmp_path):
    p = tmp_path / "cut.npz"
    np.savez(p, **tiny_arrays())
    p.write_bytes(p.read_bytes()[:200])  # a zip cut short: the signature is right, the archive is not
    with pytest.raises(SSVAEError, match="cannot be read as .npz"):
        load_npz(p)


def test_a_stray_label_that_fits_is_trained_with_a_warning(capsys):
    y = np.repeat(np.arange(3), 100)
    y[0] = 10  # one mistyped label: a fourth class of one image
    codes, _, classes = encode_labels(y, None, "t")
    split = make_split(codes, 1, 0, 0, classes=classes)
    assert len(split.labeled) == 4  # it is a class of its own, as asked
    err = capsys.readouterr().err
    assert "class 10 has only 1 training image(s) where the median class has 99" in err and "mistyped" in err
    make_split(np.repeat(np.arange(3), 100), 1, 0, 0)
    assert "mistyped" not in capsys.readouterr().err  # balanced classes: silent
