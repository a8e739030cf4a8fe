"""What an event is, decided once per distinct name (the symbol table), then indexed by code.

Kernel types follow HTA 0.5.0 (hta/utils/utils.py), because our numbers are compared with its:
communication `^nccl.*Kernel`, memory `^Memcpy|^Memset|^dma`, computation anything not matching
`^nccl.*Kernel|.*Memcpy|^Memset|.*Sync`, the rest other. Tensor-core names and the DataLoader
and communication annotations follow the TensorBoard plugin (pytorch/kineto tb_plugin,
tensor_core.py and consts.py); see ../shared/reference/pytorch-trace.md §6.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

COMPUTATION, COMMUNICATION, MEMORY, OTHER = 0, 1, 2, 3
KERNEL_TYPES = ("COMPUTATION", "COMMUNICATION", "MEMORY", "OTHER")

_COMM = re.compile(r"^nccl.*Kernel")
_MEMORY = re.compile(r"(^Memcpy)|(^Memset)|(^dma)")
_NOT_COMPUTE = re.compile(r"(^nccl.*Kernel)|(.*(Memcpy)|(Memset))|(.*Sync)")

TC_PATTERNS = ("h884", "s884", "h1688", "s1688", "hmma", "i8816", "16816",
               "dgrad_1x1_stride_2x2", "first_layer_wgrad_kernel", "conv1x1", "conv2d_c1_k1",
               "direct_group", "xmma_implicit_gemm", "xmma_sparse_conv",
               "xmma_warp_specialized_implicit_gemm", "xmma_gemm", "xmma_sparse_gemm", "c1688")
# CPU ops whose kernels could run on tensor cores (tb_plugin tensor_core.py, TC_Allowlist).
TC_ELIGIBLE_OPS = ("aten::mm", "aten::matmul", "aten::linear", "aten::addmm", "aten::bmm",
                   "aten::baddbmm", "aten::conv1d", "aten::conv2d", "aten::conv3d",
                   "aten::convolution", "aten::_convolution", "aten::cudnn_convolution",
                   "aten::cudnn_convolution_transpose", "aten::lstm_cell", "aten::gru_cell",
                   "aten::rnn_tanh_cell", "aten::rnn_relu_cell", "aten::_scaled_dot_product",
                   "aten::scaled_dot_product_attention", "aten::_scaled_mm")
TB_COMM_NAMES = frozenset(f"{lib}:{op}" for lib in ("nccl", "gloo")
                          for op in ("broadcast", "reduce", "all_reduce", "all_gather",
                                     "reduce_scatter"))
_STEP = re.compile(r"^ProfilerStep#(\d+)")


def kernel_type(name: str) -> int:
    if _COMM.match(name):
        return COMMUNICATION
    if _MEMORY.match(name):
        return MEMORY
    if not _NOT_COMPUTE.match(name):
        return COMPUTATION
    return OTHER


def per_symbol(names: pd.Index, fn: object) -> np.ndarray:
    """Apply a classifier to each distinct name; index the result by category code."""
    return np.array([fn(str(n)) for n in names])  # type: ignore[operator]


def kernel_types(names: pd.Index) -> np.ndarray:
    return per_symbol(names, kernel_type).astype(np.int8)


def uses_tensor_cores(names: pd.Index) -> np.ndarray:
    return per_symbol(names, lambda n: any(p in n for p in TC_PATTERNS)).astype(bool)


def is_dataloader(names: pd.Index) -> np.ndarray:
    """tb_plugin: `enumerate(DataLoader)#...__next__` or `enumerate(DataPipe)#...`."""
    return per_symbol(names, lambda n: (n.startswith("enumerate(DataLoader)#")
                                        and n.endswith(".__next__"))
                      or n.startswith("enumerate(DataPipe)#")).astype(bool)


def step_number(names: pd.Index) -> np.ndarray:
    """N of `ProfilerStep#N` per name, -1 for other names."""
    def num(n: str) -> int:
        m = _STEP.match(n)
        return int(m.group(1)) if m else -1
    return per_symbol(names, num).astype(np.int64)
