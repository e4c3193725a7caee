"""Single-threaded BLAS inside the optimisation loop."""


def test_single_threaded_blas_restores_the_thread_count():
    from hlmlab._blas import _controls, single_threaded_blas

    before = [get() for get, _ in _controls()]
    with single_threaded_blas():
        assert all(get() == 1 for get, _ in _controls())
    assert [get() for get, _ in _controls()] == before
