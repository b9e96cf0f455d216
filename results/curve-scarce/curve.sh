# The label-count curve from 1 to 100 labels per class (results/curve-scarce/README.md), from the committed run
# files; run from the repository root. results/graph-curve/curve.sh's series, with 1 and 5 labels per class from
# this folder, the estimator's schedule for M1+M2 (at 10: results/fit-defaults-n10's runs) and Poisson learning on
# M1's code (at 10: results/graph-n10).
python benchmarks/label_curve.py --out results/curve-scarce/curve.png --labels 1 5 10 30 100 --legend outside --title "Fashion-MNIST: test accuracy over labels per class" \
 --series "M1+M2, 30 + 20 epochs, lr 1e-3 (the estimator's)" "results/curve-scarce/runs/fashion-mnist/m1-m2/n{n}/seed*|results/fit-defaults-n{n}/runs/lr1e-3-h600-s*" \
 --series "M1+M2, 100 + 20 epochs, lr 3e-4" "results/m1-n10/runs/fashion-mnist/m2/n{n}/feature_code=mean/seed*|results/m1-curve/runs/fashion-mnist/m2/n{n}/weighting=sum/seed*|results/m1-n100/runs/fashion-mnist/m2/n{n}/seed*" \
 --series "M2 on pixels (10: 20 epochs; 100: 50)" "results/floor-n10/runs/fashion-mnist/m2/n{n}/model_options=default/seed*|results/cpu/runs/fashion-mnist/m2/n{n}/seed*" \
 --series "Poisson learning on M1's code" "results/curve-scarce/runs/fashion-mnist/m1-graph-poisson/n{n}/seed*|results/graph-n10/runs/fashion-mnist/m1-graph-poisson/n{n}/seed*" \
 --series "Poisson learning (pixels)" "results/curve-scarce/runs/fashion-mnist/graph-poisson/n{n}/seed*|results/graph-n10/runs/fashion-mnist/graph-poisson/n{n}/seed*|results/graph-curve/runs/fashion-mnist/graph-poisson/n{n}/seed*" \
 --series "Laplace learning (pixels)" "results/curve-scarce/runs/fashion-mnist/graph-laplace/n{n}/seed*|results/graph-n10/runs/fashion-mnist/graph-laplace/n{n}/seed*|results/graph-curve/runs/fashion-mnist/graph-laplace/n{n}/seed*" \
 --series "self-training (pixels)" "results/curve-scarce/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*" \
 --series "logistic regression, labels only" "results/curve-scarce/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-logreg/n{n}/seed*" \
 --series "label spreading (pixels)" "results/curve-scarce/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/gpu/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*"
