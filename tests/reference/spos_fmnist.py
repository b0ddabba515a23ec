"""The spos-fmnist space of REFERENCE.md as an ordinary PyTorch model.

Written from REFERENCE.md alone, in the usual nn.Module style (one module
per layer, no weight sharing with the C layout), so that it is an
independent implementation of the space: tests/fixtures/make_spos_counts.py
counts MACs and params on it, and the benchmark scripts time it.

    net = SposNet(choices)     # choices: 12 op indices, REFERENCE.md order
    sup = SposSupernet()       # the whole single-path supernet
    logits = sup(x, choices)   # runs only the chosen op of each block
"""
import torch
import torch.nn as nn

OPS = ["shuffle_3x3", "shuffle_5x5", "shuffle_7x7", "shuffle_xception"]
STAGES = [(4, 48, 2), (4, 96, 2), (4, 192, 1)]   # blocks, channels, stride
STEM = 16
LAST = 256
CLASSES = 10


def conv_bn(cin, cout, k, stride, groups, relu):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout, eps=1e-5)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return layers


def block_shapes():
    """(cin, cout, stride) of the 12 choice blocks, in order."""
    shapes, cin = [], STEM
    for nblocks, cout, stride in STAGES:
        for b in range(nblocks):
            shapes.append((cin, cout, stride if b == 0 else 1))
            cin = cout
    return shapes


def channel_shuffle(x):
    n, c, h, w = x.shape
    return x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleBlock(nn.Module):
    def __init__(self, op, cin, cout, stride):
        super().__init__()
        self.stride = stride
        mid = cout // 2
        bin_ = cin // 2 if stride == 1 else cin
        bout = cout - bin_
        if op == "shuffle_xception":
            main = (conv_bn(bin_, bin_, 3, stride, bin_, False) + conv_bn(bin_, mid, 1, 1, 1, True)
                    + conv_bn(mid, mid, 3, 1, mid, False) + conv_bn(mid, mid, 1, 1, 1, True)
                    + conv_bn(mid, mid, 3, 1, mid, False) + conv_bn(mid, bout, 1, 1, 1, True))
            pk = 3
        else:
            k = int(op[-1])
            main = (conv_bn(bin_, mid, 1, 1, 1, True) + conv_bn(mid, mid, k, stride, mid, False)
                    + conv_bn(mid, bout, 1, 1, 1, True))
            pk = k
        self.main = nn.Sequential(*main)
        self.proj = None
        if stride == 2:
            self.proj = nn.Sequential(*(conv_bn(cin, cin, pk, 2, cin, False)
                                        + conv_bn(cin, cin, 1, 1, 1, True)))

    def forward(self, x):
        if self.stride == 1:
            half = x.shape[1] // 2
            y = torch.cat([x[:, :half], self.main(x[:, half:])], 1)
        else:
            y = torch.cat([self.proj(x), self.main(x)], 1)
        return channel_shuffle(y)


class SposNet(nn.Module):
    def __init__(self, choices):
        super().__init__()
        shapes = block_shapes()
        assert len(choices) == len(shapes)
        self.stem = nn.Sequential(*conv_bn(1, STEM, 3, 1, 1, True))
        self.blocks = nn.Sequential(*(ShuffleBlock(OPS[c], *shape)
                                      for c, shape in zip(choices, shapes)))
        self.last = nn.Sequential(*conv_bn(shapes[-1][1], LAST, 1, 1, 1, True))
        self.head = nn.Linear(LAST, CLASSES)

    def forward(self, x):
        x = self.last(self.blocks(self.stem(x)))
        return self.head(x.mean((2, 3)))


class SposSupernet(nn.Module):
    """The single-path supernet of the space: every choice block holds its
    four candidate ShuffleBlocks (OPS order) in an nn.ModuleList, each with
    its own weights and BN statistics; stem, last conv and head are shared.
    forward(x, choices) runs only the chosen op of each block, so backward
    gives gradients to that path alone (the other ops' .grad stay None
    after zero_grad(set_to_none=True), and SGD leaves them untouched)."""

    def __init__(self):
        super().__init__()
        shapes = block_shapes()
        self.stem = nn.Sequential(*conv_bn(1, STEM, 3, 1, 1, True))
        self.blocks = nn.ModuleList(nn.ModuleList(ShuffleBlock(op, *shape) for op in OPS)
                                    for shape in shapes)
        self.last = nn.Sequential(*conv_bn(shapes[-1][1], LAST, 1, 1, 1, True))
        self.head = nn.Linear(LAST, CLASSES)

    def path(self, choices):
        """The chosen ShuffleBlock of each choice block."""
        assert len(choices) == len(self.blocks)
        return [ops[c] for ops, c in zip(self.blocks, choices)]

    def forward(self, x, choices):
        x = self.stem(x)
        for block in self.path(choices):
            x = block(x)
        x = self.last(x)
        return self.head(x.mean((2, 3)))


def count(net, height=28, width=28):
    """(macs, params) by REFERENCE.md's rules: multiply-accumulates of
    convolutions and linear layers for one image, measured with forward
    hooks; every learnable parameter (BN affine included, buffers not)."""
    macs = [0]

    def conv_hook(m, inp, out):
        macs[0] += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features

    hooks = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, height, width))
    for h in hooks:
        h.remove()
    return macs[0], sum(p.numel() for p in net.parameters())
