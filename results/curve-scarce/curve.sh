# The label-count curve from 1 to 100 labels per class (results/curve-scarce/README.md), from the committed run
# files, at the last epoch (what the estimator keeps); run from the repository root. The estimator's default is
# M2 taught by the graph on Calder et al.'s code up to 30 labels per class and M2 on the pixels at 100 (the rule of
# docs/guide/teacher.md), each enumerating the top 2 of the 10 classes (enumerate_top="auto", issue 45), its stage
# trained 60 epochs at 1 label per class (feature_epochs="auto" below 5 labels per class); the same
# runs enumerating every class, and the baselines, are on the same splits (seeds 0-2 at every count, 0-4 at 10 and
# 0-9 at 1 label per class for the default and the baselines).
python benchmarks/label_curve.py --out results/curve-scarce/curve.png --labels 1 5 10 30 100 --legend outside --checkpoint last --ylim 0 90 --title "Fashion-MNIST, test accuracy (last epoch)" \
 --series "ssvae's default: M2 taught by the graph (1-30), M2 on the pixels (100), top 2 classes" "results/enumerate-top/runs/fashion-mnist/calder-t0.01-top2/n{n}/seed*|results/enumerate-top/runs/fashion-mnist/none-t0-top2/n{n}/seed*" \
 --series-at 1 "ssvae's default: M2 taught by the graph (1-30), M2 on the pixels (100), top 2 classes" "results/teacher-levers/runs/fashion-mnist/calder-t0.01-top2-fe60/n{n}/seed*" \
 --series "the same, every class enumerated (the default before issue 45)" "results/teacher/runs/fashion-mnist/calder-t0.01/n{n}/seed*|results/curve-scarce/runs/fashion-mnist/m2-pixels/n{n}/seed*" \
 --series "the same, Calder et al.'s stage trained 60 epochs (the default at 1; 10 measured too)" "results/teacher-levers/runs/fashion-mnist/calder-t0.01-top2-fe60/n{n}/seed*" \
 --series "M1+M2, 30 + 20 epochs (the previous default)" "results/curve-scarce/runs/fashion-mnist/m1-m2/n{n}/seed*|results/fit-defaults-n{n}/runs/lr1e-3-h600-s*" \
 --series "Poisson learning (pixels)" "results/curve-scarce/runs/fashion-mnist/graph-poisson/n{n}/seed*|results/graph-n10/runs/fashion-mnist/graph-poisson/n{n}/seed*|results/graph-curve/runs/fashion-mnist/graph-poisson/n{n}/seed*" \
 --series "Poisson learning on Calder et al.'s code" "results/curve-scarce/runs/fashion-mnist/calder-graph-poisson/n{n}/seed*" \
 --series "Laplace learning on Calder et al.'s code" "results/curve-scarce/runs/fashion-mnist/calder-graph-laplace/n{n}/seed*" \
 --series "self-training (pixels)" "results/curve-scarce/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*" \
 --series "logistic regression, labels only" "results/curve-scarce/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-logreg/n{n}/seed*" \
 --series "label spreading (pixels)" "results/curve-scarce/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*"
