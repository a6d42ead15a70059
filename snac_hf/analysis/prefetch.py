"""`prefetch(array, index)`: ask the CPU to start loading array[index] into the cache, from numba.

The pair tables (`pair_counts.py`) are far larger than the cache, and counting a pair is an
increment at a random place in one. A loop that announces the place it will increment some steps
ahead keeps several loads from memory in flight instead of waiting for each: on this project's
2-core machine, bigram counting took about 0.6x the time with it (`BENCHMARKS.md`). A prefetch is only a
hint: it never faults and changes no result.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_READ_WRITE, _KEEP_IN_ALL_LEVELS, _DATA_CACHE = 1, 3, 1  # llvm.prefetch's rw, locality, cache type


@intrinsic
def prefetch(typingctx, array, index):
    """Prefetch array[index] for writing (an intrinsic: callable from numba-compiled code only)."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        flag = ir.IntType(32)
        signature_ir = ir.FunctionType(ir.VoidType(), [address.type, flag, flag, flag])
        function = builder.module.declare_intrinsic("llvm.prefetch", [address.type], signature_ir)
        builder.call(function, [address, *(flag(v) for v in (_READ_WRITE, _KEEP_IN_ALL_LEVELS, _DATA_CACHE))])
        return context.get_dummy_value()

    return types.void(array, index), codegen
