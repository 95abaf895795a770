"""The CPU thread policy of the demo, the tests and the scripts (hsi.device.cpu_thread_count)."""
import torch

from hsi.device import available_cores, configure_cpu_threads, cpu_thread_count, resolve_device


def test_omp_num_threads_is_respected_whatever_the_load():
    assert cpu_thread_count({"OMP_NUM_THREADS": "3"}, cores=2, load=9.0) == 3
    assert cpu_thread_count({"OMP_NUM_THREADS": "1"}, cores=16, load=0.0) == 1


def test_without_the_variable_the_idle_cores_are_used():
    assert cpu_thread_count({}, cores=2, load=0.0) == 2
    assert cpu_thread_count({}, cores=8, load=3.2) == 5
    assert cpu_thread_count({}, cores=2, load=7.0) == 1     # a busy machine gets one thread, never 0
    assert cpu_thread_count({"OMP_NUM_THREADS": "abc"}, cores=4, load=1.0) == 3  # unusable value ignored
    assert cpu_thread_count({"OMP_NUM_THREADS": "0"}, cores=4, load=0.0) == 4


def test_available_cores_and_configure():
    assert 1 <= available_cores()
    before = torch.get_num_threads()
    try:
        assert configure_cpu_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_cpu_device_applies_the_policy(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    try:
        torch.set_num_threads(2)
        assert resolve_device("cpu").type == "cpu" and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
