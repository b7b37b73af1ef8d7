"""FLOP counting with fvcore, taught the ops it would otherwise skip, so Mamba models are not
under-counted against attention. Convention (fvcore's): one multiply-add = 1 flop.

Selective scan, per (batch, channel, step): for each of the N states, exp(dt A) 2 (the product and
the exp), dt B u 1, h = a h + b 1, y += h C 1; plus dt u 1, the D skip 1 and the z gate 1:
    flops = batch * dim * L * (5 N + 3)
Scaled dot-product attention: Q K^T and A V, each batch * heads * L_q * L_k * head_dim.
Like fvcore everywhere, elementwise work is not counted: activations, residuals, the softmax, and
on CPU the causal depthwise conv (d_conv products per element, ~2% of a Mamba layer).
"""
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape


def selective_scan_flops(batch, dim, length, n_state):
    return batch * dim * length * (5 * n_state + 3)


def _scan_handle(inputs, outputs):
    """mamba-ssm's kernel: inputs start (u (b, d, l), delta, A (d, n), ...)."""
    batch, dim, length = get_shape(inputs[0])
    return selective_scan_flops(batch, dim, length, get_shape(inputs[2])[1])


def _scan_cpu_handle(inputs, outputs):
    """Our CPU kernel: inputs start (u (b, l, groups, c), delta, A (groups, c, n), ...)."""
    batch, length, groups, channels = get_shape(inputs[0])
    return selective_scan_flops(batch, groups * channels, length, get_shape(inputs[2])[2])


def _linear_scan_handle(inputs, outputs):
    """The pure-PyTorch backend's recurrence, a (b, d, l, n): the whole scan's work is booked here
    (fvcore skips the elementwise discretisation around it)."""
    batch, dim, length, n_state = get_shape(inputs[0])
    return selective_scan_flops(batch, dim, length, n_state)


def _sdpa_handle(inputs, outputs):
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    *lead, l_q, head_dim = q
    batch_heads = 1
    for size in lead:
        batch_heads *= size
    return 2 * batch_heads * l_q * k[-2] * head_dim


HANDLES = {
    "prim::PythonOp.SelectiveScanCPU": _scan_cpu_handle,
    "prim::PythonOp.SelectiveScanFn": _scan_handle,
    "prim::PythonOp.LinearScan": _linear_scan_handle,
    "aten::scaled_dot_product_attention": _sdpa_handle,
}


def flop_analysis(model, inputs) -> FlopCountAnalysis:
    """fvcore's analysis with our handles; warnings about skipped elementwise ops are silenced."""
    analysis = FlopCountAnalysis(model, inputs).set_op_handle(**HANDLES)
    return analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)


def count_flops(model, inputs) -> int:
    """Total flops of model(*inputs) (one multiply-add = 1)."""
    was_training = model.training
    model.eval()
    try:
        return int(flop_analysis(model, inputs).total())
    finally:
        model.train(was_training)
