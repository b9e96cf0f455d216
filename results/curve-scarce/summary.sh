# The curve's verdict (issue 43, item 5): results/curve-scarce/summary.json and its table, from the committed run
# files; run from the repository root. The default is the estimator's rule: M2 taught by the graph up to 30 labels per
# class, M2 on the pixels at 100 (both at the estimator's schedule for 60,000 images), each enumerating the top 2
# of the 10 classes (enumerate_top="auto", issue 45); below 5 labels per class its stage trains twice the steps (60
# epochs: feature_epochs="auto", SCARCE_STAGE).
python benchmarks/curve_summary.py --labels 1 5 10 30 100 --json results/curve-scarce/summary.json \
 --default "M2 taught by the graph (calder, λ 0.01), top 2 classes" "results/enumerate-top/runs/fashion-mnist/calder-t0.01-top2/n{n}/seed*" \
 --default-at 1 "M2 taught by the graph (calder, λ 0.01), top 2 classes, the stage 60 epochs" "results/teacher-levers/runs/fashion-mnist/calder-t0.01-top2-fe60/n{n}/seed*" \
 --default-at 100 "M2 on the pixels (the estimator's schedule), top 2 classes" "results/enumerate-top/runs/fashion-mnist/none-t0-top2/n{n}/seed*" \
 --ssvae "M2 on the pixels (the estimator's schedule), top 2 classes" "results/enumerate-top/runs/fashion-mnist/none-t0-top2/n{n}/seed*" \
 --ssvae "M2 on the pixels (the estimator's schedule), every class" "results/curve-scarce/runs/fashion-mnist/m2-pixels/n{n}/seed*" \
 --ssvae "M1+M2, 30 + 20 epochs" "results/curve-scarce/runs/fashion-mnist/m1-m2/n{n}/seed*|results/fit-defaults-n{n}/runs/lr1e-3-h600-s*" \
 --ssvae "M2 taught by the graph (calder, λ 0.01)" "results/teacher/runs/fashion-mnist/calder-t0.01/n{n}/seed*" \
 --ssvae "M2 taught by the graph (calder, λ 0.01), top 2 classes, the stage 60 epochs" "results/teacher-levers/runs/fashion-mnist/calder-t0.01-top2-fe60/n{n}/seed*" \
 --ssvae "M2 on the pixels, 50 epochs" "results/cpu/runs/fashion-mnist/m2/n{n}/seed*" \
 --baselines results/curve-scarce/runs/fashion-mnist results/graph-n10/runs/fashion-mnist results/graph-curve/runs/fashion-mnist results/m1-curve/runs/fashion-mnist results/m1-n100/runs/fashion-mnist results/cpu/runs/fashion-mnist
