

# ---------------------------------------------------------------- optional inputs, count windows


def test_optional_inputs_missing_but_valid(qa):
    run = pa(qa, "http", "-m", "optional", "--measurement-mode", "count_windows", "--measurement-request-count", "30",
             data("int_data_optional.json"), *STABLE)
    assert run.code == 0, run.stderr[-2000:]


OPTIONAL_INPUT_ERROR_LINES = (
    "For batch sizes larger than 1, the same set of",
    "inputs must be specified for each batch. You cannot use different set of",
    "optional inputs for each individual batch.",
)


def test_optional_inputs_missing_and_invalid(qa):
    run = pa(qa, "http", "-m", "optional", "-b", "2", "--measurement-mode", "count_windows",
             data("int_data_optional.json"), *STABLE)
    assert run.code != 0
    # The script's pattern spans three lines: grep reads them as three alternatives.
    assert any(line in run.stdout + run.stderr for line in OPTIONAL_INPUT_ERROR_LINES)
