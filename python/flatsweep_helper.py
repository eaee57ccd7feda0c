"""flatsweep_helper: the training-script side of a flatsweep command trial.

A sweep whose file has a ``command:`` section runs the user's own program for
every trial (docs/COMMANDS.md). This single-file module, standard library
only, is what such a program imports to talk to the flatsweep worker::

    import flatsweep_helper as fs

    trial = fs.trial()                      # the trial's parameters
    lr = trial.get("lr")                    # a grid axis ...
    hidden = trial.get("model.hidden")      # ... or any field of the trial spec
    for epoch in range(1, trial.get("epochs") + 1):
        ...                                 # train one epoch
        fs.report_epoch(epoch, train_loss, train_acc, test_loss, test_acc)
    fs.save_weights(model.state_dict())     # optional: flatsweep measures λ₁ etc.
    fs.report_result(train_loss, train_acc, test_loss, test_acc,
                     metrics={"wall_seconds": t})

Under a worker the module reads the environment the worker sets
(FLATSWEEP_PARAMS, FLATSWEEP_OUTPUT_DIR, FLATSWEEP_METRICS_FD, ...). Run by
hand, without it, every parameter takes the default given to ``get``, epoch
metrics go to standard error and the result and weights to the current
directory, so a script can be tried before it is swept.

Metrics go to their own file descriptor, never to standard output, which
stays the program's own (the worker keeps its tail as the attempt's log).
"""

import json
import math
import os
import struct
import sys
from array import array

__all__ = [
    "Trial",
    "trial",
    "report_epoch",
    "report_result",
    "save_weights",
    "load_data",
    "read_safetensors",
    "write_safetensors",
]

_metrics = None  # the open metrics channel


class Trial:
    """The parameters of one trial.

    ``params`` maps grid axis names (batch_size, lr, seed, n, momentum,
    weight_decay, sam_rho, sam_m) to their values, ``spec`` is the whole trial
    spec as a dict (dataset, model, epochs, optimizer, ...). ``trial_id``,
    ``sweep_id`` and ``attempt`` name the attempt (empty and 0 outside
    flatsweep), ``output_dir`` is where result.json and the weights go, and
    ``data_path`` the data set the worker exported (command.data), or None.
    """

    def __init__(self, doc, env):
        self.trial_id = doc.get("trial_id", "")
        self.sweep_id = doc.get("sweep_id", "")
        self.attempt = int(doc.get("attempt", 0))
        self.params = dict(doc.get("params", {}))
        self.spec = dict(doc.get("spec", {}))
        self.output_dir = env.get("FLATSWEEP_OUTPUT_DIR", ".")
        self.data_path = env.get("FLATSWEEP_DATA") or None
        self.under_flatsweep = "FLATSWEEP_PARAMS" in env

    def get(self, name, default=None):
        """The value of a grid axis or of a trial-spec field.

        ``name`` is an axis name ("lr") or a dotted JSON path into the spec
        ("optimizer.momentum", "model.hidden"). A field the trial does not
        set gives ``default``.
        """
        if name in self.params:
            return self.params[name]
        node = self.spec
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def trial():
    """Read the trial's parameters (from FLATSWEEP_PARAMS, a params.json)."""
    env = os.environ
    path = env.get("FLATSWEEP_PARAMS")
    doc = {}
    if path:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    return Trial(doc, env)


def _channel():
    """The metrics channel: FLATSWEEP_METRICS_FD, or standard error."""
    global _metrics
    if _metrics is None:
        fd = os.environ.get("FLATSWEEP_METRICS_FD")
        if fd:
            _metrics = os.fdopen(int(fd), "w", buffering=1, encoding="utf-8", closefd=False)
        else:
            _metrics = sys.stderr
    return _metrics


def _finite(name, value):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            "%s is %r: epoch metrics must be finite; report a diverged run "
            "with report_result(..., diverged=True)" % (name, value))
    return value


def report_epoch(epoch, train_loss, train_acc, test_loss, test_acc,
                 step=None, lr=None, batch_size=None):
    """Report one epoch's metrics (epochs count 1, 2, ... in order).

    Losses are mean per-example losses on the full training and test sets,
    accuracies fractions in [0, 1]; ``step`` is the number of parameter
    updates so far, ``lr`` and ``batch_size`` those of the epoch. Each epoch
    reaches the coordinator with the worker's next heartbeat, as the curve of
    a built-in trial does.
    """
    line = {
        "epoch": int(epoch),
        "train_loss": _finite("train_loss", train_loss),
        "train_acc": _finite("train_acc", train_acc),
        "test_loss": _finite("test_loss", test_loss),
        "test_acc": _finite("test_acc", test_acc),
    }
    if step is not None:
        line["step"] = int(step)
    if lr is not None:
        line["lr"] = _finite("lr", lr)
    if batch_size is not None:
        line["batch_size"] = int(batch_size)
    ch = _channel()
    ch.write(json.dumps(line, allow_nan=False) + "\n")
    ch.flush()


def _or_null(value):
    value = float(value)
    return value if math.isfinite(value) else None


def report_result(train_loss, train_acc, test_loss, test_acc, metrics=None,
                  steps=None, params=None, diverged=False):
    """Write the final result, result.json in the output directory.

    The four metrics are required. ``metrics`` adds named metrics (a dict of
    numbers; values that are not finite are left out), ``steps`` the number
    of updates, ``params`` the number of trainable parameters. A value that
    is not finite marks the run diverged: the worker then takes the final
    metrics from the last epoch reported. The file is written atomically.
    """
    values = [_or_null(v) for v in (train_loss, train_acc, test_loss, test_acc)]
    doc = {
        "train_loss": values[0], "train_acc": values[1],
        "test_loss": values[2], "test_acc": values[3],
    }
    if diverged or None in values:
        doc["diverged"] = True
    if steps is not None:
        doc["steps"] = int(steps)
    if params is not None:
        doc["params"] = int(params)
    if metrics:
        doc["metrics"] = {str(k): _or_null(v) for k, v in metrics.items()}
    out = os.path.join(os.environ.get("FLATSWEEP_OUTPUT_DIR", "."), "result.json")
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, allow_nan=False)
        f.write("\n")
    os.replace(tmp, out)
    return out


def _flat(value):
    """A tensor-like value as (shape, flat list of floats)."""
    if hasattr(value, "detach"):  # a torch.Tensor
        t = value.detach().cpu().double().contiguous()
        return list(t.shape), t.flatten().tolist()
    if isinstance(value, tuple) and len(value) == 2:
        shape, data = value
        return list(shape), [float(x) for x in data]
    shape, data = [], value
    while isinstance(data, (list, tuple)):
        shape.append(len(data))
        data = data[0] if data else []
    flat = value
    for _ in range(len(shape) - 1):
        flat = [x for row in flat for x in row]
    return shape, [float(x) for x in flat]


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write tensors (name -> torch tensor, nested lists or (shape, flat
    data)) to a safetensors file, in name order, as F32 or F64."""
    code = {"F32": "f", "F64": "d"}[dtype]
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        shape, data = _flat(tensors[name])
        blob = array(code, data)
        if sys.byteorder != "little":
            blob.byteswap()
        raw = blob.tobytes()
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)
    return path


def save_weights(tensors, dtype="F32", metadata=None):
    """Write the network's weights where the worker looks for them
    (FLATSWEEP_WEIGHTS), under PyTorch's state_dict names: with a model
    section in the sweep, flatsweep measures their curvature. Under a
    worker the trial's spec goes into the file's metadata
    ("flatsweep.spec"), so that ``flatsweep hessian --weights FILE`` measures
    it again without --spec."""
    path = os.environ.get("FLATSWEEP_WEIGHTS") or os.path.join(
        os.environ.get("FLATSWEEP_OUTPUT_DIR", "."), "weights.safetensors")
    meta = dict(metadata or {})
    params = os.environ.get("FLATSWEEP_PARAMS")
    if params and "flatsweep.spec" not in meta:
        with open(params, encoding="utf-8") as f:
            meta["flatsweep.spec"] = json.dumps(json.load(f)["spec"], separators=(",", ":"))
    return write_safetensors(path, tensors, dtype=dtype, metadata=meta)


def read_safetensors(path):
    """Read a safetensors file of F32 or F64 tensors: returns
    (tensors, metadata) with tensors a dict name -> (shape, array of floats)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        code = {"F32": "f", "F64": "d"}.get(info["dtype"])
        if code is None:
            raise ValueError("%s: tensor %s has dtype %s; only F32 and F64 are read" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        a = array(code)
        a.frombytes(data[begin:end])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = (list(info["shape"]), a)
    return out, meta


def load_data(path=None):
    """The trial's data set as the worker exported it (command.data: true):
    a dict with train_x, train_y, test_x, test_y, each (shape, array), plus
    "classes", "features" and, for images, "image_shape" (C, H, W). Labels
    are class indices stored as floats. Returns None when there is none."""
    path = path or os.environ.get("FLATSWEEP_DATA")
    if not path:
        return None
    tensors, meta = read_safetensors(path)
    out = dict(tensors)
    out["classes"] = int(meta.get("classes", 0))
    out["features"] = int(meta.get("features", 0))
    if meta.get("image_shape"):
        out["image_shape"] = tuple(int(x) for x in meta["image_shape"].split(","))
    return out
