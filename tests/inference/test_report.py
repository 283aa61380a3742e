"""The evaluation report as a table for people."""
from gluon_caps.inference import format_report


def test_format_report_lines():
    report = {"errors": 1, "count": 3, "error": 1 / 3.0, "labels_per_image": 1,
              "per_class": [{"class": 0, "name": "cat", "count": 2, "correct": 1,
                             "accuracy": 0.5},
                            {"class": 1, "name": "dog", "count": 1, "correct": 1,
                             "accuracy": 1.0},
                            {"class": 2, "name": "eel", "count": 0, "correct": 0,
                             "accuracy": None}],
              "confusion": [[1, 1, 0], [0, 1, 0], [0, 0, 0]]}
    lines = format_report(report).splitlines()
    assert lines[0] == "test error: 33.33% (1 of 3 images)"
    assert lines[3].split() == ["cat", "2", "1", "50.00%"]
    assert lines[5].split() == ["eel", "0", "0", "-"]
    assert lines[-4].split() == ["cat", "dog", "eel"]
    assert [line.split() for line in lines[-3:]] == [
        ["cat", "1", "1", "0"], ["dog", "0", "1", "0"], ["eel", "0", "0", "0"]]
