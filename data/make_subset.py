#!/usr/bin/python3
"""Write the Fashion-MNIST subset shipped in data/: the first 4,000 images
of the training file and the first 1,000 of the test file, with their
labels, in the same gzip-compressed IDX format as the originals.

Source: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
Zalando's Fashion-MNIST, MIT licence. The output is byte-for-byte
reproducible (gzip header without a time stamp or file name).

Configs using it set data.dir to this directory and
train_images = 3000, val_images = 1000, calib_images = 500.

Run: /usr/bin/python3 data/make_subset.py [SOURCE_DIR]
"""
import gzip
import os
import struct
import sys

SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
KEEP = {"train": 4000, "t10k": 1000}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndims = struct.unpack(">HBB", data[:4])
    assert zero == 0 and kind == 0x08, path
    dims = list(struct.unpack(">%dI" % ndims, data[4:4 + 4 * ndims]))
    return dims, data[4 + 4 * ndims:]


def write_idx(path, dims, payload):
    head = struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(">%dI" % len(dims), *dims)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(head + payload)


def main():
    for prefix, n in KEEP.items():
        for part in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = "%s-%s.gz" % (prefix, part)
            dims, payload = read_idx(os.path.join(SOURCE, name))
            per_item = len(payload) // dims[0]
            write_idx(os.path.join(HERE, name), [n] + dims[1:], payload[:n * per_item])


if __name__ == "__main__":
    main()
