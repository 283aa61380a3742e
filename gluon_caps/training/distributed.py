"""Data-parallel communication: Horovod in a job that ``horovodrun`` (or an MPI launcher)
started, one process otherwise.

Both classes offer the same few operations, so the training loop has a single code path for one
process, Horovod on CPUs (Gloo) and Horovod on GPUs (NCCL).
"""
import os
import signal
import sys
import threading

import mxnet as mx
import numpy as np
from mxnet import gluon

from ..errors import ConfigError

__all__ = ["SingleProcess", "HorovodProcess", "init_distributed", "launched_by_horovod",
           "select_context", "StopRequest", "LOST_WORKER_MESSAGES", "is_lost_worker",
           "leave_process"]

#: Variables a worker's launcher sets: horovodrun (Gloo), Open MPI, MPICH / Intel MPI, PMIx.
LAUNCHER_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")


class SingleProcess(object):
    """One worker: collective operations return their input."""
    rank, size, local_rank = 0, 1, 0

    def allreduce_sum(self, values):
        """Sum a float64 NumPy array over workers."""
        return np.asarray(values, dtype=np.float64)

    def broadcast_object(self, obj):
        """Send a picklable object from rank 0 to every worker."""
        return obj

    def broadcast_parameters(self, params):
        """Give every worker rank 0's parameter values."""

    def make_trainer(self, params, optimizer, optimizer_params):
        """A Gluon trainer whose step averages gradients over the global batch."""
        return gluon.Trainer(params, optimizer, optimizer_params, kvstore=None)


class HorovodProcess(SingleProcess):
    """One worker of a Horovod job launched by ``horovodrun`` (or an MPI launcher)."""

    def __init__(self, hvd):
        self._hvd = hvd
        hvd.init()
        self.rank, self.size, self.local_rank = hvd.rank(), hvd.size(), hvd.local_rank()
        self._calls = 0

    def _name(self, what):
        self._calls += 1
        return "gluon_caps.%s.%d" % (what, self._calls)

    def allreduce_sum(self, values):
        array = mx.nd.array(np.asarray(values, dtype=np.float64), dtype="float64")
        return self._hvd.allreduce(array, average=False, name=self._name("sum")).asnumpy()

    def broadcast_object(self, obj):
        obj = self._hvd.broadcast_object(obj, root_rank=0, name=self._name("object"))
        # On rank 0 Horovod returns before its broadcast has run; a process that then exits (or
        # an engine that then shuts Horovod down) races with it: "Horovod has been shut down"
        # from MXNet's exit hook, or a segmentation fault. Waiting makes it a collective.
        mx.nd.waitall()
        return obj

    def broadcast_parameters(self, params):
        self._hvd.broadcast_parameters(params, root_rank=0)

    def make_trainer(self, params, optimizer, optimizer_params):
        # DistributedTrainer allreduces and averages gradients over workers before the update.
        return self._hvd.DistributedTrainer(params, optimizer, optimizer_params)


def launched_by_horovod():
    """Whether this process is a worker that ``horovodrun`` or an MPI launcher started."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init_distributed():
    """Start Horovod in a launched job, else a single process without Horovod.

    A process started alone never starts Horovod, even where it is installed: a job of one
    worker gains nothing from it, and Horovod 0.28.1's MXNet binding has a use-after-free race
    that such a job hit in 1 run of 33 here (the background thread completes a
    collective, and frees its name, before ``EnqueueTensorBroadcast`` has logged that name: a
    segmentation fault in ``horovod::common::EnqueueTensorBroadcast``). In a job of several
    workers the collective waits for the others, which closes that window in practice.

    Under ``horovodrun`` without a Horovod that has MXNet support, this raises instead of
    letting every worker train alone.
    """
    if not launched_by_horovod():
        return SingleProcess()
    try:
        import horovod.mxnet as hvd
    except ImportError as error:
        raise ConfigError("launched by horovodrun, but horovod.mxnet cannot be imported (%s); "
                          "build Horovod with HOROVOD_WITH_MXNET=1" % error) from error
    return HorovodProcess(hvd)


def select_context(ctx, local_rank):
    """The device of a worker: ``gpu(local_rank)`` when asked for (or ``auto``) and present.

    Parameters
    ----------
    ctx : {'auto', 'cpu', 'gpu'}
    local_rank : int
        The worker's rank on its machine, so each worker of a machine takes its own GPU.
    """
    num_gpus = mx.context.num_gpus()
    if ctx == "gpu" and num_gpus == 0:
        raise ConfigError("--ctx gpu: no GPU is visible to MXNet (install mxnet-cu112 and check "
                          "CUDA 11.2 / cuDNN 8 / NCCL)")
    if ctx == "cpu" or num_gpus == 0:
        return mx.cpu()
    if local_rank >= num_gpus:
        raise ConfigError("--ctx %s: worker with local rank %d but only %d GPU(s) on this host"
                          % (ctx, local_rank, num_gpus))
    return mx.gpu(local_rank)


class StopRequest(object):
    """Within this context, SIGTERM and SIGINT set :attr:`requested` instead of stopping the
    process; the training loop checks it after each step (all workers agree on it).

    Python runs a signal handler only between two bytecodes of the main thread, so not before
    the MXNet call the main thread is in (a training step's forward and backward) returns.
    ``on_signal``, if given, runs at once instead: in a thread of its own, woken by the byte
    the interpreter's C-level handler writes (:func:`signal.set_wakeup_fd`) when the first
    stop signal arrives.

    Parameters
    ----------
    on_signal : callable, optional
        Called without arguments, once, in its own thread, as soon as a stop signal arrives.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, on_signal=None):
        self.requested = False
        self._on_signal = on_signal
        self._previous = {}
        self._wakeup = self._watcher = None

    def __enter__(self):
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        if self._on_signal is not None:
            read, write = os.pipe()
            os.set_blocking(write, False)
            self._wakeup = (read, write, signal.set_wakeup_fd(write, warn_on_full_buffer=False))
            self._watcher = threading.Thread(target=self._watch, name="gluon-caps-stop",
                                             daemon=True)
            self._watcher.start()
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def _watch(self):
        read = self._wakeup[0]
        while True:
            received = os.read(read, 64)
            if not received:                   # the context ended (its end of the pipe closed)
                return
            if any(signum in received for signum in self.SIGNALS):
                self.requested = True
                self._on_signal()
                return

    def __exit__(self, *exc):
        if self._watcher is not None:
            read, write, previous = self._wakeup
            signal.set_wakeup_fd(previous)
            os.close(write)
            if self._watcher is not threading.current_thread():
                self._watcher.join()
            os.close(read)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


#: Messages of the errors a collective raises when another worker of the job is gone: MXNet
#: relays Horovod's shutdown and Gloo's transport errors from its engine.
LOST_WORKER_MESSAGES = ("Horovod has been shut down", "Connection closed by peer",
                        "Connection reset by peer", "gloo/transport")


def is_lost_worker(error):
    """Whether an exception says the Horovod job lost a worker (Horovod's own error types, or
    MXNet's error for a collective after Horovod shut down or Gloo lost a peer)."""
    return (type(error).__module__.startswith("horovod")
            or any(message in str(error) for message in LOST_WORKER_MESSAGES))


def leave_process(code):
    """End the worker at once with exit code ``code``, its output flushed, skipping the exit
    hooks: MXNet's engine shutdown and Horovod's (a collective with workers that may be gone)
    can take longer than the 5 s ``horovodrun`` gives a worker after forwarding a signal, and
    wait on a failed collective. Only for a run that has nothing left to write."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
