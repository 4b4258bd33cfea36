"""The suite's own compile settings (tests/conftest.py) do what they say."""
import os

import pytest


def test_the_suite_compiles_with_the_elemental_emitters_on_jaxlib_0_10():
    from importlib.metadata import version

    if version("jaxlib").split(".")[:2] != ["0", "10"]:
        pytest.skip("the elemental emitters are set on jaxlib 0.10 only")
    assert "--xla_cpu_use_fusion_emitters=false" in os.environ["XLA_FLAGS"].split()


@pytest.mark.default_emitters
def test_a_default_emitters_test_runs_in_a_process_with_the_default_emitters():
    assert os.environ.get("MEMSNN_TEST_DEFAULT_EMITTERS") == "1"
    assert "xla_cpu_use_fusion_emitters" not in os.environ["XLA_FLAGS"]
