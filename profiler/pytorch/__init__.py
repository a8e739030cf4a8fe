"""PyTorch profiler (Kineto) Chrome traces: reading them, and HTA-style analyses over them.

reader turns trace files into per-rank column tables; breakdown, idle, kernels, steps and
ranks are plain functions over those tables that return DataFrames; load wires them into a
Trace for the rule engine (see docs/trace-format.md, "PyTorch profiler traces").
"""
