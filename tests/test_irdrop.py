"""Exact IR drop of a crossbar: hand-solved nodal equations, an independent MNA stamp, badcrossbar,
ngspice, finite-difference gradients, the ideal product at zero resistance, and bad input."""

from __future__ import annotations

import shutil

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from memsnn.crossbar import Wires, ir_drop_matrix, solve_ir_drop, solve_ir_drop_nodes  # noqa: E402


def _stamp(g, v, r_row, r_col, r_source=0.0, r_sense=0.0):
    """Independent reference: stamp every resistor of the crossbar into a dense nodal matrix.

    Nodes: word (i, j) -> i * n + j, bit (i, j) -> m n + i * n + j. Returns the output currents.
    """
    m, n = g.shape
    size = 2 * m * n
    a = np.zeros((size, size))
    rhs = np.zeros(size)

    def word(i, j):
        return i * n + j

    def bit(i, j):
        return m * n + i * n + j

    def resistor(p, q, conductance):  # q = None: to a fixed voltage handled by the caller
        a[p, p] += conductance
        if q is not None:
            a[q, q] += conductance
            a[p, q] -= conductance
            a[q, p] -= conductance

    for i in range(m):
        g_first = 1.0 / (r_source + r_row)
        resistor(word(i, 0), None, g_first)
        rhs[word(i, 0)] += g_first * v[i]
        for j in range(n - 1):
            resistor(word(i, j), word(i, j + 1), 1.0 / r_row)
        for j in range(n):
            resistor(word(i, j), bit(i, j), g[i, j])
    for j in range(n):
        for i in range(m - 1):
            resistor(bit(i, j), bit(i + 1, j), 1.0 / r_col)
        resistor(bit(m - 1, j), None, 1.0 / (r_col + r_sense))  # to the virtual ground
    x = np.linalg.solve(a, rhs)
    return np.array([x[bit(m - 1, j)] / (r_col + r_sense) for j in range(n)])


def test_one_cell_is_a_series_circuit():
    g, v = 2e-3, 0.3
    wires = Wires(r_row=5.0, r_col=7.0, r_source=11.0, r_sense=13.0)
    current = solve_ir_drop(jnp.array([[g]]), jnp.array([v]), wires)
    np.testing.assert_allclose(current, [v / (11.0 + 5.0 + 1 / g + 7.0 + 13.0)], rtol=1e-14)


def test_two_by_two_against_hand_solved_nodal_equations():
    # Word nodes a = (0,0), b = (0,1), c = (1,0), d = (1,1); bit nodes p, q (row 0), s, u (row 1).
    # Wires 1 S (1 Ohm) everywhere; cells G; bit lines end at a virtual ground through 1 Ohm.
    G = np.array([[1e-2, 2e-2], [3e-2, 4e-2]])
    v = np.array([0.5, 0.25])
    (g00, g01), (g10, g11) = G
    # KCL, unknowns [a, b, c, d, p, q, s, u]:
    A = np.array([
        [1 + 1 + g00, -1, 0, 0, -g00, 0, 0, 0],        # a: source (1 S), a-b, cell
        [-1, 1 + g01, 0, 0, 0, -g01, 0, 0],            # b: a-b, cell (open end)
        [0, 0, 1 + 1 + g10, -1, 0, 0, -g10, 0],        # c
        [0, 0, -1, 1 + g11, 0, 0, 0, -g11],            # d
        [-g00, 0, 0, 0, g00 + 1, 0, -1, 0],            # p: cell, p-s (open top)
        [0, -g01, 0, 0, 0, g01 + 1, 0, -1],            # q: cell, q-u
        [0, 0, -g10, 0, -1, 0, g10 + 1 + 1, 0],        # s: cell, p-s, s-ground
        [0, 0, 0, -g11, 0, -1, 0, g11 + 1 + 1],        # u
    ])
    rhs = np.array([v[0], 0, v[1], 0, 0, 0, 0, 0])
    x = np.linalg.solve(A, rhs)
    expected = np.array([x[6], x[7]])  # through 1 Ohm into 0 V
    sol = solve_ir_drop_nodes(G, v, Wires(1.0, 1.0))
    np.testing.assert_allclose(sol.currents, expected, rtol=1e-13)
    np.testing.assert_allclose(sol.word_voltages, x[:4].reshape(2, 2), rtol=1e-13)
    np.testing.assert_allclose(sol.bit_voltages, x[4:].reshape(2, 2), rtol=1e-13)
    assert bool(sol.converged) and float(sol.relative_residual) < 1e-13


@pytest.mark.parametrize("wires", [(2.0, 3.0, 0.0, 0.0), (0.5, 4.0, 1.5, 2.5), (0.0, 3.0, 0.0, 0.0),
                                   (2.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)])
def test_three_by_four_against_an_independent_nodal_stamp(wires):
    rng = np.random.default_rng(3)
    g = rng.uniform(1e-3, 5e-2, (3, 4))
    v = rng.uniform(-0.3, 0.3, 3)
    current = solve_ir_drop(g, v, Wires(*wires))
    r_row, r_col, r_source, r_sense = wires
    if r_row == 0 and r_col == 0:
        expected = v @ g
    else:
        # A zero wire is the limit of a tiny one in the stamp (the solver treats it exactly).
        expected = _stamp(g, v, max(r_row, 1e-12), max(r_col, 1e-12), r_source, r_sense)
    np.testing.assert_allclose(current, expected, rtol=1e-9)


def test_zero_wire_resistance_is_exactly_the_ideal_product():
    rng = np.random.default_rng(0)
    g = jnp.asarray(rng.uniform(1e-6, 1e-4, (3, 4)))
    v = jnp.asarray(rng.uniform(0, 0.2, (2, 3)))
    np.testing.assert_array_equal(solve_ir_drop(g, v, Wires()), v @ g)
    np.testing.assert_array_equal(ir_drop_matrix(g, Wires()), g)


def test_batch_matrix_and_single_solves_agree_and_match_badcrossbar():
    rng = np.random.default_rng(1)
    g = rng.uniform(1e-5, 1e-3, (3, 4))
    v = rng.uniform(0, 0.2, (2, 3))
    wires = Wires(1.0, 2.0)
    batch = solve_ir_drop(g, v, wires)
    np.testing.assert_allclose(batch[1], solve_ir_drop(g, v[1], wires), rtol=1e-13)
    # a batch of at least n_out inputs goes through the transfer matrix: the same currents
    wide = np.concatenate([v, rng.uniform(0, 0.2, (3, 3))])
    np.testing.assert_allclose(solve_ir_drop(g, wide, wires)[:2], batch, rtol=1e-12)
    np.testing.assert_allclose(v @ ir_drop_matrix(g, wires), batch, rtol=1e-12)
    badcrossbar = pytest.importorskip("badcrossbar")
    ref = badcrossbar.compute(v.T, 1 / g, r_i_word_line=1.0, r_i_bit_line=2.0, node_voltages=False,
                              all_currents=False).currents.output
    np.testing.assert_allclose(batch, ref, rtol=1e-10)


@pytest.mark.parametrize("batch, chunk_numbers", [(2, None), (5, None), (5, 2 * 3 * 4)])
def test_gradients_match_finite_differences(batch, chunk_numbers, monkeypatch):
    # batch 2 < 4 outputs: the batch's own down sweep and adjoint; batch 5 >= 4 outputs: the
    # transfer matrix (n_out right-hand sides) and its adjoint (solve_ir_drop picks by shape), the
    # adjoint's 4 columns at once or in two chunks of 2.
    from memsnn.crossbar import irdrop

    if chunk_numbers is not None:
        monkeypatch.setattr(irdrop, "_CHUNK_NUMBERS", chunk_numbers)
        assert irdrop._column_chunks(4, 3 * 4) == (2, 2)
        jax.clear_caches()
    rng = np.random.default_rng(2)
    g = jnp.asarray(rng.uniform(1e-3, 1e-2, (3, 4)))
    v = jnp.asarray(rng.uniform(0, 0.3, (batch, 3)))
    weights = jnp.asarray(rng.normal(size=(batch, 4)))
    r = jnp.array([1.0, 2.0, 0.5, 0.7])

    def loss(g, v, r):
        return jnp.sum(weights * solve_ir_drop(g, v, Wires(*r)))

    # One program for the gradient and the differences' values (the value of the gradient's
    # forward pass: the same solve, checked against the stamp by the tests above and below).
    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    grads = value_and_grad(g, v, r)[1]
    loss = lambda *args: value_and_grad(*args)[0]  # noqa: E731
    for arg, grad in zip((g, v, r), grads):
        flat = np.asarray(arg, dtype=float).ravel()
        fd = np.empty_like(flat)
        for k in range(flat.size):
            h = 1e-6 * max(abs(flat[k]), 1e-3)
            up, down = flat.copy(), flat.copy()
            up[k] += h
            down[k] -= h
            args = [g, v, r]
            index = [a is arg for a in args].index(True)
            args[index] = jnp.asarray(up.reshape(arg.shape))
            f_up = loss(*args)
            args[index] = jnp.asarray(down.reshape(arg.shape))
            fd[k] = (f_up - loss(*args)) / (2 * h)
        np.testing.assert_allclose(np.asarray(grad).ravel(), fd, rtol=1e-6, atol=1e-12 * np.max(np.abs(fd)))
    if chunk_numbers is not None:
        jax.clear_caches()  # no program compiled with the patched chunks outlives the patch


def test_gradients_through_node_voltages_match_finite_differences():
    # A loss on the word-line voltages gives the adjoint a word-line cotangent (the currents alone
    # give only a bit-line one, and that path skips the word-line solves).
    rng = np.random.default_rng(3)
    g = jnp.asarray(rng.uniform(1e-3, 1e-2, (3, 4)))
    v = jnp.asarray(rng.uniform(0, 0.3, (2, 3)))
    wires = Wires(1.0, 2.0, 0.5, 0.7)
    weights = jnp.asarray(rng.normal(size=(2, 3, 4)))

    def loss(g):
        sol = solve_ir_drop_nodes(g, v, wires)
        return jnp.sum(weights * (sol.word_voltages + sol.bit_voltages ** 2))

    # One program for the gradient and the differences' values (the node path's forward rule is
    # its solve).
    value_and_grad = jax.jit(jax.value_and_grad(loss))
    grad = np.asarray(value_and_grad(g)[1]).ravel()
    loss = lambda g: value_and_grad(g)[0]  # noqa: E731
    flat = np.asarray(g).ravel()
    fd = np.empty_like(flat)
    for k in range(flat.size):
        # Steps of 1e-4 relative: at 1e-6 the differences were at the rounding limit (the loss's last
        # bit over the step: 1.07e-6 off under the suite's elemental emitters, 1.0e-7 at 1e-5 and
        # 6.7e-9 at 1e-4, falling as 1 / h: rounding, not the gradient; the truncation error, h^2,
        # stays far below the tolerance).
        h = 1e-4 * flat[k]
        up, down = flat.copy(), flat.copy()
        up[k] += h
        down[k] -= h
        fd[k] = (loss(jnp.asarray(up.reshape(g.shape))) - loss(jnp.asarray(down.reshape(g.shape)))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-12 * np.max(np.abs(fd)))


def test_no_lapack_calls_in_the_compiled_solve():
    # jaxlib 0.10's CPU LAPACK kernels (gtsv, getrf, potrf, trsm, ...) split a batched call over
    # XLA's intra-op thread pool and block the pool thread that called them until the pieces are
    # done. A program that runs as many such calls at once as the pool has threads (a Crossbar's
    # tiles and +/- arrays under vmap, the word-line solves next to the block sweep) leaves no
    # thread to run the pieces: the process hangs on a futex with no CPU use (issue 11's hang;
    # reproduced with 8 independent batched tridiagonal_solve calls on 2 cores, no memsnn). The
    # solve is written in plain XLA operations (matrix products, scans), and stays so.
    rng = np.random.default_rng(6)
    g = jnp.asarray(rng.uniform(1e-4, 1e-3, (2, 2, 5, 4)))  # (row tiles, column tiles, rows, cols)
    v = jnp.asarray(rng.uniform(0, 0.2, (3, 5)))

    def read(g, v, wires):
        solve = jax.vmap(jax.vmap(lambda gt: solve_ir_drop(gt, v, wires)))
        return jnp.sum(solve(g) ** 2) + jnp.sum(solve_ir_drop_nodes(g[0, 0], v, wires).word_voltages)

    for wires in (Wires(1.0, 2.0, 0.5, 0.7), Wires(0.0, 1.0), Wires(1.0, 0.0)):
        program = jax.jit(jax.value_and_grad(read, argnums=(0, 1))).lower(g, v, wires).as_text()
        assert "lapack" not in program.lower(), wires
        matrix = jax.jit(jax.grad(lambda g: jnp.sum(ir_drop_matrix(g, wires)))).lower(g[0, 0]).as_text()
        assert "lapack" not in matrix.lower(), wires


def test_works_under_jit_and_vmap_over_conductances():
    rng = np.random.default_rng(4)
    gs = jnp.asarray(rng.uniform(1e-4, 1e-3, (2, 3, 4)))
    v = jnp.asarray(rng.uniform(0, 0.2, 3))
    wires = Wires(1.0, 1.0)
    mapped = jax.jit(jax.vmap(lambda g: solve_ir_drop(g, v, wires)))(gs)
    for k in range(2):
        np.testing.assert_allclose(mapped[k], solve_ir_drop(gs[k], v, wires), rtol=1e-13)


def test_gradients_under_jit_and_nested_vmap_like_a_crossbar_read():
    # A crossbar reads its tiles under vmap (conductances batched, inputs per row tile) inside a
    # vmap over images (inputs batched, one chip): jit + vmap + grad of the currents-only
    # custom_vjp once mislaid a batch axis (shape errors); the gradient must equal per-image sums.
    rng = np.random.default_rng(7)
    g = jnp.asarray(rng.uniform(1e-4, 1e-3, (2, 1, 4, 3)))  # (row tiles, column tiles, rows, cols)
    x = jnp.asarray(rng.uniform(0, 0.2, (5, 2, 4)))  # (images, row tiles, rows)
    wires = Wires(1.0, 2.0, 0.5, 0.7)

    def read(g, x_image):
        return jax.vmap(jax.vmap(lambda gt, vt: solve_ir_drop(gt, vt, wires), in_axes=(0, None)))(g, x_image)

    loss = jax.jit(jax.grad(lambda g: jnp.sum(jnp.sin(1e4 * jax.vmap(lambda xi: read(g, xi))(x)))))
    single = jax.jit(jax.grad(lambda g, xi: jnp.sum(jnp.sin(1e4 * solve_ir_drop(g, xi, wires)))))
    expected = np.zeros(g.shape)
    for image in range(x.shape[0]):
        for r in range(g.shape[0]):
            expected[r, 0] += np.asarray(single(g[r, 0], x[image, r]))
    np.testing.assert_allclose(loss(g), expected, rtol=1e-10)


def test_a_solve_that_fails_its_own_equations_is_reported():
    g = jnp.full((3, 4), 1e-3)
    v = jnp.array([0.1, jnp.nan, 0.1])
    sol = solve_ir_drop_nodes(g, v, Wires(1.0, 1.0))
    assert not bool(sol.converged)
    with pytest.raises(Exception, match="failed its own KCL check"):
        jax.block_until_ready(solve_ir_drop(g, v, Wires(1.0, 1.0)))
    with pytest.raises(Exception, match="failed its own KCL check"):
        jax.block_until_ready(eqx.filter_jit(solve_ir_drop)(g, v, Wires(1.0, 1.0)))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="r_row must be a finite resistance >= 0"):
        Wires(r_row=-1.0)
    with pytest.raises(ValueError, match="r_sense must be a finite resistance >= 0"):
        Wires(1.0, 1.0, r_sense=float("inf"))
    with pytest.raises(ValueError, match="r_row = 0 with r_source > 0"):
        Wires(0.0, 1.0, r_source=5.0)
    with pytest.raises(ValueError, match="v_in must have shape"):
        solve_ir_drop(jnp.ones((3, 2)) * 1e-3, jnp.ones(2), Wires(1.0, 1.0))
    with pytest.raises(ValueError, match="must be 2-D"):
        solve_ir_drop(jnp.ones(3), jnp.ones(3), Wires(1.0, 1.0))
    with pytest.raises(ValueError, match="finite and >= 0 S"):
        solve_ir_drop(-jnp.ones((2, 2)), jnp.ones(2), Wires(1.0, 1.0))


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")
def test_ngspice_round_trip_of_a_small_crossbar():
    from memsnn.crossbar.spice import crossbar_netlist, simulate_crossbar_ngspice

    rng = np.random.default_rng(5)
    g = rng.uniform(1e-6, 1e-4, (3, 4))
    v = rng.uniform(0, 0.2, 3)
    for wires in (Wires(1.0, 1.0), Wires(10.0, 10.0, r_source=3.0, r_sense=2.0), Wires()):
        ref = simulate_crossbar_ngspice(g, v, wires)
        np.testing.assert_allclose(solve_ir_drop(g, v, wires), ref, rtol=1e-9)
    assert "rc2_3 w2_3 b2_3" in crossbar_netlist(g, v, Wires(1.0, 1.0))


def test_product_free_float64_factorisation_equals_the_series_form():
    # float64 factors with Y_i = C_i + g I - g^2 K^-1 (no product, a cancellation of about
    # log10(g / |Y|) digits) against the series form C_i + g K^-1 Y (float32's), blocks of 48 >
    # the Gauss-Jordan leaf, wires from 1 mOhm (g / |Y| ~ 1e7) to 10 Ohm (one compilation: the
    # wire is an argument).
    from memsnn.crossbar import irdrop

    rng = np.random.default_rng(5)
    g = jnp.asarray(rng.uniform(1e-6, 1e-4, (6, 48)))
    v = jnp.asarray(rng.uniform(0, 0.2, (6, 3)))

    @jax.jit
    def both_forms(r_wire):
        g_row, g_first, g_col, g_last = irdrop._conductances(r_wire, r_wire, 0.0, 0.0)
        return [irdrop._driven_solve(irdrop._factor(g, g_row, g_first, g_col, g_last, series_form=series), g, g_row,
                                     g_first, g_col, v)[1][-1] * g_last for series in (True, False)]

    for r_wire in (1e-3, 1.0, 10.0):
        series, product_free = both_forms(jnp.asarray(r_wire))
        np.testing.assert_allclose(product_free, series, rtol=1e-11)
    # and the default solve (product-free in float64) against the independent stamp
    np.testing.assert_allclose(solve_ir_drop(g[:, :5], v[:, 0], Wires(1e-3, 1e-3)),
                               _stamp(np.asarray(g[:, :5]), np.asarray(v[:, 0]), 1e-3, 1e-3), rtol=1e-9)


def test_currents_stream_the_factorisation_and_large_tiles_always_do(monkeypatch):
    # Fewer inputs than outputs: the currents come from the down sweep inside the factorisation's
    # scan, no factors stored, and the check is the same sweep on a known solution; the gradient
    # keeps the factors and the swept rows, and runs the inputs' and the adjoint's up sweeps in one
    # loop. Against the node path (stored factors, the full solve, its own adjoint) and the stamp,
    # gradients with respect to g, v and all four resistances. Above _STREAM_ABOVE numbers of
    # factors (1 GiB in float64: a 1024 x 1024 tile) a batch of at least n_out inputs streams too
    # (forced on a small tile, a shape no other test compiles): the same as the transfer matrix.
    from memsnn.crossbar import irdrop

    rng = np.random.default_rng(8)
    g = jnp.asarray(rng.uniform(1e-3, 1e-2, (5, 7)))
    v = jnp.asarray(rng.uniform(0, 0.3, (3, 5)))
    wide = jnp.asarray(rng.uniform(0, 0.3, (8, 5)))
    r = jnp.array([1.0, 2.0, 0.5, 0.7])
    wires = Wires(*r)

    def loss(g, v, r, nodes=False):
        currents = solve_ir_drop_nodes(g, v, Wires(*r)).currents if nodes else solve_ir_drop(g, v, Wires(*r))
        return jnp.sum(jnp.sin(jnp.arange(currents.size).reshape(currents.shape)) * currents), currents

    # Compiled whole (jax.clear_caches below traces them again): op by op, the solves and their
    # adjoints compiled hundreds of small programs. The streamed currents come from a program of
    # the solve alone (its forward pass without the gradient stores no factors: other code); the
    # node path's and the linear map's from the gradient's program (their forward rules run the
    # solve itself), which saves compiling those solves on their own.
    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True), static_argnums=3)
    solve = jax.jit(solve_ir_drop)
    streamed = solve(g, v, wires), grad(g, v, r, False)[0]
    stored_grad, stored_currents = grad(g, v, r, True)
    np.testing.assert_allclose(streamed[0], stored_currents, rtol=1e-12)
    for a, b in zip(streamed[1], stored_grad):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(streamed[0], [_stamp(np.asarray(g), np.asarray(x), 1.0, 2.0, 0.5, 0.7) for x in v], rtol=1e-12)
    with pytest.raises(Exception, match="failed its own KCL check"):
        jax.block_until_ready(solve(g, v.at[1, 2].set(jnp.nan), wires))

    mapped = grad(g, wide, r, False)[::-1]  # (currents, gradient)
    # The map's gradient in chunks of 3 of its 7 columns (the last chunk overlaps the one before):
    # the same as all columns at once.
    monkeypatch.setattr(irdrop, "_CHUNK_NUMBERS", 3 * g.size)
    assert irdrop._column_chunks(7, g.size) == (3, 3)
    jax.clear_caches()
    for a, b in zip(grad(g, wide, r, False)[0], mapped[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    monkeypatch.setattr(irdrop, "_STREAM_ABOVE", 0)
    jax.clear_caches()
    large = solve(g, wide, wires), grad(g, wide, r, False)[0]
    np.testing.assert_allclose(large[0], mapped[0], rtol=1e-12)
    for a, b in zip(large[1], mapped[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    jax.clear_caches()


def test_word_lines_whose_cells_outconduct_their_wires_against_the_stamp():
    # Each row's Schur complement comes from an outer product of 1/c and z c (c: the cumulative
    # products of the word line's elimination multipliers); where c spans more than 1e-100 (cells
    # far better conductors than the wire between them: multipliers ~1e-3 over 120 cells, c down
    # to ~1e-350) 1/c would overflow and that row takes the masked cumulative products instead.
    # Rows of both kinds in one crossbar, against the independent stamp.
    rng = np.random.default_rng(9)
    g = rng.uniform(1e-6, 1e-4, (3, 120))
    g[1] = rng.uniform(0.5, 1.0, 120)  # the middle row: 1 S cells on a 1 kOhm word line
    v = rng.uniform(0, 0.2, (2, 3))
    ours = solve_ir_drop(jnp.asarray(g), jnp.asarray(v), Wires(1000.0, 1.0))
    np.testing.assert_allclose(ours, [_stamp(g, x, 1000.0, 1.0) for x in v], rtol=1e-10)


def test_linear_map_gradient_equals_the_node_path_adjoint():
    # A batch of at least n_out inputs takes the linear map, whose gradient reduces row by row
    # with each word line's dense inverse (both closed forms: the middle row's cells outconduct
    # its wire, as above); the node path solves every node and has its own adjoint.
    rng = np.random.default_rng(10)
    g = rng.uniform(1e-6, 1e-4, (3, 120))
    g[1] = rng.uniform(0.5, 1.0, 120)
    g = jnp.asarray(g)
    v = jnp.asarray(rng.uniform(0, 0.2, (130, 3)))
    weights = jnp.asarray(rng.normal(size=(130, 120)))
    r = jnp.array([1000.0, 1.0, 3.0, 2.0])

    def loss(solve):
        return jax.jit(jax.grad(lambda g, v, r: jnp.sum(weights * solve(g, v, Wires(*r))), argnums=(0, 1, 2)))

    ours = loss(solve_ir_drop)(g, v, r)
    nodes = loss(lambda g, v, w: solve_ir_drop_nodes(g, v, w).currents)(g, v, r)
    for a, b in zip(ours, nodes):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12 * np.max(np.abs(b)))


def test_wide_tiles_by_strips_and_separators_against_the_stamp(monkeypatch):
    # Wide float64 tiles (n_out >= _ND_MIN_OUT) take their currents from one-level nested
    # dissection: column strips (word-line pieces in closed form, block Thomas over the rows in
    # blocks of the strip's width) joined by word-line separator columns (their bit lines in closed
    # form), the separators' block-tridiagonal system solved by block Thomas. Forced here on small
    # tiles with narrow strips (a padded last strip, the driver's strip, all four resistances,
    # zero driver and sense resistances): currents against the stamp, gradients against the node
    # path's adjoint, and the KCL check raising on a NaN input.
    from memsnn.crossbar import irdrop

    monkeypatch.setattr(irdrop, "_ND_MIN_OUT", 1)
    rng = np.random.default_rng(11)

    def loss(g, v, r, nodes=False):
        currents = solve_ir_drop_nodes(g, v, Wires(*r)).currents if nodes else solve_ir_drop(g, v, Wires(*r))
        return jnp.sum(jnp.sin(jnp.arange(currents.size).reshape(currents.shape)) * currents), currents

    # Compiled whole (traced again after each width change below): op by op, the solves and their
    # adjoints compiled hundreds of small programs. The currents come from the gradient's program
    # (its forward pass is the solve itself: _bottom_nd is the first output of its forward rule),
    # KCL check included, so no program of the solve alone is compiled.
    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True), static_argnums=3)
    # The first tile's gradient sweeps its strips one input column at a time (three chunks), and
    # its last strip is all padding (12 columns: strips at 0-2, 4-6, 8-10, 12-14); the second's
    # sweeps them all at once, and its last strip is partly padding (18 columns: 15-17 of 15-18).
    # (A third tile, all padding with all four resistances, cost three more compiles for no case of its own.)
    for (n_in, n_out, width, r, chunk, padding) in [(5, 12, 3, (1.0, 2.0, 0.5, 0.7), 1, 3),
                                                    (6, 18, 4, (1.0, 1.0, 0.0, 0.0), 2 ** 24, 1)]:
        monkeypatch.setattr(irdrop, "_ND_WIDTH", width)
        monkeypatch.setattr(irdrop, "_CHUNK_NUMBERS", chunk)
        jax.clear_caches()
        g = jnp.asarray(rng.uniform(1e-3, 1e-2, (n_in, n_out)))
        v = jnp.asarray(rng.uniform(0, 0.3, (3, n_in)))
        r = jnp.asarray(r)
        assert irdrop._use_nd(g)
        assert irdrop._nd_layout(n_out, width)[1] - n_out == padding
        ours, (nodes, _) = grad(g, v, r, False), grad(g, v, r, True)
        np.testing.assert_allclose(ours[1], [_stamp(np.asarray(g), np.asarray(x), *map(float, r)) for x in v], rtol=1e-12)
        for a, b in zip(ours[0], nodes):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14 * float(jnp.max(jnp.abs(b))))
        with pytest.raises(Exception, match="failed its own KCL check"):
            jax.block_until_ready(grad(g, v.at[1, 2].set(jnp.nan), r, False))
    jax.clear_caches()


def test_wide_tile_gradients_match_finite_differences(monkeypatch):
    # The strips-and-separators gradient (row-by-row reductions in the up sweep, chunks of the
    # batch's columns, padded last strip) against central differences of the currents, for the
    # conductances, the inputs and all four resistances, in float64.
    from memsnn.crossbar import irdrop

    monkeypatch.setattr(irdrop, "_ND_MIN_OUT", 1)
    monkeypatch.setattr(irdrop, "_ND_WIDTH", 3)
    monkeypatch.setattr(irdrop, "_CHUNK_NUMBERS", 1)
    jax.clear_caches()
    rng = np.random.default_rng(12)
    g = jnp.asarray(rng.uniform(1e-3, 1e-2, (4, 10)))
    v = jnp.asarray(rng.uniform(0, 0.3, (2, 4)))
    weights = jnp.asarray(rng.normal(size=(2, 10)))
    r = jnp.array([1.0, 2.0, 0.5, 0.7])
    assert irdrop._use_nd(g)

    def loss(g, v, r):
        return jnp.sum(weights * solve_ir_drop(g, v, Wires(*r)))

    # One program for the gradient and the differences' values (the forward pass of the gradient
    # is the solve itself: _bottom_nd is the first output of its forward rule).
    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    grads = value_and_grad(g, v, r)[1]
    loss = lambda *args: value_and_grad(*args)[0]  # noqa: E731
    args = [g, v, r]
    for index, grad in enumerate(grads):
        flat = np.asarray(args[index]).ravel()
        fd = np.empty_like(flat)
        for k in range(flat.size):
            h = 1e-3 * abs(flat[k])  # smaller steps lose more to rounding than they gain (~1e-9 here)
            step = np.zeros_like(flat)
            step[k] = h
            up, down = list(args), list(args)
            up[index] = jnp.asarray((flat + step).reshape(args[index].shape))
            down[index] = jnp.asarray((flat - step).reshape(args[index].shape))
            fd[k] = (loss(*up) - loss(*down)) / (2 * h)
        np.testing.assert_allclose(np.asarray(grad).ravel(), fd, rtol=1e-6, atol=1e-9 * np.max(np.abs(fd)))
    jax.clear_caches()
