"""nhwc_layout (O3): runs chains of depthwise and 1x1 convolutions channels-last, as ``ai.ronn::NhwcConv``.

A depthwise convolution vectorizes across channels when they are contiguous (NHWC), and a 1x1 convolution
is the same GEMM either way, so MobileNet-style blocks run faster channels-last. The pass:

1. rewrites each eligible Conv / FusedConv (4-D float input, constant weight; depthwise with channel
   multiplier 1, or group-1 1x1 stride 1 unpadded) as ``Transpose(to NHWC) -> NhwcConv -> Transpose(to NCHW)``;
2. cancels a Transpose of a Transpose when the two permutations undo each other;
3. moves a pair of identical Transposes below the Add (Sub, Mul, Div) that alone reads both, so residual
   connections stay channels-last;
4. lets a group-1 Conv / FusedConv whose result is read only by a Transpose to NHWC write NHWC itself
   (``NhwcConv`` with ``nchw_input=1``), which absorbs the first convolution of the chain.

Only conversions that end up reading and writing channels-last values are worth it; the Transposes left
at the chain's ends (graph input, pooling head) are single copies. A Conv that is not eligible stays NCHW.
Intermediate values introduced here get shape entries in ``graph.value_info`` when the original's is known.
"""

from __future__ import annotations

from engine import ir
from engine.passes import _rewrite as rw

NAME = "nhwc_layout"

TO_NHWC = [0, 2, 3, 1]
TO_NCHW = [0, 3, 1, 2]
_CONVS = {("", "Conv"), ("ai.onnx", "Conv"), (rw.RONN_DOMAIN, "FusedConv")}
_BINARY = {"Add", "Sub", "Mul", "Div"}


def _is_conv(node: ir.Node) -> bool:
    return (node.domain, node.op_type) in _CONVS and 2 <= len(node.inputs) <= 3 and len(node.outputs) == 1


def _conv_kind(graph: ir.Graph, node: ir.Node) -> str | None:
    """``"nhwc"`` for a convolution with a channels-last kernel, ``"general"`` for another 2-D float one."""
    if not _is_conv(node) or node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        return None
    w = graph.initializers.get(node.inputs[1])
    if w is None or w.ndim != 4 or rw.rank_of(graph, node.inputs[0]) != 4 or not rw.is_float(graph, node.inputs[0]):
        return None
    if node.attrs.get("activation", "") not in ("", "Relu", "Clip", "HardSwish", "LeakyRelu", "Sigmoid",
                                                 "HardSigmoid"):
        return None
    m, cg, kh, kw = w.shape
    group = int(node.attrs.get("group", 1))
    pads = list(node.attrs.get("pads", [0, 0, 0, 0]))
    strides = list(node.attrs.get("strides", [1, 1]))
    if cg == 1 and group == m:
        return "nhwc"
    if group == 1 and kh == kw == 1 and strides == [1, 1] and not any(pads):
        return "nhwc"
    return "general" if group == 1 else None


def _nhwc_shape(graph: ir.Graph, name: str) -> tuple[ir.Dim, ...] | None:
    shape = rw.shape_of(graph, name)
    return None if shape is None or len(shape) != 4 else (shape[0], shape[2], shape[3], shape[1])


def _record(graph: ir.Graph, name: str, like: str, shape: tuple[ir.Dim, ...] | None) -> None:
    dtype = rw.dtype_of(graph, like)
    if shape is not None and dtype is not None:
        graph.value_info[name] = ir.Value(name, dtype, shape)


def _transpose(name: str, src: str, out: str, perm: list[int]) -> ir.Node:
    return ir.Node("Transpose", [src], [out], {"perm": list(perm)}, name, "")


def _perm(node: ir.Node) -> list[int] | None:
    if node.op_type != "Transpose" or node.domain not in ("", "ai.onnx") or "perm" not in node.attrs:
        return None
    return [int(p) for p in node.attrs["perm"]]


def _fresh(taken: set[str], base: str) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _convert(graph: ir.Graph) -> bool:
    changed = False
    nodes: list[ir.Node] = []
    taken = set(graph.initializers) | set(graph.input_names) | {o for n in graph.nodes for o in n.outputs}
    for node in graph.nodes:
        if _conv_kind(graph, node) != "nhwc":
            nodes.append(node)
            continue
        x, y = node.inputs[0], node.outputs[0]
        xt, yt = _fresh(taken, f"{x}.nhwc"), _fresh(taken, f"{y}.nhwc")
        _record(graph, xt, x, _nhwc_shape(graph, x))
        _record(graph, yt, y, _nhwc_shape(graph, y))
        attrs = dict(node.attrs)
        attrs.pop("auto_pad", None)
        base = node.name or y
        nodes.append(_transpose(f"{base}/to_nhwc", x, xt, TO_NHWC))
        nodes.append(ir.Node("NhwcConv", [xt, *node.inputs[1:]], [yt], attrs, f"{base}/nhwc", rw.RONN_DOMAIN))
        nodes.append(_transpose(f"{base}/to_nchw", yt, y, TO_NCHW))
        changed = True
    if changed:
        graph.nodes = nodes
        rw.use_ronn_domain(graph)
    return changed


def _cancel(graph: ir.Graph) -> bool:
    """Transpose(Transpose(a, p), q) with p then q the identity: readers of the result read ``a``."""
    changed = False
    producer = {o: n for n in graph.nodes for o in n.outputs}
    for node in list(graph.nodes):
        q = _perm(node)
        inner = producer.get(node.inputs[0]) if q is not None else None
        p = _perm(inner) if inner is not None else None
        if p is None or q is None or len(p) != len(q) or [p[i] for i in q] != list(range(len(q))):
            continue
        out = node.outputs[0]
        if out in graph.output_names:
            continue
        assert inner is not None
        rw.rename(graph, out, inner.inputs[0])
        graph.nodes = [n for n in graph.nodes if n is not node]
        changed = True
    if changed:
        _drop_dead_transposes(graph)
    return changed


def _drop_dead_transposes(graph: ir.Graph) -> None:
    while True:
        used = rw.used_names(graph)
        dead = [n for n in graph.nodes if _perm(n) is not None and not used.get(n.outputs[0])]
        if not dead:
            return
        graph.nodes = [n for n in graph.nodes if n not in dead]


def _sink(graph: ir.Graph) -> bool:
    """op(Transpose(a, p), Transpose(b, p)) -> Transpose(op(a, b), p): both Transposes read by op alone."""
    used = rw.used_names(graph)
    producer = {o: n for n in graph.nodes for o in n.outputs}
    for node in graph.nodes:
        if node.op_type not in _BINARY or node.domain not in ("", "ai.onnx") or len(node.inputs) != 2:
            continue
        ta, tb = (producer.get(i) for i in node.inputs)
        if ta is None or tb is None or _perm(ta) is None or _perm(ta) != _perm(tb):
            continue
        if any(used.get(i, 0) != (1 if node.inputs[0] != node.inputs[1] else 2) for i in node.inputs):
            continue
        a, b = ta.inputs[0], tb.inputs[0]  # same rank (the perm's length): broadcasting commutes with it
        out = node.outputs[0]
        mid = rw.fresh_name(graph, f"{out}.nhwc")
        _record(graph, mid, out, rw.shape_of(graph, a))
        inner = ir.Node(node.op_type, [a, b], [mid], dict(node.attrs), node.name, node.domain)
        outer = _transpose(f"{node.name or out}/to_nchw", mid, out, _perm(ta) or [])
        i = graph.nodes.index(node)
        graph.nodes[i:i + 1] = [inner, outer]
        graph.nodes = [n for n in graph.nodes if n is not ta and n is not tb]
        return True
    return False


def _absorb(graph: ir.Graph) -> bool:
    """A group-1 conv read by a Transpose to NHWC writes NHWC itself (NhwcConv, nchw_input=1); other
    readers get one Transpose back, which the Add sinking then usually removes."""
    consumers: dict[str, list[ir.Node]] = {}
    for n in graph.nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n)
    for node in graph.nodes:
        if _conv_kind(graph, node) is None:
            continue
        out = node.outputs[0]
        readers = consumers.get(out, [])
        to_nhwc = [r for r in readers if _perm(r) == TO_NHWC and r.outputs[0] not in graph.output_names]
        if not to_nhwc or any(rw.has_subgraph(r) for r in readers):
            continue
        keep = to_nhwc[0].outputs[0]
        for t in to_nhwc[1:]:
            rw.rename(graph, t.outputs[0], keep)
        attrs = dict(node.attrs, nchw_input=1)
        attrs.pop("auto_pad", None)
        new = [ir.Node("NhwcConv", list(node.inputs), [keep], attrs, node.name, rw.RONN_DOMAIN)]
        if len(to_nhwc) < len(readers) or out in graph.output_names:
            new.append(_transpose(f"{node.name or out}/to_nchw", keep, out, TO_NCHW))
        rw.use_ronn_domain(graph)
        drop = {id(t) for t in to_nhwc}
        at = graph.nodes.index(node)
        graph.nodes[at:at + 1] = new
        graph.nodes = [n for n in graph.nodes if id(n) not in drop]
        return True
    return False


def _revert_isolated(graph: ir.Graph) -> bool:
    """A 1x1 NhwcConv between a Transpose to NHWC and one back gains nothing: make it a Conv again."""
    producer = {o: n for n in graph.nodes for o in n.outputs}
    used = rw.used_names(graph)
    consumers: dict[str, list[ir.Node]] = {}
    for n in graph.nodes:
        for i in n.inputs:
            consumers.setdefault(i, []).append(n)
    for node in graph.nodes:
        if node.op_type != "NhwcConv" or node.domain != rw.RONN_DOMAIN or node.attrs.get("nchw_input"):
            continue
        w = graph.initializers.get(node.inputs[1])
        if w is None or w.shape[2:] != (1, 1) or int(node.attrs.get("group", 1)) != 1:
            continue
        src = producer.get(node.inputs[0])
        readers = consumers.get(node.outputs[0], [])
        if src is None or _perm(src) != TO_NHWC or used.get(node.outputs[0]) != 1 or len(readers) != 1:
            continue
        back = readers[0]
        if _perm(back) != TO_NCHW:
            continue
        attrs = {k: v for k, v in node.attrs.items() if k != "nchw_input"}
        fused = bool(attrs.get("activation"))
        if not fused:
            attrs.pop("activation", None)
            attrs.pop("activation_params", None)
        conv = ir.Node("FusedConv" if fused else "Conv", [src.inputs[0], *node.inputs[1:]], [back.outputs[0]],
                       attrs, node.name, rw.RONN_DOMAIN if fused else "")
        graph.nodes = [conv if n is back else n for n in graph.nodes if n is not node]
        _drop_dead_transposes(graph)
        return True
    return False


def run(graph: ir.Graph) -> bool:
    changed = _convert(graph)
    while True:
        step = _cancel(graph)
        while _sink(graph):
            step = True
        step |= _cancel(graph)
        step |= _absorb(graph)
        if not step:
            break
        changed = True
    while _revert_isolated(graph):
        changed = True
    return changed
