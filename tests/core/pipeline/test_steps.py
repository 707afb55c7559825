"""Steps as the editor adds them."""


def test_default_step_scalers_start_on_the_numeric_features() -> None:
    # A freshly added Standardize used to have no columns: flagged as a no-op the moment it
    # appeared on the canvas. It now starts on every numeric feature (never the target).
    from core.pipeline import default_step

    columns, numeric = ["a", "b", "name", "y"], ["a", "b", "y"]
    assert default_step("standardize", columns, "y", numeric).to_dict()["columns"] == ["a", "b"]
    assert default_step("minmax_scale", columns, "y", numeric).to_dict()["columns"] == ["a", "b"]
    assert default_step("one_hot", columns, "y", numeric).to_dict()["columns"] == []
    assert default_step("select_columns", columns, "y").to_dict()["columns"] == ["a", "b", "name"]
    assert default_step("standardize", columns, "y").to_dict()["columns"] == []  # nothing known
