"""Loader throughput: images per second a DataLoader delivers (a figure, not a test).

Run ``python -m gluon_caps.data.benchmark --root DIR`` to time shift-augmented MNIST batches of 128
from the "mnist-t10k" training split (only the t10k files are needed).
"""
import argparse
import itertools
import os
import time

from mxnet.gluon.data import DataLoader

from ..errors import GluonCapsError
from .mnist import MNIST
from .transforms import RandomShift

__all__ = ["DEFAULT_NUM_WORKERS", "loader_throughput", "main"]

DEFAULT_NUM_WORKERS = min(4, os.cpu_count() or 1)


def loader_throughput(dataset, batch_size=128, num_workers=DEFAULT_NUM_WORKERS, batches=50,
                      warmup=5):
    """Measure how many images per second a shuffling DataLoader yields, epochs repeated as needed.

    Parameters
    ----------
    dataset : mxnet.gluon.data.Dataset
        Samples ``(image, label)``.
    batch_size : int
        Images per batch; incomplete last batches are discarded.
    num_workers : int
        Worker processes of the DataLoader (0: the main process).
    batches : int
        Batches timed.
    warmup : int
        Batches fetched before the clock starts (worker start-up, first-touch costs).

    Returns
    -------
    float
        Images per second over the timed batches.
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                        last_batch="discard")
    stream = itertools.chain.from_iterable(itertools.repeat(loader))
    for data, _ in itertools.islice(stream, warmup):
        data.wait_to_read()
    start = time.perf_counter()
    for data, _ in itertools.islice(stream, batches):
        data.wait_to_read()
    return batches * batch_size / (time.perf_counter() - start)


def main(argv=None):
    """Command-line entry: print the images/s of shift-augmented MNIST batches."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="data root holding the MNIST files")
    parser.add_argument("--split", default="t10k-train", help="MNIST split (default t10k-train)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--num-workers", type=int, default=DEFAULT_NUM_WORKERS)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        dataset = MNIST(args.root, args.split).transform_first(RandomShift(2))
    except GluonCapsError as err:
        parser.exit(2, "error: %s\n" % err)
    rate = loader_throughput(dataset, args.batch_size, args.num_workers, args.batches)
    print("MNIST %s + RandomShift(2), batch %d, %d workers: %.0f images/s"
          % (args.split, args.batch_size, args.num_workers, rate))


if __name__ == "__main__":
    main()
