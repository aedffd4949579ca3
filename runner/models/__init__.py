from runner.models.build import build_model, count_params  # noqa: F401
