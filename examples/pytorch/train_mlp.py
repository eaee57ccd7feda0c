"""Train an MLP with PyTorch as a flatsweep command trial.

A sweep runs this script once per trial (see the sweep file next to it and
docs/COMMANDS.md); flatsweep then measures the curvature of the weights it
writes (λ₁, trace, sharpness, ...) with its own Hessian code:

    flatsweep run examples/pytorch/sweep.yaml

The data are, in order of preference: the trial's data set as flatsweep
loads it (the sweep's command.data: true, FLATSWEEP_DATA), MNIST IDX files
in the directory given by --mnist, or a synthetic task made here. Only the
first keeps flatsweep's curvature measured on the very examples the network
was trained on. Run by hand it trains on its own synthetic data with the
defaults below and writes result.json and weights.safetensors here.

The network is nn.Sequential(Linear, act, ..., Linear), whose state_dict
names ("0.weight", "0.bias", "2.weight", ...) are the ones flatsweep's mlp
reads, so the sweep's model section (arch: mlp, hidden: [...]) describes it.
"""
import argparse
import gzip
import math
import os
import struct
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import flatsweep_helper as fs  # noqa: E402


def idx(path):
    """Read an IDX file (optionally gzipped) as a tensor."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    return None


def load_mnist(directory, n, n_test):
    """The first n examples of the t10k pair for training and the next
    n_test for testing (or the train pair's first n when present)."""
    ti, tl = find(directory, "t10k-images-idx3-ubyte"), find(directory, "t10k-labels-idx1-ubyte")
    if ti is None or tl is None:
        sys.exit("--mnist %s: no t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] there" % directory)
    x = idx(ti).reshape(-1, 28 * 28).float() / 255
    y = idx(tl).long()
    ri, rl = find(directory, "train-images-idx3-ubyte"), find(directory, "train-labels-idx1-ubyte")
    if ri and rl:
        xtr, ytr = idx(ri).reshape(-1, 28 * 28).float() / 255, idx(rl).long()
        return xtr[:n], ytr[:n], x[:n_test], y[:n_test], 10
    if n + n_test > len(y):
        sys.exit("--mnist: %d + %d examples asked for, the t10k files hold %d" % (n, n_test, len(y)))
    return x[:n], y[:n], x[n:n + n_test], y[n:n + n_test], 10


def synthetic(n, n_test, features=16, classes=4, seed=1):
    """A teacher-network task: labels are the argmax of a random linear map."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(features, classes, generator=g)
    x = torch.randn(n + n_test, features, generator=g)
    y = (x @ w).argmax(1)
    return x[:n], y[:n], x[n:], y[n:], classes


def flatsweep_data():
    d = fs.load_data()
    if d is None:
        return None

    def tensor(name, dtype):
        shape, values = d[name]
        return torch.tensor(values, dtype=dtype).reshape(shape)

    return (tensor("train_x", torch.float32), tensor("train_y", torch.float32).long(),
            tensor("test_x", torch.float32), tensor("test_y", torch.float32).long(), d["classes"])


def evaluate(model, loss_fn, x, y):
    with torch.no_grad():
        out = model(x)
        return loss_fn(out, y).item(), (out.argmax(1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mnist", help="directory of MNIST IDX files (when the sweep does not hand over its data)")
    ap.add_argument("--lr", type=float, help="learning rate (default: the trial's lr)")
    ap.add_argument("--batch-size", type=int, help="batch size (default: the trial's batch_size)")
    ap.add_argument("--epochs", type=int, help="epochs (default: the trial's epochs)")
    ap.add_argument("--seed", type=int, help="seed (default: the trial's seed)")
    args = ap.parse_args()

    t = fs.trial()
    lr = args.lr if args.lr is not None else float(t.get("lr", 0.1))
    b = args.batch_size if args.batch_size is not None else int(t.get("batch_size", 32))
    seed = args.seed if args.seed is not None else int(t.get("seed", 1))
    epochs = args.epochs if args.epochs is not None else int(t.get("epochs", 10))
    hidden = t.get("model.hidden") or [64, 64]
    act = {"relu": nn.ReLU, "tanh": nn.Tanh}[t.get("model.activation") or "relu"]
    momentum = float(t.get("momentum", 0) or 0)
    weight_decay = float(t.get("weight_decay", 0) or 0)
    n, n_test = int(t.get("dataset.n", 1024)), int(t.get("dataset.n_test", 1024))

    data = flatsweep_data()
    if data is None and args.mnist:
        data = load_mnist(args.mnist, n, n_test)
    if data is None:
        data = synthetic(n, n_test, seed=int(t.get("dataset.seed", 1)))
    x, y, xt, yt, classes = data

    torch.manual_seed(seed)
    layers, width = [], x.shape[1]
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, classes))
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)

    start, step, diverged = time.time(), 0, False
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(y))
        for i in range(len(y) // b):  # whole batches only, as flatsweep's own trials
            idx_b = perm[i * b:(i + 1) * b]
            opt.zero_grad()
            loss = loss_fn(model(x[idx_b]), y[idx_b])
            loss.backward()
            opt.step()
            step += 1
        train_loss, train_acc = evaluate(model, loss_fn, x, y)
        test_loss, test_acc = evaluate(model, loss_fn, xt, yt)
        if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
            diverged = True
            break
        fs.report_epoch(epoch, train_loss, train_acc, test_loss, test_acc, step=step, lr=lr, batch_size=b)
        print("epoch %d: train loss %.4f acc %.4f, test loss %.4f acc %.4f" % (epoch, train_loss, train_acc, test_loss, test_acc))

    if diverged:
        fs.report_result(float("nan"), float("nan"), float("nan"), float("nan"), steps=step, diverged=True)
        return
    fs.save_weights(model.state_dict())
    fs.report_result(train_loss, train_acc, test_loss, test_acc, steps=step,
                     params=sum(p.numel() for p in model.parameters()),
                     metrics={"torch_seconds": time.time() - start})


if __name__ == "__main__":
    main()
