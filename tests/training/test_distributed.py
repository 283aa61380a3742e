"""Which communication a process gets: Horovod only in a job a launcher started."""
import subprocess
import sys

import pytest

from gluon_caps.errors import ConfigError
from gluon_caps.training.distributed import LAUNCHER_VARIABLES, SingleProcess, init_distributed

from tests.training.helpers import environment


def test_a_process_started_alone_does_not_start_horovod():
    env = {key: value for key, value in environment().items() if key not in LAUNCHER_VARIABLES}
    code = ("import sys; from gluon_caps.training import init_distributed; "
            "comm = init_distributed(); "
            "print(type(comm).__name__, comm.size, 'horovod.mxnet' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["SingleProcess", "1", "False"], result.stderr


@pytest.mark.parametrize("variable", LAUNCHER_VARIABLES)
def test_a_launched_worker_without_horovod_is_a_config_error(monkeypatch, variable):
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert isinstance(init_distributed(), SingleProcess)
    monkeypatch.setenv(variable, "0")
    monkeypatch.setitem(sys.modules, "horovod.mxnet", None)          # import fails
    with pytest.raises(ConfigError, match="launched by horovodrun, but horovod.mxnet cannot be "
                                          "imported .*HOROVOD_WITH_MXNET=1"):
        init_distributed()
