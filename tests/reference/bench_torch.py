#!/usr/bin/python3
"""bench_torch.py - the PyTorch side of `make bench`: speed of the reference
space spos-fmnist (../../../shared/REFERENCE.md) run by PyTorch, on the
independent model of tests/reference/spos_fmnist.py, as JSON lines on stdout.

    /usr/bin/python3 tests/reference/bench_torch.py [--threads T] [--seconds S]
        [--steps N] [--only NAME] [--arch 0,1,2,...] [--archs A;B;...]

Figures, following REFERENCE.md's benchmark protocol (warm-up excluded):

  train           images/s of single-path supernet training: per batch of
                  128 a uniformly sampled path, forward, cross-entropy,
                  backward, SGD step (lr 0.1, momentum 0.9, nesterov, weight
                  decay 4e-5); total images over total time. The paths are
                  the C side's (tests/bench_train.c), from the same
                  generator: each block's op is uniform, drawn without
                  replacement in rounds of 4 steps, so that every op runs
                  equally often and a short run costs what a long one does
                  per image; warm-up is the first round, then --steps steps
                  (default: whole rounds for about --seconds).
  candidate_eval  seconds to score one candidate of the supernet, weights in
                  memory: BN recalibration of its path on 2,000 images
                  (statistics reset, exact cumulative averages, train-mode
                  forward in batches of 500 under no_grad), then top-1
                  accuracy on 10,000 images in eval mode (batch 500); median.
  candidate_eval_generation
                  seconds per candidate to score the candidates of --archs
                  (the C side's generation: tests/bench_eval.c -g), each
                  once, as candidate_eval scores one: the PyTorch tool
                  chain scores a generation one candidate at a time. Total
                  time over their number, after a warm-up batch.
  forward256      images/s of an eval-mode forward of a fixed subnet
                  (SposNet(--arch)) at batch 256 under no_grad; from the
                  median time of a batch.
  latency1        median milliseconds of the same forward at batch 1.

Each figure runs for about --seconds (train: or exactly --steps steps). The
data are random tensors of Fashion-MNIST's shape (1x28x28 pixels uniform in
[0,1], normalised as REFERENCE.md says; labels uniform over 10 classes) from
a fixed seed: speed does not depend on the pixel values. PyTorch runs with
its default settings (no torch.compile, no channels_last) at
torch.set_num_threads(T). Only ratios against the other side measured in the
same run mean much on a shared machine.

Each line: {"bench", "side": "pytorch", "threads", "value", "unit", ...}.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn

from spos_fmnist import OPS, SposNet, SposSupernet

BENCHES = ["train", "candidate_eval", "candidate_eval_generation", "forward256", "latency1"]
SEED = 20261125
PATH_SEED = 1             # tests/bench_train.c's
NBLOCKS = 12

TRAIN_BATCH = 128
TRAIN_POOL = 100          # distinct training batches, cycled through
CALIB_IMAGES = 2000
VAL_IMAGES = 10000
EVAL_BATCH = 500
MEAN, STD = 0.2860, 0.3530


def fake_data(n, gen):
    """n random normalised images (n, 1, 28, 28) and labels (n,)."""
    x = (torch.rand(n, 1, 28, 28, generator=gen) - MEAN) / STD
    y = torch.randint(0, 10, (n,), generator=gen)
    return x, y


def timed_runs(fn, seconds, min_reps=3, max_reps=1000000):
    """Wall times of repeated fn() calls (after warm-up, by the caller)
    until at least min_reps runs and `seconds` in all."""
    times = []
    total = 0.0
    while len(times) < max_reps and (len(times) < min_reps or total < seconds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        total += times[-1]
    return times


# --- Figures ----------------------------------------------------------------

class PathSequence:
    """The training paths of both sides of the benchmark: splitmix64 from
    PATH_SEED; each block keeps a permutation of its ops, drawn afresh
    (Fisher-Yates, blocks in order) whenever it is used up."""

    MASK = (1 << 64) - 1

    def __init__(self, nblocks, nops):
        self.state, self.nblocks, self.nops = PATH_SEED, nblocks, nops
        self.perms, self.at = None, nops

    def next64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def next(self):
        if self.at == self.nops:
            self.perms = []
            for _ in range(self.nblocks):
                p = list(range(self.nops))
                for j in range(self.nops - 1, 0, -1):
                    k = self.next64() % (j + 1)
                    p[j], p[k] = p[k], p[j]
                self.perms.append(p)
            self.at = 0
        self.at += 1
        return [p[self.at - 1] for p in self.perms]


def bench_train(args, gen):
    """Images/s of single-path supernet training."""
    net = SposSupernet()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=4e-5)
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = fake_data(TRAIN_POOL * TRAIN_BATCH, gen)
    paths = PathSequence(NBLOCKS, len(OPS))
    step_no = [0]

    def step(choices):
        i = step_no[0] % TRAIN_POOL
        step_no[0] += 1
        x = xs[i * TRAIN_BATCH:(i + 1) * TRAIN_BATCH]
        y = ys[i * TRAIN_BATCH:(i + 1) * TRAIN_BATCH]
        # set_to_none: the ops off this path keep .grad None, so SGD skips
        # them (no momentum or decay moves an op that did not run), as SPOS
        # and the C side do; it is also PyTorch 2's default.
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x, choices), y)
        loss.backward()
        opt.step()

    # Warm-up: one round, every op runs (forward, backward, first update).
    for _ in range(len(OPS)):
        step(paths.next())

    t0 = time.perf_counter()
    steps = 0
    while (steps < args.steps) if args.steps else (
            steps % len(OPS) or time.perf_counter() - t0 < args.seconds):
        step(paths.next())
        steps += 1
    elapsed = time.perf_counter() - t0
    return dict(value=steps * TRAIN_BATCH / elapsed, unit="images/s", batch=TRAIN_BATCH,
                steps=steps, seconds=round(elapsed, 2))


def path_bns(net, choices):
    """The BatchNorm2d modules on the path `choices` of the supernet."""
    parts = [net.stem, *net.path(choices), net.last]
    return [m for part in parts for m in part.modules() if isinstance(m, nn.BatchNorm2d)]


def score(net, choices, calib_x, val_x, val_y):
    """Top-1 accuracy of the path `choices` of the supernet after BN
    recalibration on calib_x: running statistics reset, then accumulated
    as exact cumulative averages (momentum None) over train-mode forwards."""
    bns = path_bns(net, choices)
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    with torch.no_grad():
        for x in calib_x.split(EVAL_BATCH):
            net(x, choices)
    for bn, m in zip(bns, momenta):
        bn.momentum = m
    net.eval()
    correct = 0
    with torch.no_grad():
        for x, y in zip(val_x.split(EVAL_BATCH), val_y.split(EVAL_BATCH)):
            correct += (net(x, choices).argmax(1) == y).sum().item()
    return correct / len(val_y)


def bench_candidate_eval(args, gen):
    """Seconds to score one candidate (BN recalibration + validation)."""
    net = SposSupernet()
    calib_x, _ = fake_data(CALIB_IMAGES, gen)
    val_x, val_y = fake_data(VAL_IMAGES, gen)
    # Warm-up: one batch in each mode (a full score would cost a repetition).
    with torch.no_grad():
        net.train()
        net(calib_x[:EVAL_BATCH], args.arch)
        net.eval()
        net(val_x[:EVAL_BATCH], args.arch)
    # Minor page faults per repetition: part of this figure's spread
    # from one process to the next goes with them.
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = timed_runs(lambda: score(net, args.arch, calib_x, val_x, val_y), args.seconds)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return dict(value=statistics.median(times), unit="s", calib_images=CALIB_IMAGES,
                val_images=VAL_IMAGES, batch=EVAL_BATCH, reps=len(times),
                minor_faults_per_rep=round(faults / len(times)))


def bench_candidate_eval_generation(args, gen):
    """Seconds per candidate to score every subnet of --archs once."""
    if not args.archs:
        raise SystemExit("bench_torch.py: candidate_eval_generation needs --archs")
    net = SposSupernet()
    calib_x, _ = fake_data(CALIB_IMAGES, gen)
    val_x, val_y = fake_data(VAL_IMAGES, gen)
    with torch.no_grad():
        net.train()
        net(calib_x[:EVAL_BATCH], args.archs[0])
        net.eval()
        net(val_x[:EVAL_BATCH], args.archs[0])
    t0 = time.perf_counter()
    for arch in args.archs:
        score(net, arch, calib_x, val_x, val_y)
    elapsed = time.perf_counter() - t0
    return dict(value=elapsed / len(args.archs), unit="s", candidates=len(args.archs),
                calib_images=CALIB_IMAGES, val_images=VAL_IMAGES, batch=EVAL_BATCH)


def eval_forward_times(args, gen, batch, warmup):
    """Wall times of eval-mode forwards of SposNet(--arch) at `batch`."""
    net = SposNet(args.arch)
    net.eval()
    x, _ = fake_data(batch, gen)
    with torch.no_grad():
        for _ in range(warmup):
            net(x)
        return timed_runs(lambda: net(x), args.seconds)


def bench_forward256(args, gen):
    """Images/s of an eval-mode forward at batch 256."""
    times = eval_forward_times(args, gen, 256, warmup=3)
    return dict(value=256 / statistics.median(times), unit="images/s", batch=256,
                reps=len(times))


def bench_latency1(args, gen):
    """Median milliseconds of an eval-mode forward at batch 1."""
    times = eval_forward_times(args, gen, 1, warmup=50)
    return dict(value=1000 * statistics.median(times), unit="ms", batch=1, reps=len(times))


# --- Driver -----------------------------------------------------------------

def parse_arch(text):
    arch = [int(c) for c in text.replace(",", " ").split()]
    if len(arch) != NBLOCKS or not all(0 <= c < len(OPS) for c in arch):
        raise argparse.ArgumentTypeError("want %d op indices in 0..%d" % (NBLOCKS, len(OPS) - 1))
    return arch


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of `make bench` (spos-fmnist).")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--seconds", type=float, default=10.0,
                    help="measuring time per figure, warm-up excluded (default 10)")
    ap.add_argument("--steps", type=int, default=0,
                    help="train: measure exactly this many steps instead of --seconds")
    ap.add_argument("--only", choices=BENCHES, help="run this figure only")
    ap.add_argument("--arch", type=parse_arch, default=parse_arch("0,1,2,3,0,1,2,3,0,1,2,3"),
                    help="fixed subnet of candidate_eval, forward256 and latency1: "
                         "12 op indices in %s order (default 0,1,2,3 x 3)" % ",".join(OPS))
    ap.add_argument("--archs", type=lambda t: [parse_arch(a) for a in t.split(";")], default=[],
                    help="candidate_eval_generation's subnets, ';' between them")
    args = ap.parse_args()
    if args.threads < 1 or args.seconds <= 0 or args.steps < 0:
        ap.error("--threads must be >= 1, --seconds > 0, --steps >= 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    for name in BENCHES:
        if args.only and name != args.only:
            continue
        if name == "candidate_eval_generation" and not args.archs and not args.only:
            continue   # no generation given
        gen = torch.Generator().manual_seed(SEED)
        fig = globals()["bench_" + name](args, gen)
        fig["value"] = float("%.4g" % fig["value"])
        line = dict(bench=name, side="pytorch", threads=args.threads, **fig)
        if name == "candidate_eval_generation":
            line["archs"] = ";".join(",".join(map(str, a)) for a in args.archs)
        elif name != "train":
            line["arch"] = ",".join(map(str, args.arch))
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
