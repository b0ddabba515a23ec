#!/usr/bin/python3
"""Checks a model.onnx that mutator-eval --export wrote, with tools that
share no code with mutatord: onnx.checker (python3-onnx) and OpenCV's dnn
module (python3-opencv) as the runtime.

  onnx_check.py logits MODEL.onnx IO.bin
      IO.bin: int32 n, c, h, w, classes; n*c*h*w float32 inputs; n*classes
      float32 logits computed by mutatord. OpenCV's logits must agree within
      1e-4 and give the same class for every input.
  onnx_check.py accuracy MODEL.onnx DATA_DIR MEAN STD ACCURACY
      OpenCV's top-1 accuracy on the IDX test set of DATA_DIR, normalised
      (x / 255 - MEAN) / STD, must equal ACCURACY (a fraction, to 1e-6).

Exit 0 when the check holds, 1 when it fails, 77 (skip) when the modules
are missing.
"""
import gzip
import os
import struct
import sys

try:
    import cv2
    import numpy as np
    import onnx
except ImportError as e:  # the caller skips
    print(f"onnx_check.py: {e}", file=sys.stderr)
    sys.exit(77)


def check_model(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        sys.exit(f"{path}: opset {opset}, expected 13 or later")
    return cv2.dnn.readNetFromONNX(path)


def run(net, x, batch=500):
    out = []
    for i in range(0, len(x), batch):
        net.setInput(np.ascontiguousarray(x[i:i + batch]))
        out.append(net.forward().copy())
    return np.concatenate(out)


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                return f.read()
    sys.exit(f"{path}: not found")


def logits(model_path, io_path):
    net = check_model(model_path)
    with open(io_path, "rb") as f:
        n, c, h, w, classes = struct.unpack("<5i", f.read(20))
        x = np.frombuffer(f.read(4 * n * c * h * w), "<f4").reshape(n, c, h, w)
        want = np.frombuffer(f.read(4 * n * classes), "<f4").reshape(n, classes)
    got = run(net, x)
    diff = float(np.abs(got - want).max())
    print(f"max |opencv - mutatord| = {diff:.3g} over {n} x {classes} logits")
    if diff > 1e-4 or (got.argmax(1) != want.argmax(1)).any():
        sys.exit("logits differ")


def accuracy(model_path, data_dir, mean, std, expected):
    net = check_model(model_path)
    images = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte"))
    n, h, w = struct.unpack(">3i", images[4:16])
    x = np.frombuffer(images, np.uint8, offset=16).reshape(n, 1, h, w).astype(np.float32)
    x = (x / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    y = np.frombuffer(labels, np.uint8, offset=8)
    acc = float((run(net, x).argmax(1) == y).mean())
    print(f"OpenCV test accuracy {acc:.4f} ({n} images), mutatord {float(expected):.4f}")
    if abs(acc - float(expected)) > 1e-6:
        sys.exit("accuracies differ")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "logits":
        logits(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "accuracy":
        accuracy(*sys.argv[2:])
    else:
        sys.exit(__doc__)
