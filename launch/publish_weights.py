"""Ship a finished run's model as the package's pretrained weights (a maintainer's step).

    python launch/publish_weights.py RUN --log docs/_static/mnist-log.jsonl \\
        --command "horovodrun -np 2 ... launch/train.py --config launch/configs/mnist.yaml" \\
        --commit 50768db --commit 4f6346e

It takes the checkpoint the run's final record scored on the test set (the one of lowest
validation error) and writes ``gluon_caps/model_zoo/weights/MODEL.params`` and ``MODEL.json``
(sha256, configuration, epoch, step, validation and test error, and how it was made), which
``get_model(MODEL, pretrained=True)`` loads. See :func:`gluon_caps.model_zoo.pretrained.publish`.
"""
import argparse
import json
import os
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:                                    # run from a checkout, not installed
    sys.path.insert(0, _REPO)


def main(argv=None):
    from gluon_caps.errors import GluonCapsError
    from gluon_caps.model_zoo.pretrained import publish
    from gluon_caps.viz.curve import read_log

    parser = argparse.ArgumentParser(prog="launch/publish_weights.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a finished run directory (its log.jsonl has a final record)")
    parser.add_argument("--log", required=True, help="where the run's log is committed")
    parser.add_argument("--command", action="append", required=True,
                        help="a command that trained the run, in order (repeat for resumes)")
    parser.add_argument("--commit", action="append", required=True,
                        help="a commit the run trained on, in order")
    parser.add_argument("--weights-dir", help="default gluon_caps/model_zoo/weights")
    args = parser.parse_args(argv)
    try:
        _, final = read_log(args.run)
        if final is None or not final.get("checkpoint"):
            raise GluonCapsError("%s has no final record naming a checkpoint: the run has not "
                                 "finished" % os.path.join(args.run, "log.jsonl"))
        info = publish(os.path.join(args.run, final["checkpoint"]), final["model"],
                       final["test_error"], {"commands": args.command, "commits": args.commit,
                                             "log": args.log}, args.weights_dir)
    except GluonCapsError as error:
        print("launch/publish_weights.py: error: %s" % error, file=sys.stderr)
        return 2
    print(json.dumps({key: info[key] for key in ("file", "sha256", "epoch", "step", "val_error",
                                                 "test_error")}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
