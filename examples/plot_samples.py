"""
Images drawn from the generative model, class by class
======================================================

M2 is a generative model of the images given their class: p(x|y,z) with z from its prior. After a short fit on
digits with 10% of the labels, `SemiSupervisedClassifier.sample(n, y)` draws images of the class asked for, in the
units of X. The rows are classes 0-9, the columns independent draws of z.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from ssvae import SemiSupervisedClassifier

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8) / 16  # images in [0, 1]
y_semi = np.where(np.random.default_rng(0).random(len(y)) < 0.1, y, -1)
clf = SemiSupervisedClassifier(epochs=10, random_state=0).fit(X, y_semi)

fig, axes = plt.subplots(10, 8, figsize=(5, 6.2))
for c in range(10):
    images = clf.sample(8, y=clf.classes_[c], random_state=c)
    for j, image in enumerate(images):
        axes[c, j].imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axes[c, j].axis("off")
fig.suptitle("M2's samples, one row per class")
fig.tight_layout()
plt.show()
