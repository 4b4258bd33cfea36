"""Exact IR drop of a passive crossbar: nodal analysis of every word-line and bit-line node.

Geometry and conventions (docs/crossbar.md, "IR drop"): ``g[i, j]`` (S) is the cell between word
line ``i`` (input ``i``) and bit line ``j`` (output ``j``). Word line ``i`` is driven at its left
end by ``v_in[i]`` (V) through ``r_source + r_row`` (the driver's output resistance and the first
wire segment); ``r_row`` separates neighbouring cells along it and its right end is open. Bit line
``j`` has an open top end (row 0), ``r_col`` between neighbouring cells, and its bottom end (after
the last row) goes to a virtual ground (the sense amplifier) through ``r_col + r_sense``; the output
current is the current into that virtual ground. This is badcrossbar's geometry (with
``r_source = r_sense = 0``).

Unknowns: the ``n_in * n_out`` word-line node voltages ``W`` and as many bit-line node voltages
``B``. Kirchhoff's current law at every node gives the symmetric positive definite system
``A [W; B] = [g_first v e_0; 0]``.

How it is solved, and why (exact, fast with a batch of inputs, differentiable):

* The word-line nodes of row ``i`` couple only to each other (a tridiagonal chain ``T_i``) and to
  the bit-line nodes of the same row through the cells ``D_i = diag(g[i])``. Eliminating them,
  ``W_i = (T_i + D_i)^-1 (rhs_i + D_i B_i)``, leaves a block-tridiagonal system in the bit-line
  voltages: ``n_in`` dense blocks of size ``n_out`` (the Schur complement of each row), coupled
  between rows by the bit-line wires ``-g_col I``.
* That system is solved by block Cholesky (block Thomas) from the open top of the bit lines down
  to the sense amplifiers. The recursion is written for ``Y_i`` (the conductance that everything
  above row ``i`` presents, seen from row ``i``): ``Y_i = C_i + g_col (Y_{i-1} + g_col I)^-1
  Y_{i-1}`` -- a series connection, with no ``g_col - g_col`` cancellation even when the wire
  conductance exceeds the cells' by 1e5. That is the float32 form. In float64 the product is
  dropped: ``K'^-1 Y = I - g_col K'^-1`` gives ``Y_i = C_i + g_col I - g_col^2 K'^-1`` from the
  inverse the sweeps need anyway, which saves 2 of the 10/3 ``n_out^3`` flops per row; it cancels
  about ``log10(g_col / |Y|)`` digits (4-7 of float64's 16 for 1 mOhm .. 10 Ohm wires on uS cells:
  currents within 3e-13 of the series form at 64 x 64 and 128 x 128, tests/test_irdrop.py).
* The Schur complements ``C_i = D_i - D_i (T_i + D_i)^-1 D_i`` come from the closed form of a
  tridiagonal inverse (the chain's pivots, its inverse's diagonal and the cumulative products of
  the elimination multipliers: an outer product, :func:`_schur_row`): ``O(n_out^2)`` per row,
  formed inside the sweep, instead of a chain solve with ``n_out`` right-hand sides and an
  ``(n_in, n_out, n_out)`` array.
* The factorisation depends only on the conductances and wires, so a batch of input vectors shares
  it: the per-input work is matrix products, ``4 n_in n_out^2`` flops per input, done for the
  whole batch at once (``(n_out, n_out) @ (n_out, batch)`` per row); the currents alone need only
  the down sweep (half of it), which runs inside the factorisation's scan as each block is
  inverted (:func:`_bottom_streamed`: no factors stored, written or read back; its gradient keeps
  them). A batch of at least ``n_out`` inputs is cheaper through the
  crossbar's linear map instead (:func:`_bottom_matrix`: ``n_out`` right-hand sides entering at
  the sense amplifiers, the up sweep alone, ``2 n_in n_out^3`` flops, then ``v^T m``), and so is
  its gradient (an adjoint with ``n_out`` columns instead of the batch's). Factorisation:
  ``~(4/3) n_in n_out^3`` flops in float64 (an inverse per row), ``~(10/3) n_in n_out^3`` in float32
  (and a product); memory ``n_in n_out^2``
  numbers. Rows are eliminated first, so put the smaller dimension in ``n_out`` (784 x 100: blocks
  of 100).
* Wide float64 tiles (``n_out >= 256``, boundary maps within ``2^24`` numbers) whose currents are
  streamed take one-level nested dissection instead (:func:`_bottom_nd`): only word lines cross a
  vertical cut, so the columns split into strips of :data:`_ND_WIDTH` columns joined by separator
  columns of word-line nodes (each separator's own bit line eliminated in closed form, like a row).
  Each strip is the same row sweep with ``w x w`` blocks (all strips at once); its
  Dirichlet-to-Neumann map (dense ``2 n_in x 2 n_in``) and the last row of its bit lines per unit
  boundary voltage come from the factors by one sweep down the rows (:func:`_strip_boundary_maps`:
  the inverse of a block-tridiagonal matrix is a product of the up sweep's contractions times its
  diagonal blocks, no solve per boundary node); the separators' block-tridiagonal system
  (blocks ``n_in``) is then solved by block Thomas. ``~(1.25 w + 3 n_out / w) n_in^2 n_out``
  multiply-adds against ``(2/3 n_in + k) n_out^3`` (256 x 256, ``k = 200``, ``w = 32``: ~1.1
  against ~6 G; one solve per boundary node, the previous version, cost ``4 w`` for ``1.25 w``); the batch's
  currents cost ``~3 n_in^2`` per separator and input. Its gradient (:func:`_nd_cotangents`)
  solves the adjoint's separators with the factors (the inputs' are kept from the forward), then
  sweeps every strip down and once up for both, and the up sweep reduces each row's share of the
  residual cotangents as it solves that row: no ``(n_in, n_out, k)`` field is formed. Exact to
  rounding like the row sweep (tests/test_irdrop.py, against the stamp, the node path's adjoint
  and finite differences).
* No LAPACK: every step is a plain XLA operation (matrix products, loops). The blocks
  ``Y + g_col I`` are inverted by recursive 2 x 2 block elimination (:func:`_spd_inverse`), the
  word-line chains by the Thomas algorithm (:func:`_chain_solve`). jaxlib 0.10's CPU LAPACK
  kernels (``gtsv``, ``getrf``, ``potrf``, ``trsm``) split a batched call over XLA's intra-op
  thread pool and block the pool thread that called them until the pieces are done; a program
  that runs as many of them at once as the pool has threads (a crossbar's tiles and its +/-
  arrays under ``vmap``) leaves no thread to run the pieces, and the process hangs with no CPU
  use. That was the crossbar hang of issue 11 (reproduced without memsnn: 8 independent batched
  ``tridiagonal_solve`` calls on 2 cores). tests/test_irdrop.py checks that the compiled solve
  holds no LAPACK call.
* It is a direct solve: exact to rounding, no iteration tolerance. An iterative solver (CG with a
  line preconditioner) was the alternative; its iteration count grows with ``R_wire G n^2`` and
  each iteration is memory-bound, where this is matrix-product-bound.
* Gradients (w.r.t. ``g``, ``v_in`` and the four wire resistances) use the adjoint method in a
  ``jax.custom_vjp``: one more solve with the same factors (the matrix is symmetric), then the
  parameter cotangents ``-lam^T d(A(p) x - rhs(p))/dp`` of the (matrix-free) residual, written
  out term by term (:func:`_residual_cotangents`). When only the currents were used, the word-line cotangent is a symbolic
  zero and the adjoint skips a word-line solve; its right-hand side is zero above the last row, so
  it has only an up sweep, run in one loop with the inputs' own up sweep
  (:func:`_bottom_streamed_bwd`). Through the linear map, the adjoint's up sweep recomputes the
  map's own solutions in the same products and reduces each row's cotangent terms as it solves it,
  the word lines' cell voltages from their dense inverse (:func:`_bottom_matrix_bwd`). Tested
  against finite differences.
* After the solve the KCL residual is checked; a solve that does not satisfy its own equations
  (non-finite values, a factorisation that broke down) raises (``eqx.error_if``, also under
  ``jit``) instead of returning garbage; :func:`solve_ir_drop_nodes` returns the residual of every
  equation and a flag instead. :func:`solve_ir_drop` (the currents only: the down sweep and the last
  block, never the batch's node voltages) checks the factorisation every input shares: the same
  down sweep on a known solution (streamed, fewer inputs than outputs), or the batch's summed input
  solved with the same factors and its KCL residual (through the linear map).

Zero resistances are exact special cases, not limits: ``r_row = r_source = 0`` makes every
word-line node equal to its input (the bit lines are then independent tridiagonal chains);
``r_col = r_sense = 0`` puts every bit-line node at 0 V (independent word-line chains); all four
zero is the ideal product ``v_in @ g``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Bool, Float

from .._validation import _concrete

__all__ = ["Wires", "IRDropSolution", "solve_ir_drop", "solve_ir_drop_nodes", "ir_drop_severity", "ir_drop_matrix"]


class Wires(eqx.Module):
    """Parasitic resistances of a crossbar's lines (Ohm), see docs/crossbar.md ("IR drop").

    Attributes:
        r_row: word-line resistance between neighbouring cells (and from the driver to the first).
        r_col: bit-line resistance between neighbouring cells (and from the last to the sense amp).
        r_source: output resistance of each input driver (DAC), in series with the first segment.
        r_sense: input resistance of each sense amplifier, in series with the last segment.

    The resistances are pytree leaves (differentiable). Whether a side is ideal (``r_row = r_source
    = 0``, or ``r_col = r_sense = 0``) changes the circuit's topology, so it is decided once, from
    the concrete values given here, and kept as static flags.
    """

    r_row: Float[Array, ""]
    r_col: Float[Array, ""]
    r_source: Float[Array, ""]
    r_sense: Float[Array, ""]
    row_ideal: bool = eqx.field(static=True)
    col_ideal: bool = eqx.field(static=True)

    def __init__(self, r_row=0.0, r_col=0.0, r_source=0.0, r_sense=0.0):
        values = {"r_row": r_row, "r_col": r_col, "r_source": r_source, "r_sense": r_sense}
        concrete = {}
        for name, value in values.items():
            arr = _concrete(value)
            if arr is not None:
                if arr.shape != ():
                    raise ValueError(f"Wires: {name} must be a scalar (Ohm), got shape {arr.shape}.")
                if not np.isfinite(arr) or arr < 0:
                    raise ValueError(
                        f"Wires: {name} must be a finite resistance >= 0 Ohm, got {arr!r}. Wire and "
                        f"driver resistances are physical resistances; use 0 for an ideal wire.")
                concrete[name] = float(arr)
        self.r_row = jnp.asarray(r_row, dtype=float)
        self.r_col = jnp.asarray(r_col, dtype=float)
        self.r_source = jnp.asarray(r_source, dtype=float)
        self.r_sense = jnp.asarray(r_sense, dtype=float)
        known = len(concrete) == 4
        self.row_ideal = known and concrete["r_row"] == 0.0 and concrete["r_source"] == 0.0
        self.col_ideal = known and concrete["r_col"] == 0.0 and concrete["r_sense"] == 0.0
        if known and concrete["r_row"] == 0.0 and concrete["r_source"] > 0.0:
            raise ValueError(
                "Wires: r_row = 0 with r_source > 0 (ideal word lines behind a resistive driver) is not "
                "supported: each word line would collapse to one node. Give r_row its physical value "
                "(e.g. 1e-3 Ohm or more), or set r_source = 0.")
        if known and concrete["r_col"] == 0.0 and concrete["r_sense"] > 0.0:
            raise ValueError(
                "Wires: r_col = 0 with r_sense > 0 (ideal bit lines into a resistive sense amplifier) is "
                "not supported: each bit line would collapse to one node. Give r_col its physical value "
                "(e.g. 1e-3 Ohm or more), or set r_sense = 0.")

    @property
    def ideal(self) -> bool:
        """All four resistances are zero: the crossbar computes exactly ``v_in @ g``."""
        return self.row_ideal and self.col_ideal


class IRDropSolution(NamedTuple):
    """Everything an IR-drop solve found, for one input vector or a batch (leading ``batch`` axis).

    Attributes:
        currents: ``(..., n_out)`` output currents into the sense amplifiers (A).
        word_voltages: ``(..., n_in, n_out)`` word-line node voltages (V), at each cell's top.
        bit_voltages: ``(..., n_in, n_out)`` bit-line node voltages (V), at each cell's bottom.
        relative_residual: ``()`` largest KCL residual over the largest current scale
            (``max |A x - rhs| / max(|g_first v|, |g v|)``); about 1e-16 .. 1e-13 in float64.
        converged: ``()`` whether the solution is finite and satisfies its equations
            (``relative_residual`` below the tolerance of the dtype).
        severity: ``()`` the IR-drop severity of :func:`ir_drop_severity` (dimensionless).
    """

    currents: Float[Array, "... n_out"]
    word_voltages: Float[Array, "... n_in n_out"]
    bit_voltages: Float[Array, "... n_in n_out"]
    relative_residual: Float[Array, ""]
    converged: Bool[Array, ""]
    severity: Float[Array, ""]


def ir_drop_severity(g: Float[Array, "n_in n_out"], wires: Wires) -> Float[Array, ""]:
    """Dimensionless IR-drop figure: ``max_i sum_j g_ij (r_source + n_out r_row) + max_j sum_i g_ij
    (r_sense + n_in r_col)``, the worst line's total cell conductance times its total wire
    resistance. Well below 1: drops of a few percent; near or above 1: the crossbar's outputs are
    dominated by the wires (still solved exactly, but barely a matrix product any more)."""
    n_in, n_out = g.shape
    row = jnp.max(jnp.sum(g, axis=1)) * (wires.r_source + n_out * wires.r_row)
    col = jnp.max(jnp.sum(g, axis=0)) * (wires.r_sense + n_in * wires.r_col)
    return row + col


# ----------------------------------------------------------------------------------------------
# the linear system, matrix-free (for residuals and the adjoint's parameter cotangents)

def _conductances(r_row, r_col, r_source, r_sense):
    """Wire conductances: between cells along a row / column, and of the two end segments."""
    return 1.0 / r_row, 1.0 / (r_source + r_row), 1.0 / r_col, 1.0 / (r_col + r_sense)


def _row_laplacian(w, g_row, g_first):
    """KCL contributions of the word-line wires; ``w`` is ``(n_in, n_out, k)``."""
    d = (w[:, :-1] - w[:, 1:]) * g_row
    zero = jnp.zeros_like(w[:, :1])
    out = jnp.concatenate([d, zero], axis=1) - jnp.concatenate([zero, d], axis=1)
    return out.at[:, 0].add(g_first * w[:, 0])


def _col_laplacian(b, g_col, g_last):
    """KCL contributions of the bit-line wires (open top, sense amplifier below the last row)."""
    d = (b[:-1] - b[1:]) * g_col
    zero = jnp.zeros_like(b[:1])
    out = jnp.concatenate([d, zero], axis=0) - jnp.concatenate([zero, d], axis=0)
    return out.at[-1].add(g_last * b[-1])


def _residual(params, w, b):
    """``A(p) [w; b] - rhs(p)`` for the general (both sides resistive) circuit; ``v`` is ``(n_in, k)``."""
    g, r_row, r_col, r_source, r_sense, v = params
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    cell = g[:, :, None] * (w - b)
    res_w = _row_laplacian(w, g_row, g_first) + cell
    res_w = res_w.at[:, 0].add(-g_first * v)
    res_b = _col_laplacian(b, g_col, g_last) - cell
    return res_w, res_b


def _neighbour_products(lam, x, axis):
    """``sum (lam_j - lam_{j+1}) (x_j - x_{j+1})`` over neighbours ``j, j+1`` along ``axis``: the
    differences with a rolled copy, the wrapped-around pair masked out (XLA on CPU fuses this into
    one pass; two offset slices of each array were read in four times as long)."""
    n = x.shape[axis]
    d_lam, d_x = lam - jnp.roll(lam, -1, axis=axis), x - jnp.roll(x, -1, axis=axis)
    inner = (jnp.arange(n) < n - 1).reshape((n,) + (1,) * (x.ndim - 1 - axis))
    return jnp.sum(jnp.where(inner, d_lam * d_x, 0.0))


def _residual_cotangents(params, w, b, lam_w, lam_b):
    """``-lam^T d(A(p) x - rhs(p)) / dp`` for ``x = (w, b)`` and ``lam = (lam_w, lam_b)``, each
    ``(n_in, n_out, k)`` (summed over the ``k`` pairs): the vector-Jacobian product of
    :func:`_residual` with cotangent ``-lam``, written out term by term (one pass over the node
    arrays per term, instead of differentiating the residual's concatenations and scatters)."""
    return _wire_cotangents(params, *_residual_sums(params, w, b, lam_w, lam_b))


def _residual_sums(params, w, b, lam_w, lam_b):
    """The cotangents of :func:`_residual_cotangents` w.r.t. ``g`` ``(n_in, n_out)``, the four wire
    conductances (scalars) and ``v`` ``(n_in, k)``: sums over the ``k`` pairs, so that pairs taken
    in chunks add up (:func:`_wire_cotangents` turns the conductances' into the resistances')."""
    g, r_row, r_col, r_source, r_sense, v = params
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    d_g = -jnp.sum((lam_w - lam_b) * (w - b), axis=-1)
    d_v = g_first * lam_w[:, 0]
    d_g_row = -_neighbour_products(lam_w, w, axis=1)
    d_g_first = -jnp.sum(lam_w[:, 0] * (w[:, 0] - v))
    d_g_col = -_neighbour_products(lam_b, b, axis=0)
    d_g_last = -jnp.sum(lam_b[-1] * b[-1])
    return d_g, d_g_row, d_g_first, d_g_col, d_g_last, d_v


def _wire_cotangents(params, d_g, d_g_row, d_g_first, d_g_col, d_g_last, d_v):
    """The cotangents of ``params`` (``g``, the four resistances, ``v``) from those of ``g``, of the
    four wire conductances (``g_row``, ``g_first``, ``g_col``, ``g_last``: scalars) and of ``v``."""
    g, r_row, r_col, r_source, r_sense, v = params
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    # g_row = 1 / r_row, g_first = 1 / (r_source + r_row), g_col = 1 / r_col, g_last = 1 / (r_col + r_sense)
    d_source = -d_g_first * g_first ** 2
    d_sense = -d_g_last * g_last ** 2
    d_r_row = -d_g_row * g_row ** 2 + d_source
    d_r_col = -d_g_col * g_col ** 2 + d_sense
    scalars = tuple(jnp.asarray(d).astype(jnp.result_type(r)).reshape(jnp.shape(r))
                    for d, r in ((d_r_row, r_row), (d_r_col, r_col), (d_source, r_source), (d_sense, r_sense)))
    return (d_g.astype(g.dtype),) + scalars + (d_v.astype(v.dtype),)


# ----------------------------------------------------------------------------------------------
# the direct block solve, in plain XLA operations (no LAPACK custom calls: see the module docstring)

def _sym(a):
    return 0.5 * (a + jnp.swapaxes(a, -1, -2))


# Blocks of at most this size are inverted by a Gauss-Jordan loop; larger ones are split in two.
# Unrolling the recursion further costs compile time (seconds per level) and gains nothing.
_LEAF = 32


def _gauss_jordan_inverse(k: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """Inverse of a small SPD matrix: Gauss-Jordan sweeps over every pivot (no pivoting needed:
    the pivots of an SPD matrix are positive), one loop step per pivot. Sweeping all of them
    turns ``K`` into ``-K^-1``."""
    n = k.shape[-1]
    index = jnp.arange(n)

    def sweep(p, a):
        pivot = a[p, p]
        col = jax.lax.dynamic_index_in_dim(a, p, axis=1, keepdims=False) / pivot
        row = jax.lax.dynamic_index_in_dim(a, p, axis=0, keepdims=False) / pivot
        at_row, at_col = (index == p)[:, None], (index == p)[None, :]
        a = a - pivot * col[:, None] * row[None, :]
        a = jnp.where(at_row, row[None, :], jnp.where(at_col, col[:, None], a))
        return jnp.where(at_row & at_col, -1.0 / pivot, a)

    return -jax.lax.fori_loop(0, n, sweep, k)


def _spd_inverse(k: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """Inverse of a symmetric positive definite matrix by recursive 2 x 2 block elimination.

    ``K = [[A, B], [B^T, C]]``: ``K^-1 = [[A^-1 + X S^-1 X^T, -X S^-1], [-S^-1 X^T, S^-1]]`` with
    ``X = A^-1 B`` and the Schur complement ``S = C - B^T X`` (SPD again, so no pivoting is
    needed), down to blocks of :data:`_LEAF`. ``~(4/3) n^3`` flops, almost all of it in matrix
    products. Accurate to ``~cond(K) eps``; the matrices inverted here, ``Y + g_col I``, have
    ``cond(K) <= 1 + lambda_max(Y) / g_col``, close to 1 unless the IR drop is severe.
    """
    n = k.shape[-1]
    if n <= _LEAF:
        return _gauss_jordan_inverse(k)
    h = n // 2
    a, b, c = k[:h, :h], k[:h, h:], k[h:, h:]
    a_inv = _spd_inverse(a)
    x = a_inv @ b
    s_inv = _spd_inverse(_sym(c - b.T @ x))
    xs = x @ s_inv
    top = _sym(a_inv + xs @ x.T)
    return jnp.block([[top, -xs], [-xs.T, s_inv]])


def _chain_pivots(diag: Float[Array, "n_in n_out"], e, axis: int) -> Float[Array, "n_in n_out"]:
    """Pivots ``p`` of ``LDL^T`` of the symmetric tridiagonal chains along ``axis`` (0: bit lines,
    1: word lines) with main diagonal ``diag`` and off-diagonal ``-e`` (``e > 0``):
    ``p_0 = d_0``, ``p_j = d_j - e^2 / p_{j-1}``."""
    def step(p_prev, d):
        p = d - e * (e / p_prev)
        return p, p

    d = jnp.moveaxis(diag, axis, 0)
    _, rest = jax.lax.scan(step, d[0], d[1:])
    return jnp.moveaxis(jnp.concatenate([d[:1], rest], axis=0), 0, axis)


def _chain_solve(pivots: Float[Array, "n_in n_out"], e, rhs: Float[Array, "n_in n_out k"],
                 axis: int) -> Float[Array, "n_in n_out k"]:
    """Solve the chains of :func:`_chain_pivots` for ``rhs`` (``k`` right-hand sides each): the
    Thomas algorithm, one loop step per node of a chain on the whole slice of nodes at that
    position, updating one buffer in place (no transposed copies)."""
    n = rhs.shape[axis]

    def take(a, j):
        return jax.lax.dynamic_index_in_dim(a, j, axis, keepdims=False)

    def put(a, x, j):
        return jax.lax.dynamic_update_index_in_dim(a, x, j, axis)

    def forward(j, y):  # y_j = r_j + (e / p_{j-1}) y_{j-1}
        return put(y, take(y, j) + (e / take(pivots, j - 1))[..., None] * take(y, j - 1), j)

    def backward(step, x):  # x_j = (y_j + e x_{j+1}) / p_j
        j = n - 2 - step
        return put(x, (take(x, j) + e * take(x, j + 1)) / take(pivots, j)[..., None], j)

    y = jax.lax.fori_loop(1, n, forward, rhs)
    x = put(y, take(y, n - 1) / take(pivots, n - 1)[..., None], n - 1)
    return jax.lax.fori_loop(0, n - 1, backward, x)


def _row_diagonal(g, g_row, g_first):
    """Main diagonal ``(n_in, n_out)`` of ``T_i + D_i`` for every word line ``i`` (off-diagonal
    ``-g_row``; the first node also connects to the driver, the last one is open)."""
    n_out = g.shape[1]
    j = jnp.arange(n_out)
    return g + jnp.where(j == 0, g_first, g_row) + jnp.where(j < n_out - 1, g_row, 0.0)


def _word_solve(pivots, g_row, rhs: Float[Array, "n_in n_out k"]) -> Float[Array, "n_in n_out k"]:
    """``(T_i + D_i)^-1 rhs_i`` for every word line ``i`` (``pivots`` ``(n_in, n_out)``)."""
    return _chain_solve(pivots, g_row, rhs, axis=1)


class _Factors(NamedTuple):
    pivots: Array  # (n_in, n_out): LDL^T pivots of every word line's T_i + D_i
    inverse: Array  # (n_in, n_out, n_out): K'_i^-1 of the block Thomas sweep


def _chain_inverse_diagonal(pivots: Float[Array, "n_in n_out"], e) -> Float[Array, "n_in n_out"]:
    """Diagonal of ``(T_i + D_i)^-1`` for every word line from its pivots: ``z_{n-1} = 1/p_{n-1}``,
    ``z_j = 1/p_j + (e/p_j)^2 z_{j+1}`` (from ``T' = L D L^T``; every term positive, so no
    cancellation, unlike ``1/(p_j + q_j - d_j)`` with the pivots from both ends)."""
    def step(z_next, p):
        z = 1.0 / p + (e / p) ** 2 * z_next
        return z, z

    p = jnp.moveaxis(pivots, 1, 0)
    last = 1.0 / p[-1]
    _, rest = jax.lax.scan(step, last, p[:-1], reverse=True)
    return jnp.moveaxis(jnp.concatenate([rest, last[None]], axis=0), 0, 1)


def _schur_row(g_i, ratios_i, diag_i):
    """Schur complement of one word line, ``C_i = D_i - D_i (T_i + D_i)^-1 D_i`` ``(n_out, n_out)``,
    with the inverse of :func:`_chain_inverse` (no solve with ``n_out`` right-hand sides)."""
    return jnp.diag(g_i) - (g_i[:, None] * g_i[None, :]) * _chain_inverse(ratios_i, diag_i)


def _chain_inverse(ratios, diag):
    """Inverses ``(..., n, n)`` of symmetric tridiagonal chains (off-diagonal ``-e``) from their
    elimination multipliers ``ratios = e / p`` and their inverses' diagonals ``diag = z``, each
    ``(..., n)`` (:func:`_chain_pivots`, :func:`_chain_inverse_diagonal`), in closed form:
    ``T^-1[j, k] = z_k prod_{l=j}^{k-1} (e / p_l)`` for ``j <= k`` (column ``k`` above its
    diagonal decays by the forward-elimination multipliers ``e / p_l`` in (0, 1)), symmetric.

    With ``c_k = prod_{l<k} e / p_l`` (positive, decreasing) the range product is ``c_k / c_j``: the
    inverse is the outer product of ``1 / c`` and ``z c`` (``O(n^2)`` multiplications, one per
    entry). When ``c`` spans more than ``1e-100`` (1e-15 in float32; a line whose cells conduct far
    better than its wires) ``1 / c`` could overflow, and the products of every range come instead
    from one cumulative product of a masked matrix (positive factors only, long chains underflow to
    0; ``O(n^2 log n)``), for every chain of the batch if one needs it (one branch is run, not
    both). Both are products of positive factors: no cancellation."""
    n = ratios.shape[-1]
    dtype = ratios.dtype
    j = jnp.arange(n)
    upper = j[None, :] >= j[:, None]

    def outer(_):
        c = jnp.concatenate([jnp.ones(ratios.shape[:-1] + (1,), dtype), jnp.cumprod(ratios[..., :-1], axis=-1)],
                            axis=-1)
        a, b = 1.0 / c, diag * c
        return jnp.where(upper, a[..., :, None] * b[..., None, :], b[..., :, None] * a[..., None, :])

    def masked(_):
        # cum[a, m] = prod_{l=a}^{m} ratio_l for m >= a (1 below); range[a, k] = prod_{l=a}^{k-1}.
        cum = jax.lax.cumprod(jnp.where(upper, ratios[..., None, :], 1.0), axis=ratios.ndim)
        ranges = jnp.concatenate([jnp.ones(ratios.shape + (1,), dtype), cum[..., :-1]], axis=-1)
        return jnp.where(upper, ranges * diag[..., None, :], jnp.swapaxes(ranges, -1, -2) * diag[..., :, None])

    tiny = 1e-100 if jnp.finfo(dtype).bits >= 64 else 1e-15
    safe = jnp.all(jnp.prod(ratios[..., :-1], axis=-1) > tiny)
    return jax.lax.cond(safe, outer, masked, None)


def _factor_scan(g, g_row, g_first, g_col, g_last, series_form=None, rhs=None, columns=0, keep=True,
                 keep_swept=0):
    """The block factorisation, one scan over the rows; optionally with the down sweep of a
    right-hand side built row by row (``rhs(i, C_i)`` ``(n_out, columns)``) in the same scan.
    Returns the word-line pivots, every row's ``K'_i^-1`` (``keep``; else ``None``), the last
    row's ``K'^-1``, the swept right-hand side's last row ``f'_last`` (``None`` without ``rhs``)
    and, with ``keep_swept > 0``, every row's ``f'_i`` in its first ``keep_swept`` columns
    ``(n_in, n_out, keep_swept)`` (for an up sweep; else ``None``)."""
    n_in, n_out = g.shape
    # series_form: Y's update as a series connection (float32's), or product-free (float64's
    # default); see the module docstring.
    if series_form is None:
        series_form = jnp.finfo(g.dtype).bits < 64
    pivots = _chain_pivots(_row_diagonal(g, g_row, g_first), g_row, axis=1)
    # The Schur complement of row i, C_i = D_i - D_i (T_i + D_i)^-1 D_i, is formed row by row
    # inside the sweep from the word line's pivots (closed form, O(n_out^2) per row: no
    # (n_in, n_out, n_out) array besides the factors).
    ratios = g_row / pivots
    diag = _chain_inverse_diagonal(pivots, g_row)
    eye = jnp.eye(n_out, dtype=g.dtype)

    def step(carry, i):
        # Y_i = C_i + g_col K'_{i-1}^-1 Y_{i-1} (Y_0 = C_0); K'_i = Y_i + g_col I (g_last I on the
        # last row); every row's inverse is an output of the scan (no second copy of them).
        y_prev, k_inv_prev, f_prev = carry
        c = _schur_row(g[i], ratios[i], diag[i])
        if series_form:
            y = _sym(c + g_col * (k_inv_prev @ y_prev))  # k_inv_prev = 0 before row 0
        else:
            # K'^-1 Y = I - g_col K'^-1: no matrix product (2 n_out^3 flops of the 10/3 per row), at
            # the price of a cancellation of about g_col / |Y| (see the module docstring).
            y = _sym(c + jnp.where(i > 0, 1.0, 0.0) * (g_col * eye - (g_col * g_col) * k_inv_prev))
        k_inv = _spd_inverse(y + jnp.where(i == n_in - 1, g_last, g_col) * eye)
        # down sweep f'_i = f_i + g_col K'_{i-1}^-1 f'_{i-1} (f'_0 = f_0)
        f = f_prev if rhs is None else rhs(i, c) + g_col * (k_inv_prev @ f_prev)
        return (y, k_inv, f), (k_inv if keep else None, f[:, :keep_swept] if keep_swept else None)

    zero = jnp.zeros((n_out, n_out), dtype=g.dtype)
    f0 = jnp.zeros((n_out, columns), dtype=g.dtype)
    (_, k_inv_last, f_last), (k_invs, swept) = jax.lax.scan(step, (zero, zero, f0), jnp.arange(n_in))
    return pivots, k_invs, k_inv_last, (None if rhs is None else f_last), swept


def _factor(g, g_row, g_first, g_col, g_last, series_form=None):
    pivots, k_invs, _, _, _ = _factor_scan(g, g_row, g_first, g_col, g_last, series_form)
    return _Factors(pivots, k_invs)


# Tiles whose factors (n_in n_out^2 numbers) exceed this are solved for their currents without
# storing the factors (:func:`_bottom_streamed`): 2^27 numbers, 1 GiB in float64.
_STREAM_ABOVE = 2 ** 27


def _probe(n_in, n_out, dtype):
    """Bit-line voltages of the factorisation's check, ``(n_in, n_out)`` in [0.5, 1.5] (deterministic)."""
    return 1.0 + 0.5 * jnp.sin(1.7 * jnp.arange(n_in * n_out, dtype=dtype)).reshape(n_in, n_out)


def _streamed(g, r_row, r_col, r_source, r_sense, v, keep, swept=False, series_form=None):
    """Factorisation and down sweep in one scan: ``b_last`` ``(n_out, k)`` for inputs ``v``, and the
    relative error of the same sweep on a known solution (the probe ``z``, with right-hand side
    ``A_B z`` of the bit-line system built from each row's ``C_i``): a check of every factor the
    currents go through, the last row recovering ``z_last``. ``keep``: also the factors;
    ``swept``: also every row's swept right-hand side ``f'_i`` ``(n_in, n_out, k)`` (for the up
    sweep of the full solve) and the word lines' driven columns ``t_i`` (else ``None``)."""
    n_in, n_out = g.shape
    k = v.shape[1]
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    e0 = jnp.zeros((n_in, n_out, 1), dtype=g.dtype).at[:, 0].set(1.0)
    pivots = _chain_pivots(_row_diagonal(g, g_row, g_first), g_row, axis=1)
    t = _word_solve(pivots, g_row, e0)[..., 0]
    gt, gv = g * t, g_first * v
    z = _probe(n_in, n_out, g.dtype)

    def rhs(i, c):
        up, down = z[jnp.maximum(i - 1, 0)], z[jnp.minimum(i + 1, n_in - 1)]
        probe = (c @ z[i] + g_col * (jnp.where(i > 0, z[i] - up, 0.0) + jnp.where(i < n_in - 1, z[i] - down, 0.0))
                 + jnp.where(i == n_in - 1, g_last, 0.0) * z[i])
        return jnp.concatenate([gt[i][:, None] * gv[i][None, :], probe[:, None]], axis=1)

    pivots, k_invs, k_inv_last, f_last, f_rows = _factor_scan(g, g_row, g_first, g_col, g_last, series_form, rhs=rhs,
                                                              columns=k + 1, keep=keep, keep_swept=k if swept else 0)
    b = k_inv_last @ f_last
    error = jnp.max(jnp.abs(b[:, k] - z[-1])) / jnp.max(jnp.abs(z[-1]))
    factors = _Factors(pivots, k_invs) if keep else None
    if swept:
        return b[:, :k], error, factors, f_rows, t
    return b[:, :k], error, factors


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _bottom_streamed(g, r_row, r_col, r_source, r_sense, v, series_form=None):
    """The last row's bit-line voltages ``(n_out, k)`` for inputs ``v`` (the currents are these over
    ``r_col + r_sense``) and the check's relative error, without storing the factors: the down
    sweep runs inside the factorisation's scan (memory ``O(n_out^2 + n_out k)`` instead of
    ``n_in n_out^2``, and the factors are neither written nor read again). Only the down sweep:
    half the per-input work of the full solve. Gradients: the forward pass keeps the factors and
    every row's swept right-hand side; the backward pass is :func:`_bottom_streamed_bwd`."""
    b_last, error, _ = _streamed(g, r_row, r_col, r_source, r_sense, v, keep=False, series_form=series_form)
    return b_last, error


def _bottom_streamed_fwd(g, r_row, r_col, r_source, r_sense, v, series_form=None):
    # The adjoint needs every node: the factors are kept, and so is every row's f'_i of the down
    # sweep inside the scan; the up sweep of the inputs waits for the backward pass, which runs it
    # together with the adjoint's (each K'_i^-1 read once for both).
    b_last, error, factors, f_rows, _ = _streamed(g, r_row, r_col, r_source, r_sense, v, keep=True, swept=True,
                                                  series_form=series_form)
    return (b_last, error), ((g, r_row, r_col, r_source, r_sense, v), f_rows, factors)


def _bottom_streamed_bwd(series_form, res, cts):
    """Adjoint of the last row's bit-line voltages: with the cotangent ``ct`` ``(n_out, k)`` of
    ``b_last``, ``A lam = P_last ct`` is zero above the last row, so its down sweep is the identity
    and its up sweep (``lam_last = K'_last^-1 ct``, ``lam_i = g_col K'_i^-1 lam_{i+1}``) runs with the
    inputs' own up sweep (``b_i = K'_i^-1 (f'_i + g_col b_{i+1})``) in one loop (each ``K'_i^-1``
    read once); word-line solves give both solutions' word-line voltages; then the parameter
    cotangents of :func:`_residual_cotangents`. (The check's error takes no gradient.)"""
    params, f_rows, factors = res
    g, r_row, r_col, r_source, r_sense, v = params
    ct_last = cts[0]
    g_row, g_first, g_col, _ = _conductances(r_row, r_col, r_source, r_sense)
    inverse = factors.inverse
    n_in = inverse.shape[0]

    def up(step, carry):
        b, lam_b, b_next, lam_next = carry  # b holds f'_i until row i is solved; zero below the last row
        i = n_in - 1 - step
        b_i = inverse[i] @ (b[i] + g_col * b_next)
        lam_i = inverse[i] @ jnp.where(i == n_in - 1, ct_last, g_col * lam_next)
        return b.at[i].set(b_i), lam_b.at[i].set(lam_i), b_i, lam_i

    zero = jnp.zeros_like(ct_last)
    b, lam_b, _, _ = jax.lax.fori_loop(0, n_in, up, (f_rows, jnp.zeros_like(f_rows), zero, zero))
    w = _word_solve(factors.pivots, g_row, (g[:, :, None] * b).at[:, 0].add(g_first * v))
    lam_w = _word_solve(factors.pivots, g_row, g[:, :, None] * lam_b)
    return _residual_cotangents(params, w, b, lam_w, lam_b)


_bottom_streamed.defvjp(_bottom_streamed_fwd, _bottom_streamed_bwd)


# ----------------------------------------------------------------------------------------------
# one-level nested dissection of wide tiles: column strips joined by word-line separator columns

class _NDFactors(NamedTuple):
    """Factors of the strip-and-separator elimination (:func:`_nd_factor`); ``s`` strips of ``w``
    columns, ``s - 1`` separator columns, the tile padded on the right to ``s (w + 1) - 1`` columns."""
    strip_pivots: Array  # (s, n_in, w): LDL^T pivots of every strip's word-line pieces
    strip_ends: Array  # (s, n_in, w, 2): T^-1 e_0 and T^-1 e_{w-1} of every piece
    strip_inverse: Array  # (s, n_in, w, w): K'^-1 of each strip's block Thomas sweep
    x_last: Array  # (s, w, 2 n_in): last bit-line row of each strip per unit boundary voltage
    sep_pivots: Array  # (s - 1, n_in): pivots of the separators' bit-line chains
    sep_last: Array  # (s - 1, n_in): D (T_col + D)^-1 e_last of each separator column
    sep_inverse: Array  # (s - 1, n_in, n_in): K_m^-1 of the separator block Thomas sweep
    sep_lower: Array  # (s - 1, n_in, n_in): M_{m-1,m}^T K_{m-1}^-1 (row 0: zero)
    sep_upper: Array  # (s - 1, n_in, n_in): M_{m,m+1} (last: zero)
    driven: Array  # (n_in, n_in): -N^(0)_{RL}, the first separator's right-hand side per unit input


def _nd_layout(n_out: int, width: int):
    """Strips ``s`` and the padded column count ``s (width + 1) - 1 >= n_out``."""
    s = -(-(n_out + 1) // (width + 1))
    return s, s * (width + 1) - 1


def _nd_split(a, s, width):
    """Columns (axis 1) of ``a`` ``(n_in, n_out, ...)``, padded with zeros, into strips
    ``(s, n_in, width, ...)`` and separators ``(s - 1, n_in, ...)``."""
    a = jnp.moveaxis(a, 1, 0)
    full = jnp.concatenate([a, jnp.zeros((s * (width + 1) - a.shape[0],) + a.shape[1:], a.dtype)], axis=0)
    blocks = full.reshape((s, width + 1) + a.shape[1:])
    return jnp.moveaxis(blocks[:, :width], 1, 2), blocks[:-1, width]


def _nd_join(strips, seps, n_out):
    """Inverse of :func:`_nd_split` on axis 1 of ``(s, n_in, width, k)`` / ``(s - 1, n_in, k)``:
    ``(n_in, n_out, k)``."""
    s, n_in, width, k = strips.shape
    seps = jnp.concatenate([seps, jnp.zeros((1, n_in, k), seps.dtype)], axis=0)
    blocks = jnp.concatenate([strips, seps[:, :, None]], axis=2)  # (s, n_in, width + 1, k)
    return jnp.moveaxis(blocks, 0, 1).reshape(n_in, s * (width + 1), k)[:, :n_out]


def _strip_factor(g_s, g_l, g_r, g_row, g_col, g_last, series_form):
    """One strip (``g_s`` ``(n_in, w)``, boundary conductances ``g_l``, ``g_r`` at its two ends):
    word-line pieces in closed form, block Thomas over its rows (blocks ``w x w``)."""
    n_in, w = g_s.shape
    j = jnp.arange(w)
    diag = g_s + jnp.where(j == 0, g_l, g_row) + jnp.where(j == w - 1, g_r, g_row)
    pivots = _chain_pivots(diag, g_row, axis=1)
    ratios = g_row / pivots
    zdiag = _chain_inverse_diagonal(pivots, g_row)
    ends = jnp.zeros((n_in, w, 2), g_s.dtype).at[:, 0, 0].set(1.0).at[:, -1, 1].set(1.0)
    t = _chain_solve(pivots, g_row, ends, axis=1)
    eye = jnp.eye(w, dtype=g_s.dtype)

    def step(carry, i):
        y_prev, k_inv_prev = carry
        c = _schur_row(g_s[i], ratios[i], zdiag[i])
        if series_form:
            y = _sym(c + g_col * (k_inv_prev @ y_prev))
        else:
            y = _sym(c + jnp.where(i > 0, 1.0, 0.0) * (g_col * eye - (g_col * g_col) * k_inv_prev))
        k_inv = _spd_inverse(y + jnp.where(i == n_in - 1, g_last, g_col) * eye)
        return (y, k_inv), k_inv

    zero = jnp.zeros((w, w), g_s.dtype)
    _, k_invs = jax.lax.scan(step, (zero, zero), jnp.arange(n_in))
    return pivots, t, k_invs


def _strip_sweeps(k_invs, g_col, f):
    """``A_B^-1 f`` of every strip: ``k_invs`` ``(s, n_in, w, w)``, ``f`` ``(s, n_in, w, k)``."""
    def down(f_prev, row):
        k_inv_prev, f_i = row
        f_i = f_i + g_col * (k_inv_prev @ f_prev)
        return f_i, f_i

    def up(b_next, row):
        k_inv, f_i = row
        b_i = k_inv @ (f_i + g_col * b_next)
        return b_i, b_i

    k_rows = jnp.moveaxis(k_invs, 1, 0)  # (n_in, s, w, w)
    f_rows = jnp.moveaxis(f, 1, 0)
    shifted = jnp.concatenate([jnp.zeros_like(k_rows[:1]), k_rows[:-1]], axis=0)
    _, swept = jax.lax.scan(down, jnp.zeros_like(f_rows[0]), (shifted, f_rows))
    _, b = jax.lax.scan(up, jnp.zeros_like(f_rows[0]), (k_rows, swept), reverse=True)
    return jnp.moveaxis(b, 0, 1)


def _strip_boundary_maps(k_invs, u, g_col, stages: int = 4):
    """Every strip's boundary map ``U^T A_B^-1 U`` ``(s, 2 n_in, 2 n_in)`` and the last bit-line
    row of ``A_B^-1 U`` ``(s, w, 2 n_in)`` (columns side-major: the left ends of rows ``0..n_in-1``,
    then the right ends), from the factors ``k_invs`` ``(s, n_in, w, w)`` of the block Thomas sweep
    and the word-line pieces' couplings ``u`` ``(s, n_in, w, 2)``, without a solve per boundary node.

    The inverse of the block-tridiagonal ``A_B`` (off-diagonal ``-g_col I``) has, for rows
    ``r < j``, ``A_B^-1[r, j] = R_r R_{r+1} ... R_{j-1} Z_j`` with ``R_l = g_col K'_l^-1`` (the up
    sweep of a right-hand side that is zero above row ``j``) and the diagonal blocks ``Z_j =
    K'_j^-1 + R_j Z_{j+1} R_j`` (``Z_last = K'_last^-1``; a sum of positive definite terms). One
    sweep down the rows carries ``Q_r = u_r^T R_r ... R_{j-1}`` for every row ``r <= j`` started so
    far (products of contractions, eigenvalues of ``R`` in (0, 1]: no growth), reads column ``j``
    of the map off as ``Q Z_j u_j`` and the last row as ``Q Z_last``; the rest by symmetry.
    ``2 n_in^2 w^2`` multiply-adds per strip for the sweep (rows not yet started are skipped in
    ``stages`` pieces: about ``(stages + 1) / (2 stages)`` of it), ``2 n_in w^3`` for ``Z``, where
    a solve per boundary node (down and up sweeps of ``2 n_in`` columns) costs ``4 n_in^2 w^2``."""
    s, n, w, _ = k_invs.shape
    k_rows = jnp.moveaxis(k_invs, 1, 0)  # (n, s, w, w)
    u_rows = jnp.moveaxis(u, 1, 0)  # (n, s, w, 2)

    def z_step(z_next, k_inv):
        z = _sym(k_inv + (g_col * g_col) * (k_inv @ z_next @ k_inv))
        return z, z

    _, z_rest = jax.lax.scan(z_step, k_rows[-1], k_rows[:-1], reverse=True)
    c = jnp.concatenate([z_rest, k_rows[-1:]], axis=0) @ u_rows  # (n, s, w, 2): Z_j u_j
    r_rows = (g_col * k_rows).at[-1].set(jnp.eye(w, dtype=k_invs.dtype))  # the last: Q stays for Q Z_last
    ut_rows = jnp.swapaxes(u_rows, -1, -2)  # (n, s, 2, w)

    upper = jnp.zeros((s, n, 2, n, 2), k_invs.dtype)  # [r, a, j, b] = u_{r,a}^T A_B^-1[r, j] u_{j,b}, r <= j
    q = jnp.zeros((s, 0, w), k_invs.dtype)  # rows (r, a) started so far
    bounds = sorted({-(-n * t // stages) for t in range(stages + 1)})
    for j0, j1 in zip(bounds[:-1], bounds[1:]):
        q = jnp.concatenate([q, jnp.zeros((s, 2 * (j1 - j0), w), q.dtype)], axis=1)

        def step(q, row):
            j, ut_j, c_j, r_j = row
            q = jax.lax.dynamic_update_slice_in_dim(q, ut_j, 2 * j, axis=1)
            return q @ r_j, (q @ c_j).reshape(s, j1, 2, 2)

        q, cols = jax.lax.scan(step, q, (jnp.arange(j0, j1), ut_rows[j0:j1], c[j0:j1], r_rows[j0:j1]))
        upper = upper.at[:, :j1, :, j0:j1].set(jnp.transpose(cols, (1, 2, 3, 0, 4)))
    r, j = jnp.arange(n)[:, None, None, None], jnp.arange(n)[None, None, :, None]
    full = jnp.where(r <= j, upper, jnp.transpose(upper, (0, 3, 4, 1, 2)))
    bmap = jnp.transpose(full, (0, 2, 1, 4, 3)).reshape(s, 2 * n, 2 * n)
    last = jnp.swapaxes(q @ k_rows[-1], 1, 2).reshape(s, w, n, 2)  # (Q Z_last)^T, columns (r, a)
    return bmap, jnp.swapaxes(last, 2, 3).reshape(s, w, 2 * n)


# Strip width, and the tiles that take the strips (float64, at least _ND_MIN_OUT outputs, the
# strips' boundary maps and the separators' factors within _ND_MAX_NUMBERS numbers; measured
# faster at 256 x 256 with a batch of 200, forward and forward + backward: docs/crossbar.md).
_ND_WIDTH = 32
_ND_MIN_OUT = 256
_ND_MAX_NUMBERS = 2 ** 24


def _use_nd(g) -> bool:
    n_in, n_out = g.shape
    s, _ = _nd_layout(n_out, _ND_WIDTH)
    return (jnp.finfo(g.dtype).bits >= 64 and n_out >= _ND_MIN_OUT
            and (4 * s + 3 * (s - 1)) * n_in * n_in <= _ND_MAX_NUMBERS)


def _nd_factor(g, g_row, g_first, g_col, g_last, width, series_form=None):
    n_in, n_out = g.shape
    if series_form is None:
        series_form = jnp.finfo(g.dtype).bits < 64
    s, _ = _nd_layout(n_out, width)
    g_strips, g_seps = _nd_split(g, s, width)  # (s, n_in, w), (s - 1, n_in)
    m = jnp.arange(s)
    g_l = jnp.where(m == 0, g_first, g_row)
    g_r = jnp.where(m == s - 1, 0.0, g_row)
    pivots, t, k_invs = jax.vmap(_strip_factor, in_axes=(0, 0, 0, None, None, None, None))(
        g_strips, g_l, g_r, g_row, g_col, g_last, series_form)
    u = g_strips[..., None] * t  # (s, n_in, w, 2): u^L, u^R of every word-line piece
    gb = jnp.stack([g_l, g_r], axis=1)  # (s, 2)

    # The strips' boundary maps U^T A_B^-1 U and the last bit-line row A_B^-1[last] U from the
    # factors, without a solve per boundary node (:func:`_strip_boundary_maps`).
    bmap, b_last = _strip_boundary_maps(k_invs, u, g_col)
    gbv = jnp.repeat(gb, n_in, axis=1)  # (s, 2 n_in)
    q = bmap * gbv[:, None, :]
    x_last = b_last * gbv[:, None, :]
    # Dirichlet-to-Neumann map of every strip: N = G_b - G_b T_b G_b - G_b U^T A_B^-1 U G_b.
    t0, t1 = t[:, :, 0], t[:, :, -1]  # (s, n_in, 2): T^-1 e_0 / e_{w-1} at the two ends
    eye_n = jnp.eye(n_in, dtype=g.dtype)
    tb = jnp.concatenate([jnp.concatenate([t0[..., 0, None] * eye_n, t0[..., 1, None] * eye_n], axis=2),
                          jnp.concatenate([t1[..., 0, None] * eye_n, t1[..., 1, None] * eye_n], axis=2)], axis=1)
    dtn = _sym(gbv[:, :, None] * (jnp.eye(2 * n_in, dtype=g.dtype) - tb * gbv[:, None, :] - q))
    # Separator columns: their bit lines (open top, sense amplifier below) eliminated in closed form.
    i = jnp.arange(n_in)
    col_diag = g_seps + jnp.where(i > 0, g_col, 0.0) + jnp.where(i < n_in - 1, g_col, g_last)
    sep_pivots = _chain_pivots(col_diag, g_col, axis=1)
    sep_ratios = g_col / sep_pivots
    sep_z = _chain_inverse_diagonal(sep_pivots, g_col)
    c_col = jax.vmap(_schur_row)(g_seps, sep_ratios, sep_z)  # (s - 1, n_in, n_in)
    e_last = jnp.zeros((s - 1, n_in, 1), g.dtype).at[:, -1].set(1.0)
    sep_last = g_seps * _chain_solve(sep_pivots, g_col, e_last, axis=1)[..., 0]
    # The separators' block-tridiagonal system: diagonal N^(m)_RR + N^(m+1)_LL + C_col, coupling N^(m+1)_LR.
    diag_m = dtn[:-1, n_in:, n_in:] + dtn[1:, :n_in, :n_in] + c_col
    upper = dtn[1:, :n_in, n_in:]  # M_{m,m+1}; the last one couples to nothing
    upper = upper.at[-1].set(0.0)

    def sep_step(carry, row):
        k_inv_prev, upper_prev = carry
        d, up_m = row
        lower = upper_prev.T @ k_inv_prev  # M_{m-1,m}^T K_{m-1}^-1 (zero at m = 0)
        k_inv = _spd_inverse(_sym(d - lower @ upper_prev))
        return (k_inv, up_m), (k_inv, lower)

    zero = jnp.zeros((n_in, n_in), g.dtype)
    _, (sep_inverse, sep_lower) = jax.lax.scan(sep_step, (zero, zero), (diag_m, upper))
    return _NDFactors(pivots, t, k_invs, x_last, sep_pivots, sep_last, sep_inverse, sep_lower, upper,
                      -dtn[0, n_in:, :n_in])


def _nd_separators(f, factors: _NDFactors):
    """Separator voltages ``(s - 1, n_in, k)`` for separator right-hand sides ``f`` (same shape)."""
    def down(f_prev, row):
        lower, f_m = row
        f_m = f_m - lower @ f_prev
        return f_m, f_m

    def up(phi_next, row):
        k_inv, up_m, f_m = row
        phi = k_inv @ (f_m - up_m @ phi_next)
        return phi, phi

    _, swept = jax.lax.scan(down, jnp.zeros_like(f[0]), (factors.sep_lower, f))
    _, phi = jax.lax.scan(up, jnp.zeros_like(f[0]), (factors.sep_inverse, factors.sep_upper, swept), reverse=True)
    return phi


def _nd_bottom(factors: _NDFactors, g_first, v, n_out):
    """Last-row bit-line voltages ``(n_out, k)`` for driver inputs ``v`` ``(n_in, k)``, and the
    separators' voltages ``(s - 1, n_in, k)``."""
    s, n_in, width, _ = factors.strip_ends.shape
    f = jnp.zeros((s - 1, n_in, v.shape[1]), v.dtype).at[0].set(factors.driven @ v)
    phi = _nd_separators(f, factors)  # (s - 1, n_in, k)
    zero = jnp.zeros_like(v)[None]
    left = jnp.concatenate([v[None], phi], axis=0)  # (s, n_in, k): v, phi_0, ..., phi_{s-2}
    right = jnp.concatenate([phi, zero], axis=0)
    bound = jnp.concatenate([left, right], axis=1)  # (s, 2 n_in, k)
    strips = factors.x_last @ bound  # (s, w, k)
    seps = jnp.einsum("mi,mik->mk", factors.sep_last, phi)
    return _nd_join(strips[:, None], seps[:, None], n_out)[0], phi


def _nd_fields(factors: _NDFactors, g, g_row, g_first, g_col, v, ct):
    """Every node voltage for the driver inputs ``v`` ``(n_in, k)`` and for a current ``ct``
    ``(n_out, k)`` entering the last bit-line row (the adjoint of the currents), in one pass:
    ``(w, b)`` ``(n_in, n_out, 2 k)``, the inputs' solutions first. The separators' right-hand sides
    come from the factors (``driven`` for the inputs, ``X_last^T ct`` by symmetry for the
    adjoint), then one sweep of every strip with its boundary voltages known."""
    n_in, n_out = g.shape
    k = v.shape[1]
    s, _, width, _ = factors.strip_ends.shape
    g_s, g_p = _nd_split(g, s, width)  # (s, n_in, w), (s - 1, n_in)
    ct_s, ct_p = _nd_split(ct[None], s, width)
    ct_s, ct_p = ct_s[:, 0], ct_p[:, 0]  # (s, w, k), (s - 1, k)
    q = jnp.einsum("swc,swk->sck", factors.x_last, ct_s)  # g_b W at every strip's ends, zero boundary
    f_adj = q[:-1, n_in:] + q[1:, :n_in] + factors.sep_last[..., None] * ct_p[:, None, :]
    f_in = jnp.zeros_like(f_adj).at[0].set(factors.driven @ v)
    phi = _nd_separators(jnp.concatenate([f_in, f_adj], axis=2), factors)  # (s - 1, n_in, 2 k)
    m = jnp.arange(s)
    g_l = jnp.where(m == 0, g_first, g_row)[:, None, None]
    g_r = jnp.where(m == s - 1, 0.0, g_row)[:, None, None]
    driver = jnp.concatenate([v, jnp.zeros_like(v)], axis=1)[None]
    zero = jnp.zeros_like(phi[:1])
    left = jnp.concatenate([driver, phi], axis=0) * g_l  # (s, n_in, 2 k): g_L phi_L of every strip
    right = jnp.concatenate([phi, zero], axis=0) * g_r
    t = factors.strip_ends
    u = g_s[..., None] * t  # (s, n_in, w, 2)
    f_b = (u[..., 0:1] * left[:, :, None] + u[..., 1:2] * right[:, :, None]).at[:, -1, :, k:].add(ct_s)
    b_s = _strip_sweeps(factors.strip_inverse, g_col, f_b)
    w_s = (t[..., 0:1] * left[:, :, None] + t[..., 1:2] * right[:, :, None]
           + _word_solve(factors.strip_pivots.reshape(s * n_in, width), g_row,
                         (g_s[..., None] * b_s).reshape(s * n_in, width, 2 * k)).reshape(b_s.shape))
    rb_p = jnp.zeros_like(phi).at[:, -1, k:].set(ct_p)
    b_p = _chain_solve(factors.sep_pivots, g_col, rb_p + g_p[..., None] * phi, axis=1)
    return _nd_join(w_s, phi, n_out), _nd_join(b_s, b_p, n_out)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _bottom_nd(g, r_row, r_col, r_source, r_sense, v, width):
    """As :func:`_bottom_streamed`, by nested dissection (strips of ``width`` columns); the error is
    the KCL residual of the batch's summed input solved with the same factors."""
    return _bottom_nd_fwd(g, r_row, r_col, r_source, r_sense, v, width)[0]


def _bottom_nd_fwd(g, r_row, r_col, r_source, r_sense, v, width):
    n_in, n_out = g.shape
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    factors = _nd_factor(g, g_row, g_first, g_col, g_last, width)
    b_last, phi = _nd_bottom(factors, g_first, v, n_out)
    # check: the summed input, every node, its KCL residual over the inputs' summed current scales
    v_sum = jnp.sum(v, axis=1, keepdims=True)
    w, b = _nd_fields(factors, g, g_row, g_first, g_col, v_sum, jnp.zeros((n_out, 1), g.dtype))
    w, b = w[..., :1], b[..., :1]
    res_w, res_b = _residual((g, r_row, r_col, r_source, r_sense, v_sum), w, b)
    scale = jnp.sum(jnp.maximum(g_first, jnp.max(g)) * jnp.max(jnp.abs(v), axis=0))
    error = jnp.maximum(jnp.max(jnp.abs(res_w)), jnp.max(jnp.abs(res_b))) / jnp.where(scale > 0, scale, 1.0)
    return (b_last, jax.lax.stop_gradient(error)), ((g, r_row, r_col, r_source, r_sense, v), factors, phi)


def _bottom_nd_bwd(width, res, cts):
    """Adjoint of the last row's bit-line voltages: the adjoint's separator voltages with the
    forward's factors (``A`` is symmetric; the inputs' are kept from the forward), then
    :func:`_nd_cotangents`, which sweeps the strips for both and reduces as it goes."""
    params, factors, phi = res
    return _nd_cotangents(factors, params, phi, cts[0])


# The gradients' solves take their right-hand sides' columns in chunks whose down-swept right-hand
# side (stored for the up sweep) holds at most this many numbers: 128 MiB in float64 (256 x 256,
# batch 200: two chunks of 100; the linear map's adjoint at 784 x 100: one). XLA's temporaries are
# fresh memory at every call, and first touching them costs ~2 us per 4 KiB page: the whole batch at
# once (~400 MiB) spent more in page faults than smaller chunks save in loop steps, and smaller
# chunks spend more in loop steps than they save (fwd+bwd CPU, 256 x 256: 0.74 / 0.64 / 0.69 s at
# 1 / 2 / 4 chunks; 784 x 100: 0.55 / 0.59 / 0.61 / 0.72 s at 1 / 2 / 4 / 8; docs/crossbar.md).
_CHUNK_NUMBERS = 2 ** 24


def _column_chunks(k: int, per_column: int) -> tuple[int, int]:
    """``(n_chunks, size)``: ``k`` columns in ``n_chunks`` chunks of ``size`` columns (``n_chunks
    size >= k``), each chunk's ``per_column * size`` numbers within :data:`_CHUNK_NUMBERS`."""
    n_chunks = -(-k // max(1, _CHUNK_NUMBERS // per_column))
    return n_chunks, -(-k // n_chunks)


def _nd_cotangents(factors: _NDFactors, params, phi_in, ct):
    """:func:`_residual_cotangents` of the inputs' solution ``x`` (driver inputs ``v`` ``(n_in, k)``,
    separator voltages ``phi_in`` ``(s - 1, n_in, k)``) and the adjoint ``lam`` of a current ``ct``
    ``(n_out, k)`` entering the last bit-line row, without forming either's node voltages as arrays.

    The adjoint's separator voltages come from the factors (their right-hand side ``X_last^T ct`` by
    symmetry); then, a chunk of the batch's columns at a time (:func:`_column_chunks`), every
    strip's down sweep (stored) and one up sweep that, row by row, solves the bit lines
    (``K'_i^-1``) and the word-line pieces (their dense inverse, a ``w x w`` product batched over
    the strips, in place of a chain solve per row) and reduces every term of the residual
    cotangents that lives in that row: the cells' products, the word-line neighbours, the bit-line
    neighbours with the row below. What crosses the strips (the links to the separators, the
    driver, the separators' own bit lines) is reduced after it, from each strip's end columns.
    The padded columns of the last strip are masked out."""
    g, r_row, r_col, r_source, r_sense, v = params
    n_in, n_out = g.shape
    k = v.shape[1]
    s, _, width, _ = factors.strip_ends.shape
    g_row, g_first, g_col, _ = _conductances(r_row, r_col, r_source, r_sense)
    g_s, g_p = _nd_split(g, s, width)  # (s, n_in, w), (s - 1, n_in)
    ct_s, ct_p = _nd_split(ct[None], s, width)
    ct_s, ct_p = ct_s[:, 0], ct_p[:, 0]  # (s, w, k), (s - 1, k)
    q = jnp.einsum("swc,swk->sck", factors.x_last, ct_s)  # g_b W at every strip's ends, zero boundary
    f_adj = q[:-1, n_in:] + q[1:, :n_in] + factors.sep_last[..., None] * ct_p[:, None, :]
    phi = jnp.stack([phi_in, _nd_separators(f_adj, factors)], axis=2)  # (s - 1, n_in, 2, k): x, lam
    m = jnp.arange(s)
    g_l = jnp.where(m == 0, g_first, g_row)[:, None, None, None]
    g_r = jnp.where(m == s - 1, 0.0, g_row)[:, None, None, None]
    driver = jnp.stack([v, jnp.zeros_like(v)], axis=1)[None]
    zero = jnp.zeros_like(phi[:1])
    left = jnp.concatenate([driver, phi], axis=0) * g_l  # (s, n_in, 2, k): g_L phi_L of every strip
    right = jnp.concatenate([phi, zero], axis=0) * g_r
    ct_full = jnp.stack([jnp.zeros_like(ct_s), ct_s], axis=2)  # (s, w, 2, k): enters the last row
    t = factors.strip_ends  # (s, n_in, w, 2)
    pivots = factors.strip_pivots.reshape(s * n_in, width)
    t_inv = _chain_inverse(g_row / pivots, _chain_inverse_diagonal(pivots, g_row))
    # every strip's row i at index i (the scans' axis)
    rows = functools.partial(jnp.moveaxis, source=1, destination=0)
    k_rows, u_rows, t_rows, g_rows = (rows(a) for a in (factors.strip_inverse, g_s[..., None] * t, t, g_s))
    t_inv = rows(t_inv.reshape(s, n_in, width, width))
    shifted = jnp.concatenate([jnp.zeros_like(k_rows[:1]), k_rows[:-1]], axis=0)
    # word-line neighbour pairs (j, j + 1) inside a strip that are both real columns
    col = m[:, None] * (width + 1) + jnp.arange(width)[None, :]
    pair_mask = (col[:, 1:] < n_out)[..., None, None]  # (s, w - 1, 1, 1)

    def boundary(u_i, l_i, r_i):  # (s, w, 2, c): the boundary voltages' drive of one row
        return u_i[..., 0, None, None] * l_i[:, None] + u_i[..., 1, None, None] * r_i[:, None]

    def products(a, b):  # sum over the pairs of lam * x
        return jnp.sum(a[..., 1, :] * b[..., 0, :])

    def chunk(columns):
        l_rows, r_rows, ct_c = columns  # (n_in, s, 2, c), (n_in, s, 2, c), (s, w, 2, c)

        def down(f_prev, row):
            k_inv_prev, u_i, l_i, r_i = row
            f_i = boundary(u_i, l_i, r_i) + g_col * jnp.einsum("sij,sjxc->sixc", k_inv_prev, f_prev)
            return f_i, f_i

        _, swept = jax.lax.scan(down, jnp.zeros_like(ct_c), (shifted, u_rows, l_rows, r_rows))

        def up(b_next, row):
            i, k_inv, f_i, t_inv_i, t_i, l_i, r_i, g_i = row
            last = i == n_in - 1
            b_i = jnp.einsum("sij,sjxc->sixc", k_inv, f_i + g_col * b_next + jnp.where(last, 1.0, 0.0) * ct_c)
            w_i = boundary(t_i, l_i, r_i) + jnp.einsum("sij,sjxc->sixc", t_inv_i, g_i[..., None, None] * b_i)
            cell = w_i - b_i
            d_w = w_i[:, :-1] - w_i[:, 1:]
            d_b = b_i - b_next
            sums = jnp.stack([products(jnp.where(pair_mask, d_w, 0.0), d_w), jnp.where(last, 0.0, products(d_b, d_b)),
                              jnp.where(last, products(b_i, b_i), 0.0)])
            return b_i, (-jnp.sum(cell[..., 1, :] * cell[..., 0, :], axis=-1), sums, w_i[:, (0, -1)])

        _, (d_g_c, sums, ends) = jax.lax.scan(
            up, jnp.zeros_like(ct_c), (jnp.arange(n_in), k_rows, swept, t_inv, t_rows, l_rows, r_rows, g_rows),
            reverse=True)
        return d_g_c, jnp.sum(sums, axis=0), ends

    n_chunks, size = _column_chunks(k, 2 * n_in * s * width)

    def chunked(a):  # (..., 2, k) -> (n_chunks, ..., 2, size), zero columns padded (they add nothing)
        a = jnp.concatenate([a, jnp.zeros(a.shape[:-1] + (n_chunks * size - k,), a.dtype)], axis=-1)
        return jnp.moveaxis(a.reshape(a.shape[:-1] + (n_chunks, size)), -2, 0)

    d_g_s, sums, ends = jax.lax.map(chunk, (chunked(rows(left)), chunked(rows(right)), chunked(ct_full)))
    d_g_s = jnp.sum(d_g_s, axis=0)  # (n_in, s, w)
    row_pairs, col_pairs, last_row = jnp.sum(sums, axis=0)
    ends = jnp.moveaxis(ends, 0, -2).reshape(ends.shape[1:-1] + (n_chunks * size,))[..., :k]  # (n_in, s, 2, 2, k)
    # the separators: word-line nodes phi, their own bit lines in closed form
    rb_p = jnp.zeros_like(phi).at[:, -1, 1].set(ct_p)
    b_p = _chain_solve(factors.sep_pivots, g_col, (rb_p + g_p[..., None, None] * phi).reshape(s - 1, n_in, 2 * k),
                       axis=1).reshape(phi.shape)  # (s - 1, n_in, 2, k)
    cell_p = phi - b_p
    d_g_p = -jnp.sum(cell_p[..., 1, :] * cell_p[..., 0, :], axis=-1)  # (s - 1, n_in)
    d_bp = b_p[:, :-1] - b_p[:, 1:]
    col_pairs = col_pairs + products(d_bp, d_bp)
    last_row = last_row + products(b_p[:, -1], b_p[:, -1])
    # word-line links across the strips' ends: strip m's last column - separator m - strip m + 1's first
    first, end = jnp.moveaxis(ends[:, :, 0], 1, 0), jnp.moveaxis(ends[:, :, 1], 1, 0)  # (s, n_in, 2, k)
    to_sep = end[:-1] - phi
    from_sep = jnp.where((col[1:, 0] < n_out)[:, None, None, None], phi - first[1:], 0.0)
    row_pairs = row_pairs + products(to_sep, to_sep) + products(from_sep, from_sep)
    w_0 = first[0]  # (n_in, 2, k): the first node of every word line
    d_g_first = -jnp.sum(w_0[:, 1] * (w_0[:, 0] - v))
    d_v = g_first * w_0[:, 1]
    d_g = _nd_join(jnp.moveaxis(d_g_s, 0, 1)[..., None], d_g_p[..., None], n_out)[..., 0]
    return _wire_cotangents(params, d_g, -row_pairs, d_g_first, -col_pairs, -last_row, d_v)


_bottom_nd.defvjp(_bottom_nd_fwd, _bottom_nd_bwd)


def _sweep_down(inverse, g_col, f: Float[Array, "n_in n_out k"], extra=None) -> Float[Array, "n_in n_out k"]:
    """First half of block Thomas on the bit-line system: ``f'_i = f_i + g_col K'_{i-1}^-1
    f'_{i-1}`` (row 0: ``f'_0 = f_0``), in place in ``f``. ``extra(i)`` ``(n_out, k)`` is added to
    row ``i`` of ``f``, for right-hand sides cheaper to build row by row than to store."""
    def down(i, carry):
        buf, f_prev = carry
        f_i = buf[i] if extra is None else buf[i] + extra(i)  # row i still holds f_i
        f_i = f_i + g_col * (inverse[jnp.maximum(i - 1, 0)] @ f_prev)  # f_prev = 0 at row 0
        return buf.at[i].set(f_i), f_i

    buf, _ = jax.lax.fori_loop(0, inverse.shape[0], down, (f, jnp.zeros_like(f[0])))
    return buf


def _sweep_up(inverse, g_col, f_swept: Float[Array, "n_in n_out k"]) -> Float[Array, "n_in n_out k"]:
    """Second half: ``b_i = K'_i^-1 (f'_i + g_col b_{i+1})`` from the last row up, in place."""
    n_in = inverse.shape[0]

    def up(step, carry):
        buf, b_next = carry
        i = n_in - 1 - step
        b_i = inverse[i] @ (buf[i] + g_col * b_next)  # b_next = 0 below the last row
        return buf.at[i].set(b_i), b_i

    buf, _ = jax.lax.fori_loop(0, n_in, up, (f_swept, jnp.zeros_like(f_swept[0])))
    return buf


def _bit_sweeps(inverse, g_col, f, extra=None):
    """Bit-line voltages ``b`` ``(n_in, n_out, k)`` for the bit-line right-hand side ``f``."""
    return _sweep_up(inverse, g_col, _sweep_down(inverse, g_col, f, extra))


def _first_columns(factors, g, g_row):
    """``t_i = (T_i + D_i)^-1 e_0`` ``(n_in, n_out)``: the drivers feed only the first node of each
    word line, so ``(T_i + D_i)^-1`` of the driven right-hand side is ``t_i`` times the input."""
    n_in, n_out = g.shape
    e0 = jnp.zeros((n_in, n_out, 1), dtype=g.dtype).at[:, 0].set(1.0)
    return _word_solve(factors.pivots, g_row, e0)[..., 0]


def _driven_solve(factors, g, g_row, g_first, g_col, v, with_last=False, t=None):
    """Node voltages ``(w, b)`` for the drivers' inputs ``v`` ``(n_in, k)`` (right-hand side
    ``g_first v`` at the first node of each word line); ``with_last``: also ``f'_last``; ``t``:
    :func:`_first_columns`, if the caller has them."""
    n_in, n_out = g.shape
    t = _first_columns(factors, g, g_row) if t is None else t
    gv, gt = g_first * v, g * t
    f_swept = _sweep_down(factors.inverse, g_col, jnp.zeros((n_in, n_out, v.shape[1]), dtype=g.dtype),
                          lambda i: gt[i][:, None] * gv[i][None, :])
    f_last = f_swept[-1]
    b = _sweep_up(factors.inverse, g_col, f_swept)
    # the drivers' current enters the word lines' right-hand side (solved in place: no second array)
    w = _word_solve(factors.pivots, g_row, (g[:, :, None] * b).at[:, 0].add(gv))
    return (w, b, f_last) if with_last else (w, b)


def _adjoint_solve(factors, g, g_row, g_col, ct_w, ct_b, last_row_only=False):
    """``A [lam_w; lam_b] = [ct_w; ct_b]`` with the forward's factors (``A`` is symmetric).
    ``ct_w`` may be ``None`` or a symbolic zero (only bit-line voltages were used), which saves a
    word-line solve; ``last_row_only``: ``ct_b`` is zero above its last row (only the currents were used),
    which saves the down sweep."""
    if ct_w is None or isinstance(ct_w, SymbolicZero):
        ct_w = None
        f = ct_b
    else:
        f = ct_b + g[:, :, None] * _word_solve(factors.pivots, g_row, ct_w)
    if last_row_only:
        # A right-hand side that is zero above the last row passes the down sweep unchanged.
        lam_b = _sweep_up(factors.inverse, g_col, f)
    else:
        lam_b = _bit_sweeps(factors.inverse, g_col, f)
    rhs = g[:, :, None] * lam_b
    if ct_w is not None:
        rhs = rhs + ct_w
    return _word_solve(factors.pivots, g_row, rhs), lam_b


def _up_from_last(inverse, g_col, f_last: Float[Array, "n_out k"]) -> Float[Array, "n_in n_out k"]:
    """Bit-line voltages ``(n_in, n_out, k)`` for a right-hand side that is zero above the last row
    (``f_last`` in it): the down sweep leaves it unchanged, and the up sweep is
    ``b_last = K'_last^-1 f_last``, ``b_i = g_col K'_i^-1 b_{i+1}``, written in place into one
    buffer (no stacked copy of the rows)."""
    n_in = inverse.shape[0]
    b_last = inverse[-1] @ f_last

    def up(step, carry):
        buf, b_next = carry
        i = n_in - 2 - step
        b_i = g_col * (inverse[i] @ b_next)
        return buf.at[i].set(b_i), b_i

    buf = jnp.zeros((n_in,) + b_last.shape, b_last.dtype).at[-1].set(b_last)
    return jax.lax.fori_loop(0, n_in - 1, up, (buf, b_last))[0]


@jax.custom_vjp
def _nodes_general(g, r_row, r_col, r_source, r_sense, v):
    w, b, _ = _nodes_general_fwd_impl(g, r_row, r_col, r_source, r_sense, v)
    return w, b


def _nodes_general_fwd_impl(g, r_row, r_col, r_source, r_sense, v):
    g_row, g_first, g_col, g_last = _conductances(r_row, r_col, r_source, r_sense)
    factors = _factor(g, g_row, g_first, g_col, g_last)
    w, b = _driven_solve(factors, g, g_row, g_first, g_col, v)
    return w, b, factors


def _nodes_general_fwd(g, r_row, r_col, r_source, r_sense, v):
    # symbolic_zeros=True: the primals come wrapped (value, perturbed).
    primals = tuple(p.value for p in (g, r_row, r_col, r_source, r_sense, v))
    w, b, factors = _nodes_general_fwd_impl(*primals)
    return (w, b), (primals, w, b, factors)


def _nodes_general_bwd(res, cotangents):
    params, w, b, factors = res
    g, r_row, r_col, r_source, r_sense, v = params
    ct_w, ct_b = cotangents
    if isinstance(ct_b, SymbolicZero):
        ct_b = jnp.zeros_like(b)
    g_row, _, g_col, _ = _conductances(r_row, r_col, r_source, r_sense)
    # Adjoint: A lam = cotangent (one more solve with the forward's factors), then
    # d/dp = -lam^T d(A x - rhs)/dp from the matrix-free residual.
    lam_w, lam_b = _adjoint_solve(factors, g, g_row, g_col, ct_w, ct_b)
    return _residual_cotangents(params, w, b, lam_w, lam_b)


_nodes_general.defvjp(_nodes_general_fwd, _nodes_general_bwd, symbolic_zeros=True)


def _transfer_rows(factors, g, g_row, g_first, g_col):
    """Rows of :func:`_bottom_matrix` (``X`` is carried row to row, not kept)."""
    n_in = g.shape[0]
    u = g * _first_columns(factors, g, g_row)  # u_i = D_i (T_i + D_i)^-1 e_0

    def up(x_next, row):
        # every row an output of the scan, the last one too (no concatenated copy of the rows)
        i, k_inv, u_i = row
        x_i = jnp.where(i == n_in - 1, k_inv, g_col * (k_inv @ x_next))
        return x_i, u_i @ x_i

    _, rows = jax.lax.scan(up, jnp.zeros_like(factors.inverse[0]), (jnp.arange(n_in), factors.inverse, u),
                           reverse=True)
    return g_first * rows


@jax.custom_vjp
def _bottom_matrix(factors, g, r_row, r_col, r_source, r_sense):
    """The matrix ``m`` ``(n_in, n_out)`` with last-row bit-line voltages ``b_last = m^T v`` for
    every input ``v`` (the currents are these over ``r_col + r_sense``), with the factors of ``g``
    and the wires computed by the caller.

    ``A`` is symmetric, so ``m_ij = g_first (A^-1)[(w, i, 0), (b, last, j)]`` is the first
    word-line node of row ``i`` when a unit current enters bit line ``j`` at its last node:
    ``X = A^-1 P_last`` has a right-hand side that is zero above the last row, so only the up
    sweep runs (``X_last = K'_last^-1``, ``X_i = g_col K'_i^-1 X_{i+1}``, ``2 n_out^3`` flops per row)
    and ``m_i = g_first u_i^T X_i`` with ``u_i = D_i (T_i + D_i)^-1 e_0``. Cheaper than the batch's
    down sweep (``2 n_out^2 k`` per row) once the batch ``k`` exceeds ``n_out``; the inputs then
    cost one product ``v^T m``.

    Gradients: with the cotangent ``m_bar``, ``dL/dp = -sum_j X_j^T d(A Lam_j - g_first P_0
    m_bar_j)/dp`` where ``Lam = A^-1 (g_first P_0 m_bar)`` is one driven solve with ``m_bar``'s
    ``n_out`` columns as inputs (the adjoint with the columns of the outputs instead of the
    batch's inputs: ``n_out`` right-hand sides, not ``k``), reduced row by row
    (:func:`_bottom_matrix_bwd`).
    """
    g_row, g_first, g_col, _ = _conductances(r_row, r_col, r_source, r_sense)
    return _transfer_rows(factors, g, g_row, g_first, g_col)


def _bottom_matrix_fwd(factors, g, r_row, r_col, r_source, r_sense):
    # Only the factors are kept: the backward's up sweep recomputes X in the same products as
    # the adjoint's (writing X's n_in n_out^2 numbers here cost more than that).
    return _bottom_matrix(factors, g, r_row, r_col, r_source, r_sense), (factors, g, r_row, r_col, r_source, r_sense)


def _bottom_matrix_bwd(res, ct_m):
    """Adjoint of the map, row by row: ``Lam = A^-1 (g_first P_0 m_bar)`` (the bit lines' down
    sweep stored, then one up sweep) and, in that up sweep, each row's terms of the parameter
    cotangents of the pairs ``(Lam_j, X_j)`` (:func:`_residual_sums`), no node field formed.

    A row's word lines need no chain solve: with ``S = T + D`` (the word line, its wires ``T`` and
    cells ``D``), the cell voltages are ``w - b = S^-1 (rhs_w - T b)`` (``S w = D b + rhs_w``), one
    product with the word line's dense inverse (closed form, :func:`_chain_inverse`) for both
    solutions' columns at once. Every row's products are ``n_out x n_out`` matrix products (the
    fast part of a CPU here), where solving the word lines of all rows as ``(n_in, n_out, n_out)``
    fields and reducing them afterwards read and wrote those arrays many times over. A chunk of
    the ``n_out`` columns at a time (:func:`_column_chunks`): every term is a sum over the pairs."""
    factors, g, r_row, r_col, r_source, r_sense = res
    n_in, n_out = g.shape
    g_row, g_first, g_col, _ = _conductances(r_row, r_col, r_source, r_sense)
    inverse = factors.inverse
    gt = g * _first_columns(factors, g, g_row)  # u_i = D_i (T_i + D_i)^-1 e_0
    ratios = g_row / factors.pivots
    zdiag = _chain_inverse_diagonal(factors.pivots, g_row)
    n_chunks, size = _column_chunks(n_out, n_in * n_out)
    e0 = (jnp.arange(n_out) == 0).astype(g.dtype)[:, None]

    def chunk(c):
        # The last chunk may start early (it overlaps the one before): its columns of earlier
        # chunks get a zero cotangent, so a zero Lam, and add nothing (every term is bilinear).
        start = jnp.minimum(c * size, n_out - size)
        own = start + jnp.arange(size) >= c * size
        ct_c = jnp.where(own, jax.lax.dynamic_slice_in_dim(ct_m, start, size, axis=1), 0.0)  # (n_in, size)
        gv = g_first * ct_c

        def down(f_prev, i):  # f'_i = f_i + g_col K'_{i-1}^-1 f'_{i-1} (f'_{-1} = 0)
            f_i = gt[i][:, None] * gv[i][None, :] + g_col * (inverse[jnp.maximum(i - 1, 0)] @ f_prev)
            return f_i, f_i

        _, swept = jax.lax.scan(down, jnp.zeros((n_out, size), g.dtype), jnp.arange(n_in))

        def up(carry, i):
            # lam_i = K'_i^-1 (f'_i + g_col lam_{i+1}) and X_i = K'_i^-1 y_{i+1} in one product, with
            # y = g_col X_{i+1} (the last row: y = the identity's columns, X_last = K'_last^-1)
            lam_next, x_next, y_next, sums = carry  # lam, x: zero below the last row
            last = i == n_in - 1
            both = inverse[i] @ jnp.concatenate([swept[i] + g_col * lam_next, y_next], axis=1)
            lam_i, x_i = both[:, :size], both[:, size:]
            # cell voltages w - b of both solutions: S^-1 (g_first e_0 m_bar_i - T lam_i), S^-1 (-T x_i)
            rhs = jnp.concatenate([e0 * gv[i][None, :] - _row_laplacian(lam_i[None], g_row, g_first)[0],
                                   -_row_laplacian(x_i[None], g_row, g_first)[0]], axis=1)
            cells = _chain_inverse(ratios[i], zdiag[i]) @ rhs
            cell_lam, cell_x = cells[:, :size], cells[:, size:]
            lam_w, x_w = cell_lam + lam_i, cell_x + x_i
            d_w_lam, d_w_x = lam_w[:-1] - lam_w[1:], x_w[:-1] - x_w[1:]
            terms = jnp.stack([
                jnp.sum(d_w_lam * d_w_x),  # word-line neighbours
                jnp.sum(x_w[0] * (lam_w[0] - ct_c[i])),  # the driver's segment
                jnp.where(last, 0.0, jnp.sum((lam_i - lam_next) * (x_i - x_next))),  # bit-line neighbours
                jnp.where(last, jnp.sum(lam_i * x_i), 0.0)])  # the sense amplifiers' segment
            return (lam_i, x_i, g_col * x_i, sums + terms), -jnp.sum(cell_lam * cell_x, axis=1)

        zero = jnp.zeros((n_out, size), g.dtype)
        columns = jax.lax.dynamic_slice_in_dim(jnp.eye(n_out, dtype=g.dtype), start, size, axis=1)
        (_, _, _, sums), d_g = jax.lax.scan(up, (zero, zero, columns, jnp.zeros(4, g.dtype)), jnp.arange(n_in),
                                            reverse=True)
        return d_g, sums

    d_g, sums = jax.lax.map(chunk, jnp.arange(n_chunks))
    row_pairs, first, col_pairs, last_row = -jnp.sum(sums, axis=0)
    params = (g, r_row, r_col, r_source, r_sense, ct_m)
    grads = _wire_cotangents(params, jnp.sum(d_g, axis=0), row_pairs, first, col_pairs, last_row,
                             jnp.zeros_like(ct_m))
    return (jax.tree.map(jnp.zeros_like, factors),) + grads[:-1]


_bottom_matrix.defvjp(_bottom_matrix_fwd, _bottom_matrix_bwd)


def _nodes(g, wires: Wires, v):
    """Node voltages ``(w, b)``, each ``(n_in, n_out, k)``, for inputs ``v`` ``(n_in, k)``."""
    n_in, n_out = g.shape
    k = v.shape[1]
    if wires.ideal:
        w = jnp.broadcast_to(v[:, None, :], (n_in, n_out, k))
        return w, jnp.zeros_like(w)
    if wires.row_ideal:
        # Word-line nodes sit at their inputs; each bit line is a tridiagonal chain driven by g v.
        g_col, g_last = 1.0 / wires.r_col, 1.0 / (wires.r_col + wires.r_sense)
        i = jnp.arange(n_in)[:, None]
        diag = g + jnp.where(i > 0, g_col, 0.0) + jnp.where(i < n_in - 1, g_col, g_last)
        b = _chain_solve(_chain_pivots(diag, g_col, axis=0), g_col, g[:, :, None] * v[:, None, :], axis=0)
        w = jnp.broadcast_to(v[:, None, :], (n_in, n_out, k))
        return w, b
    if wires.col_ideal:
        g_row, g_first = 1.0 / wires.r_row, 1.0 / (wires.r_source + wires.r_row)
        pivots = _chain_pivots(_row_diagonal(g, g_row, g_first), g_row, axis=1)
        rhs = jnp.zeros((n_in, n_out, k), dtype=g.dtype).at[:, 0].set(g_first * v)
        w = _word_solve(pivots, g_row, rhs)
        return w, jnp.zeros_like(w)
    return _nodes_general(g, wires.r_row, wires.r_col, wires.r_source, wires.r_sense, v)


def _output_currents(g, wires: Wires, w, b, v):
    if wires.ideal:
        return (v.T @ g).T  # the ideal product, computed as such (bit for bit v_in @ g)
    if wires.col_ideal:
        return jnp.einsum("ij,ijk->jk", g, w - b)
    return b[-1] / (wires.r_col + wires.r_sense)


def _check_inputs(g, v_in):
    g = jnp.asarray(g)
    v_in = jnp.asarray(v_in)
    if not jnp.issubdtype(g.dtype, jnp.floating):
        g = g.astype(float)
    if g.ndim != 2:
        raise ValueError(f"solve_ir_drop: g must be 2-D (n_in rows, n_out columns) in S, got shape {g.shape}.")
    if v_in.ndim not in (1, 2) or v_in.shape[-1] != g.shape[0]:
        raise ValueError(
            f"solve_ir_drop: v_in must have shape (n_in,) or (batch, n_in) with n_in = {g.shape[0]} "
            f"(one voltage per row of g), got {v_in.shape}.")
    concrete = _concrete(g)
    if concrete is not None and (np.any(concrete < 0) or not np.all(np.isfinite(concrete))):
        raise ValueError("solve_ir_drop: conductances must be finite and >= 0 S; got negative or non-finite "
                         "entries. Pass device conductances (S), not signed weights.")
    return g, v_in.astype(g.dtype)


def _tolerance(dtype) -> float:
    return 1e-9 if jnp.finfo(dtype).bits >= 64 else 1e-3


def solve_ir_drop_nodes(g: Float[Array, "n_in n_out"], v_in: Float[Array, "*batch n_in"],
                        wires: Wires) -> IRDropSolution:
    """Solve the crossbar's nodal equations and return everything (node voltages for IR-drop maps,
    the residual and a ``converged`` flag instead of raising). See :func:`solve_ir_drop`."""
    g, v_in = _check_inputs(g, v_in)
    return _solve(g, v_in, wires, True)


def _as_dtype(wires: Wires, dtype) -> Wires:
    # The wires in the conductances' dtype (float32 conductances with float64 wires would mix).
    return eqx.tree_at(lambda x: (x.r_row, x.r_col, x.r_source, x.r_sense), wires,
                       replace=tuple(jnp.asarray(r).astype(dtype) for r in
                                     (wires.r_row, wires.r_col, wires.r_source, wires.r_sense)))


def _input_scales(g, wires: Wires, v):
    """Current scale of each input ``v_k`` (A): ``max(g_first, max g) max_i |v_ik|``, ``(k,)``."""
    return jnp.maximum(1.0 / (wires.r_source + wires.r_row), jnp.max(g)) * jnp.max(jnp.abs(v), axis=0)


def _kcl_residual(g, wires: Wires, v, w, b, scale):
    """``max |A [w; b] - rhs(v)| / scale`` (gradients stopped; a zero scale counts as 1)."""
    g, v, w, b = (jax.lax.stop_gradient(x) for x in (g, v, w, b))
    wires = jax.lax.stop_gradient(wires)
    res_w, res_b = _residual((g, wires.r_row, wires.r_col, wires.r_source, wires.r_sense, v), w, b)
    return jnp.maximum(jnp.max(jnp.abs(res_w)), jnp.max(jnp.abs(res_b))) / jnp.where(scale > 0, scale, 1.0)


@eqx.filter_jit
def _solve(g, v_in, wires: Wires, nodes: bool) -> IRDropSolution:
    # Compiled as one program (also when called eagerly): the block sweeps are scans whose
    # op-by-op dispatch would cost far more than the arithmetic.
    batched = v_in.ndim == 2
    v = v_in.T if batched else v_in[:, None]
    wires = _as_dtype(wires, g.dtype)
    special = wires.ideal or wires.row_ideal or wires.col_ideal
    if special or nodes:
        w, b = _nodes(g, wires, v)
        currents = _output_currents(g, wires, w, b, v)
    if special:
        # Closed chains solved by the Thomas algorithm: nothing to go wrong but non-finite input.
        residual = jnp.zeros((), dtype=g.dtype)
        finite = jnp.all(jnp.isfinite(currents))
    elif nodes:
        # Every node voltage is returned anyway: check every equation of every input.
        residual = _kcl_residual(g, wires, v, w, b, jnp.max(_input_scales(g, wires, v)))
        finite = jnp.all(jnp.isfinite(w)) & jnp.all(jnp.isfinite(b))
    else:
        # Only the currents are wanted (the hot path): the full solve's down sweep and last block,
        # no node voltages of the batch.
        n_in, n_out = g.shape
        if v.shape[1] < n_out or n_in * n_out * n_out > _STREAM_ABOVE:
            # Fewer inputs than outputs (or a tile too large to keep its factors): the currents and
            # the factorisation's check (the same sweep on a known solution) in one scan, no
            # factors stored.
            if _use_nd(g):
                # Wide float64 tiles: strips and separators (fewer flops than the row sweep).
                b_last, error = _bottom_nd(g, wires.r_row, wires.r_col, wires.r_source, wires.r_sense, v, _ND_WIDTH)
            else:
                b_last, error = _bottom_streamed(g, wires.r_row, wires.r_col, wires.r_source, wires.r_sense, v)
            currents = b_last / (wires.r_col + wires.r_sense)
            residual = jax.lax.stop_gradient(error)
            finite = jnp.all(jnp.isfinite(currents)) & jnp.isfinite(residual)
            return _finish(g, wires, currents, None, None, residual, finite, batched, nodes)
        # At least as many inputs as outputs: the map itself (n_out right-hand sides, the factors
        # kept for its up sweep), then v^T m. The solve is linear in its input, so the sum of the
        # batch's solutions must solve the summed input: solve that one input fully with the same
        # factors (cheap: one right-hand side) and check its KCL residual (at most the inputs'
        # largest relative residual).
        gs, vs = jax.lax.stop_gradient(g), jax.lax.stop_gradient(v)
        g_row, g_first, g_col, g_last = _conductances(
            *(jax.lax.stop_gradient(r) for r in (wires.r_row, wires.r_col, wires.r_source, wires.r_sense)))
        factors = _factor(gs, g_row, g_first, g_col, g_last)
        m = _bottom_matrix(factors, g, wires.r_row, wires.r_col, wires.r_source, wires.r_sense)
        b_last = (v.T @ m).T
        currents = b_last / (wires.r_col + wires.r_sense)
        v_sum = jnp.sum(vs, axis=-1, keepdims=True)
        w_sum, b_sum = _driven_solve(factors, gs, g_row, g_first, g_col, v_sum)
        residual = _kcl_residual(gs, wires, v_sum, w_sum, b_sum, jnp.sum(_input_scales(gs, wires, vs)))
        finite = jnp.all(jnp.isfinite(currents)) & jnp.isfinite(residual)
    return _finish(g, wires, currents, w if nodes else None, b if nodes else None, residual, finite, batched, nodes)


def _finish(g, wires, currents, w, b, residual, finite, batched, nodes):
    converged = finite & (residual <= _tolerance(g.dtype))
    severity = jax.lax.stop_gradient(ir_drop_severity(g, wires))
    currents = currents.T if batched else currents[:, 0]
    if nodes:
        w, b = (jnp.moveaxis(x, -1, 0) if batched else x[..., 0] for x in (w, b))
    else:
        w = b = None  # not computed (general wires) or not returned
    return IRDropSolution(currents, w, b, residual, converged, severity)


def solve_ir_drop(g: Float[Array, "n_in n_out"], v_in: Float[Array, "*batch n_in"],
                  wires: Wires) -> Float[Array, "*batch n_out"]:
    """Output currents of a crossbar with wire resistance, by exact nodal analysis.

    Args:
        g: ``(n_in, n_out)`` cell conductances (S), rows = word lines (inputs), columns = bit lines.
        v_in: ``(n_in,)`` or ``(batch, n_in)`` input voltages (V); a batch shares one factorisation.
        wires: the line resistances (:class:`Wires`).

    Returns:
        ``(n_out,)`` or ``(batch, n_out)``: the currents (A) into the sense amplifiers' virtual ground.
        With all resistances zero this is exactly ``v_in @ g``.

    Differentiable w.r.t. ``g``, ``v_in`` and the wire resistances (adjoint method). A solve whose
    result does not satisfy the circuit's equations raises (also under ``jit``): the batch's summed
    input is solved with the same factors (one more right-hand side) and its KCL residual checked,
    a check of the factorisation every input shares. :func:`solve_ir_drop_nodes` returns a flag and every equation's residual. Details and equations:
    docs/crossbar.md ("IR drop") and this module's docstring.
    """
    g, v_in = _check_inputs(g, v_in)
    sol = _solve(g, v_in, wires, False)
    return eqx.error_if(
        sol.currents, ~sol.converged,
        "solve_ir_drop: the nodal solve of the crossbar failed its own KCL check (non-finite values or a "
        "large residual): the system is numerically ill-conditioned for this dtype. Likely causes: "
        "conductances or wire resistances many orders of magnitude apart (R_wire * G * n far above 1), "
        "NaN/inf inputs, or float32 with a very stiff circuit. Use float64 "
        "(jax.config.update('jax_enable_x64', True)), check the units (S, Ohm, V), or inspect "
        "solve_ir_drop_nodes(...).relative_residual and .severity.")


def ir_drop_matrix(g: Float[Array, "n_in n_out"], wires: Wires, *, rows: int | None = None,
                   recompute: bool = False) -> Float[Array, "rows n_out"]:
    """The exact linear map of a crossbar with wire resistance: ``M`` ``(n_in, n_out)`` (S) with
    ``solve_ir_drop(g, v, wires) == v @ M`` for every ``v``.

    The circuit is linear in its inputs, so one solve with the ``n_in`` unit inputs (sharing one
    factorisation) gives a matrix that then replaces the solve at every read of the same
    conductances: the way to afford IR drop in training or long simulations. Differentiable like
    :func:`solve_ir_drop`. With ideal wires ``M = g``.

    Args:
        g, wires: as in :func:`solve_ir_drop`.
        rows: only the first ``rows`` rows of ``M`` (``(rows, n_out)``): the map of a partly used
            tile whose other inputs are held at 0 V (all ``n_in`` rows still load the lines; only
            the unit inputs, the per-input work, are fewer).
        recompute: keep nothing for the gradient; the backward pass solves again (factorisation,
            the solve's own VJP) from ``g``. The forward pass then runs the plain solve, where
            :func:`jax.checkpoint` would run the differentiated forward (with the residuals its VJP
            keeps) in both passes. Same numbers, same gradient; for many maps in a loop (tiles),
            whose residuals would otherwise be kept for every one.
    """
    g = jnp.asarray(g)
    if not jnp.issubdtype(g.dtype, jnp.floating):
        g = g.astype(float)
    rows = g.shape[0] if rows is None else int(rows)
    if not 1 <= rows <= g.shape[0]:
        raise ValueError(f"ir_drop_matrix: rows must lie in 1..{g.shape[0]} (the crossbar's inputs), got {rows}.")
    if wires.ideal:
        return g[:rows]
    if recompute:
        return _matrix_recomputed(g, wires, rows)
    return _matrix(g, wires, rows)


def _matrix(g, wires: Wires, rows: int):
    return solve_ir_drop(g, jnp.eye(rows, g.shape[0], dtype=g.dtype), wires)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _matrix_recomputed(g, wires: Wires, rows: int):
    return _matrix(g, wires, rows)


def _matrix_recomputed_fwd(g, wires, rows):
    # Outside differentiation: the primal solve (factorisation, down sweep, last block) only.
    return _matrix(g, wires, rows), (g, wires)


def _matrix_recomputed_bwd(rows, res, ct):
    g, wires = res
    _, vjp = jax.vjp(lambda g, wires: _matrix(g, wires, rows), g, wires)
    return vjp(ct)


_matrix_recomputed.defvjp(_matrix_recomputed_fwd, _matrix_recomputed_bwd)
