# the label-count curve with the graph methods on it (results/graph-curve/README.md), from the committed run files;
# run from the repository root. The series of results/m1-curve/curve.sh, plus Laplace and Poisson learning on the
# pixels (10 labels per class: results/graph-n10; 30 and 100: this folder).
python benchmarks/label_curve.py --out results/graph-curve/curve.png --labels 10 30 100 --title "Fashion-MNIST: test accuracy over labels per class (3 seeds)" \
 --series "M1+M2 (M1's code, 20 epochs)" "results/m1-n10/runs/fashion-mnist/m2/n{n}/feature_code=mean/seed*|results/m1-curve/runs/fashion-mnist/m2/n{n}/weighting=sum/seed*|results/m1-n100/runs/fashion-mnist/m2/n{n}/seed*" \
 --series "M2 on pixels (10: 20 epochs; 100: 50)" "results/floor-n10/runs/fashion-mnist/m2/n{n}/model_options=default/seed*|results/cpu/runs/fashion-mnist/m2/n{n}/seed*" \
 --series "self-training (pixels)" "results/gpu/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-selftraining/n{n}/seed*" \
 --series "Poisson learning (pixels)" "results/graph-n10/runs/fashion-mnist/graph-poisson/n{n}/seed*|results/graph-curve/runs/fashion-mnist/graph-poisson/n{n}/seed*" \
 --series "Laplace learning (pixels)" "results/graph-n10/runs/fashion-mnist/graph-laplace/n{n}/seed*|results/graph-curve/runs/fashion-mnist/graph-laplace/n{n}/seed*" \
 --series "logistic regression, labels only" "results/gpu/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-logreg/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-logreg/n{n}/seed*" \
 --series "label spreading (pixels)" "results/gpu/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-curve/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*|results/m1-n100/runs/fashion-mnist/sklearn-labelspreading/n{n}/seed*"
