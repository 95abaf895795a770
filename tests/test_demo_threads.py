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


def test_busy_cores_is_the_non_idle_share_of_cpu_time_over_the_sample(monkeypatch):
    import hsi.device as device
    samples = iter([(1000, 4000, 2), (1300, 4400, 2)])      # 300 of 400 jiffies busy on 2 CPUs
    monkeypatch.setattr(device, "_cpu_times", lambda: next(samples))
    assert device.busy_cores(interval=0.0) == 1.5
    monkeypatch.setattr(device, "_cpu_times", lambda: None)     # no /proc/stat: the load average
    monkeypatch.setattr(device.os, "getloadavg", lambda: (0.7, 0.0, 0.0))
    assert device.busy_cores(interval=0.0) == 0.7
    monkeypatch.setattr(device, "busy_cores", lambda interval=0.0: 1.6)
    assert device.cpu_thread_count({}, cores=2) == 1 and device.cpu_thread_count({}, cores=4) == 2


def test_cpu_times_reads_this_machines_proc_stat():
    import hsi.device as device
    t = device._cpu_times()
    if t is None:
        import pytest
        pytest.skip("no /proc/stat on this system")
    busy, total, cpus = t
    assert 0 <= busy <= total and cpus >= 1
    assert 0.0 <= device.busy_cores(interval=0.05) <= cpus + 1e-9
