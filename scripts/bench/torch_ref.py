#!/usr/bin/python3
"""PyTorch reference for the flatsweep compute benchmark (see docs/BENCHMARKS.md).

Run with Debian's python3-torch (1.13, CPU), which lives in /usr/bin/python3:

    /usr/bin/python3 scripts/bench/torch_ref.py --dir /tmp/flatsweep-bench \
        --mnist ../shared/data/mnist

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

Output: one "key value" pair per line (parsed by compare.sh).
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
    ap.add_argument("--mnist", default="../shared/data/mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--pairs", type=int, default=0)
    ap.add_argument("--flatbench", default="")
    ap.add_argument("--pause", type=float, default=0.3)
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


def gemm_flops(net, n, first, rest):
    """GEMM flops of one pass over n examples: 2·n·in·out per Linear layer,
    times first for the first layer and rest for the others."""
    lin = [m for m in net if isinstance(m, torch.nn.Linear)]
    return sum(2 * n * m.in_features * m.out_features * (first if i == 0 else rest)
               for i, m in enumerate(lin))


def pairs(args, net, n, torch_fns, train_examples):
    go = subprocess.Popen(shlex.split(args.flatbench), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, bufsize=1)
    if go.stdout.readline().strip() != "ready":
        sys.exit("torch_ref: flatbench -serve did not start")

    def go_call(name):
        go.stdin.write(name + "\n")
        go.stdin.flush()
        return float(go.stdout.readline())

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
