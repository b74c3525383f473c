"""On-demand benchmarks of the hub against bare references (`python -m bench`); never run by the tests."""
