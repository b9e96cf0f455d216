"""
The estimator on digits with 5% of the labels
=============================================

`SemiSupervisedClassifier` fits like any scikit-learn classifier; rows whose label is -1 are unlabeled. Here it
meets scikit-learn's label spreading and a logistic regression on the labels alone, on the same rows of
scikit-learn's 8x8 digits, with about 5% of the labels kept. A short fit (10 epochs, a few seconds on a CPU): the
manual's digits finding says what longer ones reach, and that on digits label spreading is the method to beat.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading

from ssvae import SemiSupervisedClassifier

X, y = load_digits(return_X_y=True)
X = X / 16  # intensities in [0, 1]: the Bernoulli likelihood of the paper
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=300, stratify=y, random_state=0)
y_semi = np.where(np.random.default_rng(0).random(len(y_train)) < 0.05, y_train, -1)
labeled = y_semi != -1
print(f"{labeled.sum()} labeled and {(~labeled).sum()} unlabeled training images")

methods = {
    "ssvae M2 (10 epochs)": SemiSupervisedClassifier(epochs=10, random_state=0),
    "label spreading": LabelSpreading(kernel="knn", n_neighbors=10),
    "logistic regression,\nlabels only": LogisticRegression(max_iter=1000),
}
scores = {}
for name, method in methods.items():
    if name.startswith("logistic"):
        method.fit(X_train[labeled], y_semi[labeled])
    else:
        method.fit(X_train, y_semi)
    scores[name] = 100 * method.score(X_test, y_test)
    print(f"{name.replace(chr(10), ' ')}: {scores[name]:.1f}% test accuracy")

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(scores), list(scores.values()), color=["tab:blue", "tab:grey", "tab:grey"])
for i, v in enumerate(scores.values()):
    ax.text(v + 0.5, i, f"{v:.1f}%", va="center")
ax.set(xlim=(0, 105), xlabel="test accuracy (%)", title="digits, about 5% of the labels")
fig.tight_layout()
plt.show()
