#!/usr/bin/python3
"""PyTorch reference for the flatsweep compute benchmark (see docs/BENCHMARKS.md).

Run with Debian's python3-torch (1.13, CPU), which lives in /usr/bin/python3:

    /usr/bin/python3 scripts/bench/torch_ref.py --dir /tmp/flatsweep-bench \
        --mnist data/mnist

It reads the files written by scripts/bench/gen (safetensors, parsed here
without the safetensors package), checks that the data subset equals the MNIST
IDX files read with gzip+struct, recomputes the loss, the gradient and the
Hessian-vector product Hv (double backward: torch.autograd.grad with
create_graph=True) of the MLP 784-512-512-512-10 (ReLU, cross-entropy,
float64) at the same weights, compares them with flatsweep's values, and
times

  hvp_full      Hv over all n examples, forward + backward + double backward
                (a fresh graph per product, like flatsweep's Workspace.HVP);
  hvp_retained  Hv over all n examples reusing one create_graph=True gradient
                graph (retain_graph=True; like flatsweep's cached NewHessian);
  train         plain SGD steps at batch size B (zero_grad, forward,
                cross-entropy, backward, torch.optim.SGD step) over the n
                examples, in order; zero_grad both with set_to_none=False and
                True, the faster reported as train_examples_per_s.

With --pairs N --flatbench CMD it instead starts CMD (scripts/bench/flatbench
-serve) and alternates single calls, PyTorch then flatsweep, N times per
measurement, with a short pause between calls so that neither side's idle BLAS
threads spin during the other's turn; it reports each side's median rate and
the median of the N per-pair ratios (flatsweep/PyTorch), which is robust to
load that changes over seconds on a shared machine. Pairs: hvp_full vs
Workspace.HVP, hvp_retained vs Hessian.Apply (cached), hvp_full vs
Hessian.Apply, and train (set_to_none=True) vs flatsweep's SGD step.

With --pairs N --train32 --flatbench CMD it alternates four training calls
per round, N rounds: PyTorch float64, flatsweep float64 (train), PyTorch
float32 (the same module and data converted with .float()) and flatsweep
float32 (train32), and reports each one's median examples/s and the medians
and interquartile ranges of the per-round ratios (scripts/bench/train32.sh).

With --eigs it instead runs PyHessian's top-k eigensolver (hessian.eigenvalues
of PyHessian, github.com/amirgholami/PyHessian, pyhessian/hessian.py; see
pyhessian_eigenvalues below) on the Hessian of the same mean cross-entropy
over all n examples, with PyHessian's single-batch product (one retained
create_graph=True gradient, autograd.grad(gradsH, params, grad_outputs=v,
retain_graph=True)), --top-k 5, --tol 1e-3 and --max-iter 100, seeded by
--seed, and reports the products, the set-up and solve seconds and the
eigenvalues (scripts/bench/eigs.sh runs it next to flatsweep's Lanczos):

    /usr/bin/python3 scripts/bench/torch_ref.py --dir /tmp/flatsweep-bench --eigs

Output: one "key value" pair per line (parsed by compare.sh and eigs.sh).
"""
import argparse
import gzip
import json
import math
import os
import shlex
import statistics
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def read_safetensors(path):
    """Returns ({name: float64 tensor}, metadata) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    meta = header.pop("__metadata__", {})
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F64":
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}, want F64")
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + b:base + e]), dtype=torch.float64)
        out[name] = t.reshape(info["shape"]) if info["shape"] else t.reshape(())
    return out, meta


def read_idx(path):
    """Returns (dims, bytes) of a gzip IDX file of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, typ, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or typ != 8:
        raise ValueError(f"{path}: bad IDX magic")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def mnist(folder, n):
    dims, px = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"))
    d = dims[1] * dims[2]
    x = torch.tensor(list(px[:n * d]), dtype=torch.float64).reshape(n, d) / 255
    _, lb = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))
    y = torch.tensor(list(lb[:n]), dtype=torch.int64)
    return x, y


def model(state):
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10)).double()
    net.load_state_dict(state)
    return net


def flat(ts):
    return torch.cat([t.reshape(-1) for t in ts])


def unflat(vec, params):
    out, off = [], 0
    for p in params:
        out.append(vec[off:off + p.numel()].view_as(p))
        off += p.numel()
    return out


def relerr(a, b):
    """Normwise ‖a−b‖∞/‖b‖∞ and the largest elementwise |a−b|/|b| over entries
    with |b| ≥ 1e-8·‖b‖∞."""
    d = (a - b).abs()
    nb = b.abs().max().item()
    big = b.abs() >= 1e-8 * nb
    return d.max().item() / nb, (d[big] / b[big].abs()).max().item()


def timeit(f, min_time, min_reps):
    """Calls f once to warm up, then at least min_reps times and for at least
    min_time seconds; returns the median seconds per call."""
    f()
    ts = []
    start = time.perf_counter()
    while len(ts) < min_reps or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/flatsweep-bench")
    ap.add_argument("--mnist", default="data/mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--pairs", type=int, default=0)
    ap.add_argument("--flatbench", default="")
    ap.add_argument("--pause", type=float, default=0.3)
    ap.add_argument("--eigs", action="store_true")
    ap.add_argument("--train32", action="store_true")
    ap.add_argument("--top-k", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(True)
    state, _ = read_safetensors(os.path.join(args.dir, "model.safetensors"))
    inp, meta = read_safetensors(os.path.join(args.dir, "inputs.safetensors"))
    x, y = inp["x"], inp["y"].long()
    n = x.shape[0]
    xm, ym = mnist(args.mnist, n)
    if not torch.equal(xm, x) or not torch.equal(ym, y):
        sys.exit("torch_ref: the data subset differs from the MNIST IDX files")
    net = model(state)
    params = list(net.parameters())
    v = unflat(inp["v"], params)

    # Values: loss, gradient, Hv by double backward.
    loss = F.cross_entropy(net(x), y)
    g = torch.autograd.grad(loss, params, create_graph=True)
    hv = torch.autograd.grad(g, params, grad_outputs=v)
    e_loss = abs(loss.item() - float(meta["loss"])) / abs(loss.item())
    e_grad = relerr(inp["grad"], flat(g).detach())
    e_hv = relerr(inp["hv"], flat(hv))
    print(f"torch_version {torch.__version__}")
    print(f"torch_threads {torch.get_num_threads()}")
    print(f"flatsweep_backend {meta.get('backend', '?')}")
    print(f"relerr_loss {e_loss:.3e}")
    print(f"relerr_grad_norm {e_grad[0]:.3e}")
    print(f"relerr_grad_elem {e_grad[1]:.3e}")
    print(f"relerr_hv_norm {e_hv[0]:.3e}")
    print(f"relerr_hv_elem {e_hv[1]:.3e}")
    ok = max(e_loss, e_grad[0], e_hv[0]) <= 1e-10
    print(f"values_ok {int(ok)}")
    if not ok:
        sys.exit("torch_ref: flatsweep and PyTorch disagree beyond 1e-10")
    if args.check_only:
        return
    if args.eigs:
        eigs(args, net, params, x, y)
        return

    def hvp_full():
        loss = F.cross_entropy(net(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    loss = F.cross_entropy(net(x), y)
    gr = torch.autograd.grad(loss, params, create_graph=True)

    def hvp_retained():
        return torch.autograd.grad(gr, params, grad_outputs=v, retain_graph=True)

    B = args.batch
    steps = n // B
    tnet = model(state)
    opt = torch.optim.SGD(tnet.parameters(), lr=args.lr)

    def epoch(to_none):
        def run():
            for lo in range(0, steps * B, B):
                opt.zero_grad(set_to_none=to_none)
                F.cross_entropy(tnet(x[lo:lo + B]), y[lo:lo + B]).backward()
                opt.step()
        return run

    if args.train32:
        train32(args, net, state, x, y, inp["grad"], steps * B)
        return
    if args.pairs > 0:
        pairs(args, net, n, {"hvp_full": hvp_full, "hvp_retained": hvp_retained,
                             "train": epoch(True)}, steps * B)
        return
    t = timeit(hvp_full, args.min_time, 5)
    print(f"hvp_full_per_s {1 / t:.4f}")
    t = timeit(hvp_retained, args.min_time, 5)
    print(f"hvp_retained_per_s {1 / t:.4f}")
    # zero_grad(set_to_none=False) zero-fills the .grad tensors (PyTorch 1.13's
    # default); set_to_none=True lets backward write fresh ones. The faster of
    # the two is PyTorch's figure.
    t0 = timeit(epoch(False), args.min_time, 5)
    t1 = timeit(epoch(True), args.min_time, 5)
    print(f"train_zero_examples_per_s {steps * B / t0:.1f}")
    print(f"train_none_examples_per_s {steps * B / t1:.1f}")
    print(f"train_examples_per_s {steps * B / min(t0, t1):.1f}")


# PyHessian's vector helpers (pyhessian/utils.py), on lists of tensors.
def group_product(xs, ys):
    return sum(torch.sum(a * b) for a, b in zip(xs, ys))


def group_add(params, update, alpha=1):
    for i, p in enumerate(params):
        params[i].data.add_(update[i] * alpha)
    return params


def normalization(v):
    s = torch.sqrt(group_product(v, v)).cpu().item()
    return [vi / (s + 1e-6) for vi in v]


def orthnormal(w, v_list):
    for v in v_list:
        w = group_add(w, v, alpha=-group_product(w, v))
    return normalization(w)


def pyhessian_eigenvalues(params, gradsH, max_iter, tol, top_n, count):
    """PyHessian's hessian.eigenvalues (power iteration with Gram–Schmidt
    deflation), line for line, single-batch mode: for each pair, a random
    normal start, normalized; then up to max_iter times v ← orthnormal(v,
    eigenvectors), Hv by one backward through the retained gradient graph,
    λ = vᵀHv, v ← Hv/‖Hv‖, stopping when |λ_prev − λ|/(|λ_prev| + 1e-6) < tol.
    As in PyHessian the value kept on convergence is the previous iterate's.
    count[0] counts the products, count[1] adds up their seconds."""
    eigenvalues, eigenvectors = [], []
    computed_dim = 0
    while computed_dim < top_n:
        eigenvalue = None
        v = [torch.randn(p.size(), dtype=p.dtype) for p in params]
        v = normalization(v)
        for _ in range(max_iter):
            v = orthnormal(v, eigenvectors)
            t0 = time.perf_counter()
            Hv = torch.autograd.grad(gradsH, params, grad_outputs=v,
                                     only_inputs=True, retain_graph=True)
            count[1] += time.perf_counter() - t0
            count[0] += 1
            tmp_eigenvalue = group_product(Hv, v).cpu().item()
            v = normalization(Hv)
            if eigenvalue is None:
                eigenvalue = tmp_eigenvalue
            elif abs(eigenvalue - tmp_eigenvalue) / (abs(eigenvalue) + 1e-6) < tol:
                break
            else:
                eigenvalue = tmp_eigenvalue
        eigenvalues.append(eigenvalue)
        eigenvectors.append(v)
        computed_dim += 1
    return eigenvalues, eigenvectors


def eigs(args, net, params, x, y):
    """Times PyHessian's top-k power iteration on the full-batch Hessian. The
    set-up (forward, create_graph backward and one warm-up product, as
    flateigs times NewHessian and its first product) is reported apart from
    the solve."""
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    loss = F.cross_entropy(net(x), y)
    gradsH = torch.autograd.grad(loss, params, create_graph=True)
    torch.autograd.grad(gradsH, params, grad_outputs=[torch.zeros_like(p) for p in params],
                        retain_graph=True)
    setup = time.perf_counter() - t0
    count = [0, 0.0]
    t1 = time.perf_counter()
    vals, _ = pyhessian_eigenvalues(params, gradsH, args.max_iter, args.tol, args.top_k, count)
    solve = time.perf_counter() - t1
    print("method pyhessian_power")
    print(f"tol {args.tol:g}")
    print(f"k {args.top_k}")
    print(f"products {count[0]}")
    print(f"seconds_setup {setup:.3f}")
    print(f"seconds_solve {solve:.3f}")
    print(f"seconds_products {count[1]:.3f}")
    for i, lam in enumerate(vals):
        print(f"eig_{i + 1} {lam:.15e}")


def gemm_flops(net, n, first, rest):
    """GEMM flops of one pass over n examples: 2·n·in·out per Linear layer,
    times first for the first layer and rest for the others."""
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    return sum(2 * n * m.in_features * m.out_features * (first if i == 0 else rest)
               for i, m in enumerate(lin))


def train32(args, net, state, x, y, grad64, examples):
    """Alternates PyTorch and flatsweep SGD epochs in float64 and float32
    (see the module documentation) and prints the rates and ratios."""
    B, steps = args.batch, examples // args.batch
    x32 = x.float()
    net32 = model(state).float()
    # The float32 gradient at the float32 weights against the float64 one.
    loss = F.cross_entropy(net32(x32), y)
    g32 = flat(torch.autograd.grad(loss, list(net32.parameters()))).double()
    print(f"relerr_torch_grad32_vs_float64 {relerr(g32, grad64)[0]:.3e}")

    def epoch(dtype):
        tnet = model(state) if dtype == torch.float64 else model(state).float()
        opt = torch.optim.SGD(tnet.parameters(), lr=args.lr)
        xs = x if dtype == torch.float64 else x32

        def run():
            for lo in range(0, steps * B, B):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(tnet(xs[lo:lo + B]), y[lo:lo + B]).backward()
                opt.step()
        return run

    go, go_call = serve_flatbench(args)

    def torch_call(f):
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0

    t64, t32 = epoch(torch.float64), epoch(torch.float32)
    t64()
    t32()
    calls = [("torch64", lambda: torch_call(t64)), ("flat64", lambda: go_call("train")),
             ("torch32", lambda: torch_call(t32)), ("flat32", lambda: go_call("train32"))]
    secs = {k: [] for k, _ in calls}
    for _ in range(args.pairs):
        for k, f in calls:
            time.sleep(args.pause)
            secs[k].append(f())
    flops = gemm_flops(net, steps * B, 2, 3)
    for k, _ in calls:
        print(f"train_{k}_examples_per_s {steps * B / statistics.median(secs[k]):.1f}")
        print(f"train_{k}_gflops {flops / statistics.median(secs[k]) / 1e9:.2f}")
    # ratio a_vs_b: b's seconds over a's in the same round (a's speed-up).
    for a, b in [("flat32", "flat64"), ("flat32", "torch32"), ("flat32", "torch64"),
                 ("flat64", "torch64"), ("torch32", "torch64")]:
        r = sorted(tb / ta for ta, tb in zip(secs[a], secs[b]))
        q = len(r) // 4
        print(f"ratio_{a}_vs_{b} {statistics.median(r):.3f}")
        print(f"ratio_{a}_vs_{b}_iqr {r[q]:.3f} {r[-1 - q]:.3f}")
    go.stdin.close()
    go.wait()


def serve_flatbench(args):
    """Start `flatbench -serve` (args.flatbench) and return the process and
    a function that runs one named call in it and returns its seconds."""
    go = subprocess.Popen(shlex.split(args.flatbench), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1)
    if go.stdout.readline().strip() != "ready":
        sys.exit("torch_ref: flatbench -serve did not start")

    def go_call(name):
        go.stdin.write(name + "\n")
        go.stdin.flush()
        return float(go.stdout.readline())
    return go, go_call


def pairs(args, net, n, torch_fns, train_examples):
    go, go_call = serve_flatbench(args)

    def torch_call(name):
        t0 = time.perf_counter()
        torch_fns[name]()
        return time.perf_counter() - t0

    for f in torch_fns.values():
        f()
    # (label, torch measurement, flatsweep measurement, units per call, flops of
    # the flatsweep call)
    plan = [
        ("hvp_full", "hvp_full", "hvp_full", 1, gemm_flops(net, n, 3, 8)),
        ("hvp_cached_vs_retained", "hvp_retained", "hvp_cached", 1, gemm_flops(net, n, 2, 6)),
        ("hvp_cached_vs_full", "hvp_full", "hvp_cached", 1, gemm_flops(net, n, 2, 6)),
        ("train", "train", "train", train_examples, gemm_flops(net, train_examples, 2, 3)),
    ]
    for label, tn, gn, per, flops in plan:
        tt, gt, ratio = [], [], []
        for _ in range(args.pairs):
            time.sleep(args.pause)
            a = torch_call(tn)
            time.sleep(args.pause)
            b = go_call(gn)
            tt.append(a)
            gt.append(b)
            ratio.append(a / b)
        ratio.sort()
        q = len(ratio) // 4
        print(f"pair_{label}_torch_per_s {per / statistics.median(tt):.4f}")
        print(f"pair_{label}_flat_per_s {per / statistics.median(gt):.4f}")
        print(f"pair_{label}_flat_gflops {flops / statistics.median(gt) / 1e9:.2f}")
        print(f"pair_{label}_ratio {statistics.median(ratio):.3f}")
        print(f"pair_{label}_ratio_iqr {ratio[q]:.3f} {ratio[-1 - q]:.3f}")
    go.stdin.close()
    go.wait()


if __name__ == "__main__":
    main()
