"""Device names resolve in one place: pdd_core.devices."""

from __future__ import annotations

import pytest
import torch

from pdd_core.devices import check_device_name, device_type, resolve_device
from pdd_core.errors import ConfigError
from pdd_core.training import config_from_dict


def test_auto_is_cuda_only_when_cuda_is_there_and_cuda_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_type("auto") == "cpu" and device_type("cpu") == "cpu" and resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"--device='cuda': no CUDA device is available"):
        device_type("cuda", "--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_type("auto") == "cuda" and device_type("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("check", [lambda: check_device_name("tpu"), lambda: resolve_device("tpu"), lambda: config_from_dict({"device": "tpu"})])
def test_an_unknown_device_name_is_one_line_everywhere(check):
    with pytest.raises(ConfigError, match=r"device='tpu': unknown device\. Fix: use one of 'auto', 'cpu', 'cuda'"):
        check()
