"""A file the user may not read, or that the OS cannot find, ends in one line, not a traceback."""

import pytest

from experiments.errors import exit_on_user_error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            PermissionError(13, "Permission denied", "/data/export.csv"),
            "/data/export.csv: permission denied: check the path and its permissions",
        ),
        (
            FileNotFoundError(2, "No such file or directory", "twin.npz"),
            "twin.npz: no such file or directory: check the path and its permissions",
        ),
        (FileNotFoundError("sweep directory x not found"), "sweep directory x not found"),
    ],
    ids=["permission", "missing-file-from-the-os", "missing-file-we-named"],
)
def test_file_errors_are_one_line(capsys, error, message):
    with pytest.raises(SystemExit) as exited, exit_on_user_error("retail-sim"):
        raise error
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"retail-sim: error: {message}\n"
