"""gen_conv.py — golden cases of the convolution family for tests/test_ops_conv.c (run through
gen_golden.py). PyTorch computes in float64 from float32 inputs (the values the C test writes), so
the golden numbers carry no float32 rounding of their own.

Every case has
    int transpose   0 conv2d (F.conv2d), 1 conv2d_transpose (F.conv_transpose2d)
    int bias        1 when the case has a bias b
    int stride, pad, dilation, output_pad   (h, w) pairs
    int padding     clnn_padding_mode: 0 explicit, 1 Keras 'valid', 2 Keras 'same'
    int groups
    tensors         x, w, [b], y, r, and the gradients dx, dw, [db] of sum(y * r)
Keras 'same' is computed the TensorFlow way, independently of clnn: conv2d pads the input with
F.pad (an odd total puts the extra row / column at the bottom / right); conv2d_transpose runs the
unpadded transposed convolution and crops (or zero-extends) it to input * stride, starting at the
top padding of the forward convolution it is the gradient of. Keras 'valid' for the transpose is
input * stride + max(kernel - stride, 0) rows, the extra ones holding only the bias.
"""


def generate(w, torch):
    F = torch.nn.functional

    def rnd(*shape):
        return (torch.rand(*shape, dtype=torch.float32) * 2 - 1).double().requires_grad_(True)

    def same_pads(n, k, s, d):
        ek = d * (k - 1) + 1
        out = (n + s - 1) // s
        total = max((out - 1) * s + ek - n, 0)
        return total // 2, total - total // 2

    def conv(x, wt, b, stride, pad, padding, dilation, groups):
        if padding == 2:  # Keras 'same'
            t, bt = same_pads(x.shape[2], wt.shape[2], stride[0], dilation[0])
            l, r = same_pads(x.shape[3], wt.shape[3], stride[1], dilation[1])
            x = F.pad(x, (l, r, t, bt))
            pad = (0, 0)
        elif padding == 1:  # Keras 'valid'
            pad = (0, 0)
        return F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dilation, groups=groups)

    def conv_t(x, wt, b, stride, pad, padding, dilation, groups, opad):
        if padding == 0:
            return F.conv_transpose2d(x, wt, b, stride=stride, padding=pad, output_padding=opad,
                                      groups=groups, dilation=dilation)
        full = F.conv_transpose2d(x, wt, None, stride=stride, groups=groups, dilation=dilation)
        crops = []
        for axis, (s, d) in enumerate(zip(stride, dilation)):
            k, n = wt.shape[2 + axis], x.shape[2 + axis]
            ek = d * (k - 1) + 1
            out = n * s + (max(ek - s, 0) if padding == 1 else 0)
            top = 0 if padding == 1 else max(ek - s, 0) // 2
            crops.append((-top, out + top - full.shape[2 + axis]))  # F.pad: < 0 crops
        y = F.pad(full, (crops[1][0], crops[1][1], crops[0][0], crops[0][1]))
        return y + b.view(1, -1, 1, 1) if b is not None else y

    def case(name, xs, ws, transpose=0, bias=True, stride=(1, 1), pad=(0, 0), padding=0,
             dilation=(1, 1), groups=1, opad=(0, 0)):
        x, wt = rnd(*xs), rnd(*ws)
        out_ch = ws[1] * groups if transpose else ws[0]
        b = rnd(out_ch) if bias else None
        if transpose:
            y = conv_t(x, wt, b, stride, pad, padding, dilation, groups, opad)
        else:
            y = conv(x, wt, b, stride, pad, padding, dilation, groups)
        r = torch.rand(*y.shape, dtype=torch.float32).double() * 2 - 1
        (y * r).sum().backward()
        tensors = {'x': x, 'w': wt}
        if bias:
            tensors['b'] = b
        tensors.update({'y': y, 'r': r, 'dx': x.grad, 'dw': wt.grad})
        if bias:
            tensors['db'] = b.grad
        w.case(name, ints={'transpose': transpose, 'bias': int(bias), 'stride': stride,
                           'pad': pad, 'padding': padding, 'dilation': dilation,
                           'groups': groups, 'output_pad': opad},
               tensors=tensors)

    case('conv2d_odd', (2, 3, 5, 5), (4, 3, 3, 3))
    case('conv2d_stride2_pad1', (2, 2, 7, 6), (3, 2, 3, 3), stride=(2, 2), pad=(1, 1))
    case('conv2d_dilation2', (1, 2, 7, 8), (3, 2, 3, 3), dilation=(2, 2), pad=(1, 2))
    case('conv2d_groups2', (1, 4, 5, 5), (4, 2, 3, 3), groups=2, pad=(1, 1))
    case('conv2d_depthwise', (2, 3, 5, 4), (3, 1, 3, 3), groups=3, pad=(1, 1))
    case('conv2d_nobias_rect', (2, 3, 6, 7), (2, 3, 2, 3), bias=False, stride=(2, 1))
    case('conv2d_same_stride2', (2, 2, 8, 7), (3, 2, 3, 4), padding=2, stride=(2, 2))
    case('conv2d_valid_stride2', (1, 3, 7, 8), (2, 3, 3, 3), padding=1, stride=(2, 2))
    case('conv_transpose_s2_op1', (2, 3, 3, 4), (3, 2, 3, 3), transpose=1, stride=(2, 2),
         pad=(1, 1), opad=(1, 1))
    case('conv_transpose_groups', (1, 4, 3, 3), (4, 2, 3, 3), transpose=1, groups=2,
         dilation=(2, 1))
    case('conv_transpose_same_s2', (1, 3, 3, 4), (3, 2, 3, 4), transpose=1, padding=2,
         stride=(2, 2))
    case('conv_transpose_valid_s3', (2, 2, 3, 3), (2, 2, 2, 2), transpose=1, padding=1,
         stride=(3, 3))
