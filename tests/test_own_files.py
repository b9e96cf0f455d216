"""Issue 46: data as users hold it, a folder of images or a CSV / Parquet table, straight into `ssvae train`, then
saved, predicted on and resumed, on real files written here (PNG and JPEG from the bundled digits, at two sizes and
two modes; scikit-learn's wine table with most labels blanked)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits, load_wine

from ssvae import SemiSupervisedClassifier
from ssvae.cli import main
from ssvae.data import load_dataset
from ssvae.data.splits import TEST_FRACTION, hold_out_test
from ssvae.data.tables import TableSchema
from ssvae.errors import SSVAEError
from ssvae.records import rundir as ck

TRAIN = ["train", "--epochs", "2", "--warmup-epochs", "1", "--device", "cpu", "--precision", "fp32", "--quiet"]
TRAIN += ["--hidden", "16", "--z-dim", "4", "--classifier-hidden", "16", "--batch-size", "50"]
TRAIN += ["--labeled-batch-size", "50"]


def write_digits(root: Path, n: int = 300, labeled_every: int = 4, sizes=((8, 8), (12, 12)), test: bool = False):
    """Digits as image files: a folder per class (named after the digit) and unlabeled/; every third image at the
    second size, every fourth in RGB, odd ones as JPEG."""
    d = load_digits()
    for i in range(n):
        im = Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8), "L")
        if i % 3 == 0:
            im = im.resize(sizes[1])
        if i % 4 == 1:
            im = im.convert("RGB")
        folder = root / (f"d{d.target[i]}" if i % labeled_every == 0 else "unlabeled")
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{i:04d}.{'jpg' if i % 2 else 'png'}")
    if test:
        for i in range(n, n + 60):
            folder = root / "test" / f"d{d.target[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8), "L").save(folder / f"{i}.png")
    return root


def write_wine(tmp: Path, keep: float = 0.3) -> pd.DataFrame:
    """Wine with most labels blanked, an id column and a text column; as CSV and as Parquet."""
    w = load_wine(as_frame=True)
    df = w.frame.copy()
    rng = np.random.default_rng(0)
    df["target"] = np.asarray(w.target_names, dtype=object)[w.target]
    df.loc[rng.random(len(df)) > keep, "target"] = None
    df.insert(0, "name", [f"wine{i}" for i in range(len(df))])
    df["colour"] = rng.choice(["red", "white", "rose"], len(df))
    df.to_csv(tmp / "wine.csv", index=False)
    df.to_parquet(tmp / "wine.parquet")
    return df


def predictions(path: Path) -> list[list[str]]:
    with open(path) as f:
        return list(csv.reader(f))


# --------------------------------------------------------------------------------------------------------
# folders of images


def test_folder_loads_as_pil_converts_each_file(tmp_path):
    """Each image as PIL itself converts and resizes it (an independent read of the files), labels from the
    folder names, unlabeled/ marked -1, and the test split held out of the labeled images by the seed."""
    root = write_digits(tmp_path / "digits")
    ds = load_dataset(str(root), image_size="8x8", seed=3)
    assert ds.image_shape == (8, 8, 3) and ds.dim == 192  # some images are RGB: colour is kept
    assert list(ds.classes) == [f"d{k}" for k in range(10)]
    n_labeled = sum(1 for p in root.glob("d*/*"))
    counts = np.bincount([int(p.parent.name[1:]) for p in root.glob("d*/*")], minlength=10)
    expected_test = np.maximum(1, np.floor(counts * TEST_FRACTION)).sum()
    assert len(ds.y_test) == expected_test and (ds.y_train >= 0).sum() == n_labeled - expected_test
    assert (ds.y_train == -1).sum() == len(list((root / "unlabeled").iterdir()))
    assert "seed 3" in ds.test_origin
    files = sorted((root / "unlabeled").iterdir())
    first = np.asarray(Image.open(files[0]).convert("RGB").resize((8, 8), Image.Resampling.BILINEAR))
    unl = ds.x_train[ds.y_train == -1]
    assert np.array_equal(unl[0], first.reshape(-1))
    gray = load_dataset(str(root), image_size="8x8", grayscale=True, seed=3)
    assert gray.image_shape == (8, 8)
    luma = np.asarray(Image.open(files[0]).convert("L").resize((8, 8), Image.Resampling.BILINEAR))
    assert np.array_equal(gray.x_train[gray.y_train == -1][0], luma.reshape(-1))
    other = load_dataset(str(root), image_size="8x8", seed=4)
    assert not np.array_equal(other.y_test, ds.y_test) or not np.array_equal(other.x_test, ds.x_test)


def test_folder_with_test_folder_keeps_it(tmp_path):
    root = write_digits(tmp_path / "digits", test=True, sizes=((8, 8), (8, 8)))
    ds = load_dataset(str(root))
    assert len(ds.x_test) == 60 and ds.test_origin is None and ds.image_shape == (8, 8, 3)


def test_folder_trains_saves_predicts_and_resumes_bit_identical(tmp_path, capsys):
    """`ssvae train --dataset FOLDER/`: class names in the saved model, a test split stated in the record, predict
    on files of another size and mode with no flag, and a resumed run equal to one trained straight through."""
    root = write_digits(tmp_path / "digits")
    data = ["--dataset", str(root), "--image-size", "8x8", "--grayscale"]
    run, straight = tmp_path / "run", tmp_path / "straight"
    assert main([*TRAIN, *data, "--out", str(run)]) == 0
    record = ck.read_json(run / ck.CONFIG, ck.CONFIG_SHAPE)
    assert record["derived"]["classes"] == [f"d{k}" for k in range(10)]
    assert record["derived"]["test_split"].startswith("held out of the labeled rows by seed 0")
    assert main([*TRAIN, *data, "--epochs", "4", "--out", str(run)]) == 0  # resumed: two more epochs
    assert main([*TRAIN, *data, "--epochs", "4", "--out", str(straight)]) == 0
    a, b = (ck.load_checkpoint(r / ck.LAST)["model"] for r in (run, straight))
    assert all(torch.equal(a[k], b[k]) for k in a)
    new = tmp_path / "new"
    new.mkdir()
    d = load_digits()
    Image.fromarray((d.images[500] * 255 / 16).astype(np.uint8)).resize((20, 20)).convert("RGB").save(new / "a.jpg")
    Image.fromarray((d.images[501] * 255 / 16).astype(np.uint8)).save(new / "b.png")
    assert main(["predict", str(run), str(new), "--out", str(tmp_path / "p.csv")]) == 0
    rows = predictions(tmp_path / "p.csv")
    assert rows[0] == ["id", "predicted", *[f"p_d{k}" for k in range(10)]]
    assert [r[0] for r in rows[1:]] == ["a.jpg", "b.png"] and all(r[1].startswith("d") for r in rows[1:])
    assert main(["evaluate", "--no-figures", str(run)]) == 0


def test_unreadable_file_can_be_skipped(tmp_path, capsys):
    root = write_digits(tmp_path / "digits", sizes=((8, 8), (8, 8)))
    (root / "d1" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(SSVAEError, match="broken.png: not a readable image"):
        load_dataset(str(root))
    ds = load_dataset(str(root), skip_unreadable=True)
    assert "left out 1 unreadable file(s), the first" in capsys.readouterr().err
    assert len(ds.x_train) + len(ds.x_test) == 300


# --------------------------------------------------------------------------------------------------------
# tables


def test_table_features_against_an_independent_encoding(tmp_path):
    """Numbers standardised on the training rows, text one-hot over the training table's values (pandas'
    get_dummies, independently), the id column left out, empty labels unlabeled, the test rows held out."""
    df = write_wine(tmp_path)
    ds = load_dataset(str(tmp_path / "wine.csv"), label_column="target", id_column="name", seed=1)
    raw = pd.get_dummies(df.drop(columns=["name", "target"]), columns=["colour"], dtype=float).to_numpy(float)
    labels = df["target"]
    codes = np.where(labels.isna(), -1, np.searchsorted(np.array(["class_0", "class_1", "class_2"]), labels.fillna("")))
    keep, test = hold_out_test(codes, 1, "wine", np.array(["class_0", "class_1", "class_2"]))
    mean, std = raw[keep].mean(0), raw[keep].std(0)
    assert np.allclose(ds.x_train, (raw[keep] - mean) / std, atol=1e-5)
    assert np.allclose(ds.x_test, (raw[test] - mean) / std, atol=1e-5)
    assert np.array_equal(ds.y_train, codes[keep]) and np.array_equal(ds.y_test, codes[test])
    assert (ds.y_train == -1).sum() == labels.isna().sum() and list(ds.classes) == ["class_0", "class_1", "class_2"]
    pq = load_dataset(str(tmp_path / "wine.parquet"), label_column="target", id_column="name", seed=1)
    assert np.array_equal(pq.x_train, ds.x_train) and np.array_equal(pq.y_train, ds.y_train)


def test_schema_encodes_an_unseen_value_as_zeros_and_refuses_what_it_cannot_read(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "c": ["x", "y", "x"], "label": [0, None, 1]})
    schema = TableSchema.of(frame, Path("t.csv"), "label", None)
    assert schema.levels == {"c": ["x", "y"]} and schema.columns == ["a", "c"]
    new = pd.DataFrame({"c": ["y", "z"], "a": [5.0, 6.0]})  # columns in another order, an unseen value
    assert schema.features(new, Path("n.csv")).tolist() == [[5.0, 0.0, 1.0], [6.0, 0.0, 0.0]]
    with pytest.raises(SSVAEError, match="lacks the column"):
        schema.features(new.drop(columns=["a"]), Path("n.csv"))
    with pytest.raises(SSVAEError, match="column 'a' has 1 empty"):
        schema.features(pd.DataFrame({"a": [1.0, None], "c": ["x", "y"]}), Path("n.csv"))
    wide = pd.DataFrame({"a": range(60), "who": [f"p{i}" for i in range(60)], "label": [0, 1] * 30})
    with pytest.raises(SSVAEError, match="'who' is text with 60 distinct values"):
        TableSchema.of(wide, Path("w.csv"), "label", None)
    assert TableSchema.of(wide, Path("w.csv"), "label", "who").columns == ["a"]


def test_table_trains_saves_predicts_beside_its_ids(tmp_path):
    """`ssvae train --dataset wine.csv --label-column target --id-column name`, then `ssvae predict` on the CSV and on
    the Parquet file: the same predictions, written beside the id column, with the class names."""
    write_wine(tmp_path)
    run = tmp_path / "run"
    data = ["--dataset", str(tmp_path / "wine.csv"), "--label-column", "target", "--id-column", "name"]
    assert main([*TRAIN, *data, "--epochs", "20", "--out", str(run)]) == 0
    record = ck.read_json(run / ck.CONFIG, ck.CONFIG_SHAPE)
    assert record["config"]["model_options"]["likelihood"] == "gaussian"  # standardised columns
    for name in ("wine.csv", "wine.parquet"):
        assert main(["predict", str(run), str(tmp_path / name), "--out", str(tmp_path / f"{name}.p.csv")]) == 0
    a, b = predictions(tmp_path / "wine.csv.p.csv"), predictions(tmp_path / "wine.parquet.p.csv")
    assert a == b and a[0] == ["name", "predicted", "p_class_0", "p_class_1", "p_class_2"]
    assert [r[0] for r in a[1:4]] == ["wine0", "wine1", "wine2"] and len(a) == 179
    model = SemiSupervisedClassifier.load(run)
    ds = load_dataset(str(tmp_path / "wine.csv"), label_column="target", id_column="name")
    raw = ds.x_test * model.preprocessing_.std + model.preprocessing_.mean  # the test rows in the table's units
    assert main(["evaluate", "--no-figures", str(run)]) == 0
    last = ck.read_json(run / ck.METRICS, ck.METRICS_SHAPE)["last"]
    assert model.score(raw, ds.classes[ds.y_test]) * 100 == pytest.approx(last["test_accuracy"], abs=1e-4)


def test_table_too_large_for_memory_is_refused_before_loading(tmp_path, monkeypatch):
    import ssvae.data.tables as tables

    write_wine(tmp_path)
    monkeypatch.setattr(tables, "available_memory", lambda: 1000)
    with pytest.raises(SSVAEError, match="more than the 0.0 GiB free; train on a sample"):
        load_dataset(str(tmp_path / "wine.csv"), label_column="target")


def test_held_out_test_split_per_class():
    y = np.array([0] * 10 + [1] * 3 + [2] * 2 + [-1] * 5)
    keep, test = hold_out_test(y, 0, "t", np.array(["a", "b", "c"]))
    assert np.bincount(y[test], minlength=3).tolist() == [2, 1, 1]
    assert len(np.intersect1d(keep, test)) == 0 and len(keep) + len(test) == len(y)
    assert np.array_equal(test, hold_out_test(y, 0, "t", np.array(["a", "b", "c"]))[1])
    with pytest.raises(SSVAEError, match=r"at least 2 labeled rows .* c \(1\) has fewer"):
        hold_out_test(np.array([0, 0, 1, 1, 2]), 0, "t", np.array(["a", "b", "c"]))


# --------------------------------------------------------------------------------------------------------
# the estimator on a DataFrame


@pytest.mark.parametrize("empty", [None, np.nan, ""])
def test_estimator_takes_a_dataframe_and_empty_labels(tmp_path, empty):
    df = write_wine(tmp_path)
    y = df.pop("target").astype(object)
    y[y.isna()] = empty
    x = df.drop(columns=["name", "colour"])
    small = dict(hidden=16, z_dim=4, classifier_hidden=16, device="cpu", precision="fp32", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = SemiSupervisedClassifier(epochs=2, **small).fit(x, y)
        ref = SemiSupervisedClassifier(epochs=2, **small).fit(x.to_numpy(), y.where(y.notna() & (y != ""), -1))
    assert list(clf.classes_) == ["class_0", "class_1", "class_2"]
    assert np.array_equal(clf.predict_proba(x), ref.predict_proba(x.to_numpy()))
