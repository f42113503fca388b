"""Speed of the batched engine against a torch.nn loop and scikit-learn, side by side.

    python bench/bench.py            # the full benchmark (a few minutes on 2 cores)
    python bench/bench.py --quick    # smaller samples, for a smoke test

Everything runs in one process with one thread (torch, MKL, OpenMP), on
synthetic data of the sizes of the real problems, so the numbers need no data
files.  Rates are model-epochs per second (one network, one pass over its
training pool) of process CPU time (see `_timed`).  Writes the table to stdout
and to bench/results/bench.csv.

Cases
  iris-sized     150 patterns (pool 120) x 4 inputs, 3 classes, 64 hidden, batch 32, 256 networks
  fashion-sized  56,000-pattern pool x 784 inputs, 10 classes, 256 hidden, batch 32 and 128
                 (timed on a sample of the pool and scaled to a full epoch); at batch 128 also
                 the engine with bfloat16 products (``precision="bfloat16"``) against float32
  housing-sized  16,512-pattern pool x 13 inputs, 1 linear output, 64 and 512 hidden, batch 128,
                 80 networks (one grid shard: 16 configurations x 5 folds)
  sasla          selection (informativeness of 56,000 patterns) vs one training epoch, same network
  steps          the budget protocol's rounds: SGD steps per second at |L| = 10, 100 and the whole pool,
                 10 to 250 networks per shard (Iris- and Housing-sized pools)
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from alnn.model import BatchedMLP, seed_words  # noqa: E402
from alnn.strategies.sasla import pool_informativeness  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent


def _timed(fn, repeat: int = 1) -> float:
    """Best CPU time of the process over ``repeat`` calls (after one warm-up call).

    CPU time rather than wall time: everything here runs on one thread, and on a shared
    machine the time the process waits for a core is not its own (wall-clock figures
    moved by 2x between runs)."""
    fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _data(n: int, I: int, K: int, seed: int = 0, pixels: bool = False):
    g = torch.Generator().manual_seed(seed)
    if pixels:
        X = torch.randint(0, 256, (n, I), generator=g).float() / 255
    else:
        X = torch.randn(n, I, generator=g)
    labels = torch.randint(0, K, (n,), generator=g)
    T = torch.nn.functional.one_hot(labels, K).float()
    return X, T, labels


# --------------------------------------------------------------------------- the three trainers


def engine_rate(X, T, M: int, J: int, B: int, epochs: int, repeat: int = 3, *, output: str = "sigmoid",
                lr=0.1, precision: str = "float32") -> float:
    n, I = X.shape
    K = T.shape[1]
    net = BatchedMLP.initialise([(0, m) for m in range(M)], I, J, K, output=output, lr=lr, momentum=0.9,
                                weight_decay=1e-3, precision=precision)
    rows = torch.arange(n).repeat(M, 1)
    mask = torch.ones(M, n, dtype=torch.bool)
    stream = torch.tensor([seed_words(0, m) for m in range(M)])
    state = {"epoch": 0}

    def go():
        for _ in range(epochs):
            state["epoch"] += 1
            net.train_epoch(X, T, rows, rows, mask, stream, state["epoch"], B)

    return M * epochs / _timed(go, repeat)


def torch_loop_rate(X, T, M: int, J: int, B: int, epochs: int, repeat: int = 3, *,
                    output: str = "sigmoid") -> float:
    n, I = X.shape
    K = T.shape[1]
    torch.manual_seed(0)
    last = [torch.nn.Sigmoid()] if output == "sigmoid" else []
    nets = [torch.nn.Sequential(torch.nn.Linear(I, J), torch.nn.Sigmoid(), torch.nn.Linear(J, K), *last)
            for _ in range(M)]
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3) for m in nets]
    g = torch.Generator().manual_seed(0)

    def go():
        for _ in range(epochs):
            for net, opt in zip(nets, opts):
                perm = torch.randperm(n, generator=g)
                for s in range(0, n, B):
                    idx = perm[s:s + B]
                    opt.zero_grad()
                    loss = ((net(X[idx]) - T[idx]) ** 2).sum(dim=1).mean()
                    loss.backward()
                    opt.step()

    return M * epochs / _timed(go, repeat)


def sklearn_rate(X, labels, M: int, J: int, B: int, epochs: int, repeat: int = 3) -> float:
    """``MLPClassifier.fit`` (float ``labels``: ``MLPRegressor.fit``) for exactly ``epochs`` epochs
    (no early stopping), M times."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    Xn, yn = X.numpy(), labels.numpy()
    regression = yn.dtype.kind == "f"
    kind, lr = (MLPRegressor, 0.01) if regression else (MLPClassifier, 0.1)
    models = [kind(hidden_layer_sizes=(J,), activation="logistic", solver="sgd", batch_size=B,
                   learning_rate_init=lr, momentum=0.9, nesterovs_momentum=False, alpha=1e-3,
                   max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, random_state=m)
              for m in range(M)]

    def go():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for m in models:
                m.fit(Xn, yn)

    return M * epochs / _timed(go, repeat)


def run_rate(J: int, B: int, epochs: int) -> float:
    """The whole `alnn.run` loop (shuffles, training, validation metrics every epoch) on an Iris-sized problem."""
    from alnn.datasets import Dataset
    from alnn.model import TrainConfig
    from alnn.experiment import run

    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    ds = Dataset(name="iris-sized", task="classification", X=(rng.normal(size=(150, 4)) + y[:, None]).astype(np.float32),
                 y=y.astype(np.int64), feature_names=("a", "b", "c", "d"), class_names=("0", "1", "2"))
    cfg = TrainConfig(hidden=J, lr=0.1, weight_decay=1e-3, momentum=0.9, batch_size=B)
    t0 = time.process_time()
    run(ds, "passive", config=cfg, trials=51, folds=5, epochs=epochs, seed=0, progress=False)
    return 255 * epochs / (time.process_time() - t0)


def gemm_rate(size: int = 1024, repeat: int = 10, dtype=torch.float32) -> float:
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    out = torch.empty(size, size, dtype=dtype)
    return 2 * size ** 3 / _timed(lambda: torch.mm(a, b, out=out), repeat) / 1e9


def flops_per_pattern(I: int, J: int, K: int) -> int:
    """Useful arithmetic of one training pattern: forward 2(IJ + JK), backward 2JK + 2JK + 2IJ."""
    return 4 * I * J + 6 * J * K


# --------------------------------------------------------------------------- cases


def iris_case(quick: bool) -> list[dict]:
    M, J, B = 256, 64, 32
    X, T, labels = _data(120, 4, 3)
    ref_nets = 8 if quick else 32
    epochs = 5 if quick else 20
    eng = engine_rate(X, T, M, J, B, epochs)
    loop = torch_loop_rate(X, T, ref_nets, J, B, 2 if quick else 5)
    skl = sklearn_rate(X, labels, ref_nets, J, B, 2 if quick else 5)
    full = run_rate(J, B, 10 if quick else 50)
    return [
        {"case": "iris-sized", "method": "alnn engine (256 networks)", "model_epochs_per_s": eng},
        {"case": "iris-sized", "method": "alnn.run, 51 trials x 5 folds, metrics", "model_epochs_per_s": full},
        {"case": "iris-sized", "method": "torch.nn loop + optim.SGD", "model_epochs_per_s": loop},
        {"case": "iris-sized", "method": "sklearn MLPClassifier sgd", "model_epochs_per_s": skl},
        {"case": "iris-sized", "method": "engine / torch loop", "ratio": eng / loop},
        {"case": "iris-sized", "method": "engine / sklearn", "ratio": eng / skl},
    ]


def fashion_case(quick: bool, batches=(32, 128), bf16_batch: int = 128) -> list[dict]:
    pool, I, K, J = 56_000, 784, 10, 256
    sample = 2048 if quick else 8192
    X, T, labels = _data(sample, I, K, pixels=True)
    M = 4
    scale = sample / pool  # a sample epoch is this fraction of a full one
    rep = 2 if quick else 3
    rows, results = [], {}
    for B in batches:  # engine, loop, sklearn interleaved: the machine may be shared
        results[B] = {"eng": engine_rate(X, T, M, J, B, 1, repeat=rep) * scale,
                      "loop": torch_loop_rate(X, T, 2, J, B, 1, repeat=rep) * scale,
                      "skl": sklearn_rate(X, labels, 1, J, B, 1, repeat=rep) * scale}
        if B == bf16_batch:  # float32 and bfloat16 products back to back
            results[B]["bf16"] = engine_rate(X, T, M, J, B, 1, repeat=rep, precision="bfloat16") * scale
            results[B]["f32"] = engine_rate(X, T, M, J, B, 1, repeat=rep) * scale
    peak = max(gemm_rate(), gemm_rate())
    rows.append({"case": "fashion-sized", "method": "float32 matmul 1024^3 (GFLOP/s)", "value": peak})
    peak16 = gemm_rate(repeat=2, dtype=torch.bfloat16)
    rows.append({"case": "fashion-sized", "method": "bfloat16 matmul 1024^3 (GFLOP/s)", "value": peak16})
    mode = BatchedMLP.initialise([(0, 0)], 2, 2, 1, precision="bfloat16").bf16_mode
    for B in batches:
        case = f"fashion b={B}"
        eng, loop, skl = results[B]["eng"], results[B]["loop"], results[B]["skl"]
        eff = eng * pool * flops_per_pattern(I, J, K) / 1e9 / peak
        rows += [
            {"case": case, "method": f"alnn engine ({M} networks)", "model_epochs_per_s": eng},
            {"case": case, "method": "torch.nn loop + optim.SGD", "model_epochs_per_s": loop},
            {"case": case, "method": "sklearn MLPClassifier sgd", "model_epochs_per_s": skl},
            {"case": case, "method": "engine / torch loop", "ratio": eng / loop},
            {"case": case, "method": "engine / sklearn", "ratio": eng / skl},
            {"case": case, "method": "engine useful GFLOP/s / matmul rate", "ratio": eff},
        ]
        if "bf16" in results[B]:
            f32 = max(results[B]["f32"], eng)
            rows += [
                {"case": case, "method": f"alnn engine, bfloat16 products ({mode})",
                 "model_epochs_per_s": results[B]["bf16"]},
                {"case": case, "method": "engine bfloat16 / float32", "ratio": results[B]["bf16"] / f32},
            ]
    return rows


def housing_case(quick: bool, hidden=(64, 512)) -> list[dict]:
    """California-Housing-sized: one grid shard of 80 networks (16 configurations of lr x 5 folds)."""
    pool, I, K, M, B = 16_512, 13, 1, 80, 128
    g = torch.Generator().manual_seed(1)
    rows, results = [], {}
    for J in hidden:
        sample = min(pool, (2048 if quick else 8192) if J > 128 else pool)
        scale = sample / pool
        X = torch.randn(sample, I, generator=g)
        T = torch.randn(sample, K, generator=g)
        rep = 1 if quick else 2
        lr = np.repeat(np.geomspace(0.003, 0.1, 16), 5)  # per-network hyperparameters, as in a grid shard
        results[J] = {"eng": engine_rate(X, T, M, J, B, 1, repeat=rep, output="linear", lr=lr) * scale,
                      "loop": torch_loop_rate(X, T, 2 if quick else 4, J, B, 1, repeat=rep, output="linear") * scale,
                      "skl": sklearn_rate(X, T[:, 0], 2 if quick else 4, J, B, 1, repeat=rep) * scale}
    peak = max(gemm_rate(), gemm_rate())
    rows.append({"case": "housing-sized", "method": "float32 matmul 1024^3 (GFLOP/s)", "value": peak})
    for J in hidden:
        case = f"housing J={J}"
        eng, loop, skl = results[J]["eng"], results[J]["loop"], results[J]["skl"]
        eff = eng * pool * flops_per_pattern(I, J, K) / 1e9 / peak
        rows += [
            {"case": case, "method": f"alnn engine ({M} networks)", "model_epochs_per_s": eng},
            {"case": case, "method": "torch.nn loop + optim.SGD", "model_epochs_per_s": loop},
            {"case": case, "method": "sklearn MLPRegressor sgd", "model_epochs_per_s": skl},
            {"case": case, "method": "engine / torch loop", "ratio": eng / loop},
            {"case": case, "method": "engine / sklearn", "ratio": eng / skl},
            {"case": case, "method": "engine useful GFLOP/s / matmul rate", "ratio": eff},
        ]
    return rows


def sasla_case(quick: bool, batches=(32, 128)) -> list[dict]:
    pool, I, K, J = 56_000, 784, 10, 256
    n = 14_000 if quick else pool
    X, T, _ = _data(n, I, K, pixels=True)
    net = BatchedMLP.initialise([(0, 0)], I, J, K, lr=0.1, momentum=0.9, weight_decay=1e-3)
    rows = torch.arange(n).unsqueeze(0)
    mask = torch.ones(1, n, dtype=torch.bool)
    stream = torch.tensor([seed_words(0, 0)])
    rep = 1 if quick else 2
    t_sel = _timed(lambda: pool_informativeness(net, X, rows, norm="sum"), rep)
    t_euc = _timed(lambda: pool_informativeness(net, X, rows, norm="euclidean"), rep)
    out = [{"case": "sasla", "method": f"selection, {n} patterns, sum-norm (s)", "value": t_sel},
           {"case": "sasla", "method": f"selection, {n} patterns, euclidean (s)", "value": t_euc}]
    for B in batches:
        t_epoch = _timed(lambda: net.train_epoch(X, T, rows, rows, mask, stream, 1, B), rep)
        out += [{"case": "sasla", "method": f"training epoch, {n} patterns, b={B} (s)", "value": t_epoch},
                {"case": "sasla", "method": f"selection (sum) / training epoch b={B}", "ratio": t_sel / t_epoch}]
    return out


def steps_case(quick: bool) -> list[dict]:
    """The budget protocol's rounds: SGD steps per second of one batched model on a labelled set of |L|
    = 10, 100 and the whole pool (Iris-sized pool 120 x 4 inputs, 64 hidden, batch 16; Housing-sized pool
    16,512 x 13 inputs, 64 hidden, batch 128), 10 to 250 networks per shard, the labelled positions
    computed once per round (`alnn.model.included_positions`), as `alnn.budget` does."""
    from alnn.model import included_positions

    rows = []
    for case, pool, I, K, B, out in (("iris-sized", 120, 4, 3, 16, "sigmoid"),
                                     ("housing-sized", 16_512, 13, 1, 128, "linear")):
        g = torch.Generator().manual_seed(2)
        X = torch.rand(pool, I, generator=g)
        T = torch.rand(pool, K, generator=g)
        for M in ((10, 50) if quick else (10, 50, 250)):
            net = BatchedMLP.initialise([(m, 0) for m in range(M)], I, 64, K, output=out, lr=0.1, momentum=0.9)
            rows_t = torch.arange(pool).repeat(M, 1)
            stream = torch.tensor([seed_words(m, 1) for m in range(M)])
            for size in (10, 100, pool):
                mask = torch.zeros(M, pool, dtype=torch.bool)
                mask[:, torch.randperm(pool, generator=g)[:size]] = True
                inc = included_positions(mask)
                per_epoch = -(-size // B)
                epochs = max(1, (20 if quick else 100) // per_epoch)

                def rounds(included):
                    for e in range(1, epochs + 1):
                        net.train_epoch(X, T, rows_t, rows_t, mask, stream, e, B, balanced=True, included=included)

                t = _timed(lambda: rounds(inc), 1 if quick else 2)
                t_mask = _timed(lambda: rounds(None), 1 if quick else 2)  # the mask searched every epoch
                rows += [{"case": f"steps {case}", "method": f"{M} networks, |L|={size}: steps/s",
                          "value": epochs * per_epoch / t},
                         {"case": f"steps {case}", "method": f"{M} networks, |L|={size}: positions once / every epoch",
                          "ratio": t_mask / t}]
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller samples (a smoke test)")
    parser.add_argument("--cases", default="iris,fashion,housing,sasla,steps",
                        help="comma-separated subset of the cases")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench.csv"))
    args = parser.parse_args(argv)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread, {platform.machine()}, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}, "
          f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', 'unset')}", flush=True)
    cases = {"iris": iris_case, "fashion": fashion_case, "housing": housing_case, "sasla": sasla_case,
             "steps": steps_case}
    rows = []
    for name in args.cases.split(","):
        t0 = time.perf_counter()
        for row in cases[name](args.quick):
            rows.append(row)
            value = next(row[k] for k in ("model_epochs_per_s", "ratio", "value") if k in row)
            unit = "model-epochs/s" if "model_epochs_per_s" in row else ("x" if "ratio" in row else "")
            print(f"{row['case']:<14} {row['method']:<46} {value:12.3f} {unit}", flush=True)
        print(f"# {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["case", "method", "model_epochs_per_s", "ratio", "value"])
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
