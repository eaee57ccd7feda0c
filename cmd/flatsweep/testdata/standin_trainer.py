"""A stand-in trainer for command-trial tests: it "trains" by formula,
reporting metrics through flatsweep_helper, and misbehaves on request.

    standin_trainer.py MODE LR BATCH_SIZE [MARKER_DIR]

MODE is ok, fail, hang, garbage, badjson, noresult, missing, grandchild,
flaky (fails its first attempt) or slow (sleeps between epochs).
"""
import os
import subprocess
import sys
import time

import flatsweep_helper as fs

mode, lr, b = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
marker = sys.argv[4] if len(sys.argv) > 4 else None
t = fs.trial()
epochs = int(t.get("epochs", 3))
assert t.get("lr") == lr, (t.get("lr"), lr)
assert t.get("batch_size") == b, (t.get("batch_size"), b)
print("standin: trial %s attempt %d lr=%g b=%d" % (t.trial_id, t.attempt, lr, b))
print("CUDA_VISIBLE_DEVICES=%s" % os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
sys.stdout.flush()

if mode == "fail":
    print("standin: simulated failure", file=sys.stderr)
    sys.exit(3)
if mode == "flaky" and t.attempt == 1:
    print("standin: first attempt fails", file=sys.stderr)
    sys.exit(4)
if mode == "grandchild":
    # A child that would outlive its parent if the process group were not
    # stopped; its PID goes to the marker directory.
    child = subprocess.Popen(["sleep", "1000"])
    with open(os.path.join(marker, "grandchild-%s.pid" % t.trial_id), "w") as f:
        f.write(str(child.pid))
    time.sleep(1000)
if mode == "hang":
    time.sleep(1000)

loss = 1.0
for e in range(1, epochs + 1):
    if mode == "garbage" and e == 2:
        ch = fs._channel()
        ch.write("this is not json\n")
        ch.flush()
        time.sleep(1000)
    loss = 1.0 / (1 + e * lr * 10)
    fs.report_epoch(e, loss, 1 - loss / 2, loss * 1.1, 1 - loss / 1.8, step=e * 10, lr=lr, batch_size=b)
    if mode == "slow":
        time.sleep(1.0)

if mode == "noresult":
    sys.exit(0)
if mode == "badjson":
    with open(os.path.join(t.output_dir, "result.json"), "w") as f:
        f.write("{not json")
    sys.exit(0)
if mode == "missing":
    with open(os.path.join(t.output_dir, "result.json"), "w") as f:
        f.write('{"train_loss": 0.5, "train_acc": 0.8, "test_loss": 0.6}')
    sys.exit(0)
fs.report_result(loss, 1 - loss / 2, loss * 1.1, 1 - loss / 1.8, metrics={"fake_metric": lr * b}, steps=epochs * 10)
