"""SageMaker's Hyperband strategy: random configurations, stopped early by ASHA's rungs (asha.py).

The resource is the step a training program reports with its objective (epochs, or iterations).
MinResource defaults to 1; MaxResource falls back to a static epochs hyperparameter, as in SageMaker.
"""

from __future__ import annotations

from tunestream.definitions import (
    HyperbandStrategyConfigShape,
    HyperParameterTuningJobConfigShape,
    TrainingJobDefinitionShape,
)
from tunestream.field_errors import FieldError
from tunestream.strategies.asha import AshaStopper
from tunestream.strategies.bayesian import BayesianSearch, initial_design_size
from tunestream.strategies.promotion import (
    MAX_RUNGS,
    START_SHARE,
    PromotionHyperband,
    PromotionStopper,
    RungLimitStopper,
    RungModel,
)
from tunestream.strategies.random import RandomSearch
from tunestream.strategies.registry import StrategyDefinition, StrategyInputs, StrategyParts

EPOCH_HYPERPARAMETERS = ("epochs", "num_epochs", "n_epochs")
CONFIG_PATH = "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig"


def static_epochs(definition: TrainingJobDefinitionShape) -> int | None:
    for name in EPOCH_HYPERPARAMETERS:
        value = definition.StaticHyperParameters.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    return None


def hyperband_config(config: HyperParameterTuningJobConfigShape) -> HyperbandStrategyConfigShape | None:
    return config.StrategyConfig.HyperbandStrategyConfig if config.StrategyConfig else None


def hyperband_resources(
    config: HyperParameterTuningJobConfigShape, definition: TrainingJobDefinitionShape
) -> tuple[int, int | None]:
    """(MinResource, MaxResource); MaxResource falls back to a static epochs hyperparameter, as in SageMaker."""
    hb = hyperband_config(config)
    min_resource = hb.MinResource if hb and hb.MinResource else 1
    max_resource = hb.MaxResource if hb and hb.MaxResource else static_epochs(definition)
    return min_resource, max_resource


def promotion_enabled(
    config: HyperParameterTuningJobConfigShape, definition: TrainingJobDefinitionShape | None
) -> bool:
    """Promotion unless disabled, where the program checkpoints: on the bench it reached the 5 %
    target sooner than stopping at every rung on every table (docs/strategies.md)."""
    hb = hyperband_config(config)
    asked = hb.Promotion if hb is not None else None
    if asked is not None:
        return asked == "Enabled"
    return definition is not None and definition.CheckpointConfig is not None


def first_rung_measured(config: HyperParameterTuningJobConfigShape) -> bool:
    hb = hyperband_config(config)
    return hb is None or hb.FirstRung != "MinResource"


def continuing(config: HyperParameterTuningJobConfigShape) -> bool:
    """Pausing "WhenBehind": a training job ahead at a rung goes on past it (promotion.pause_at_rung)."""
    hb = hyperband_config(config)
    return hb is not None and hb.Pausing == "WhenBehind"


def ranked_by_trend(config: HyperParameterTuningJobConfigShape) -> bool:
    """Ranking "Trend": a rung ranks by the value predicted at the next rung (rung_trend.py);
    "Value" (the default) by the values there. With the model's proposals, the default, the trend
    was no faster on the bench (docs/strategies.md)."""
    hb = hyperband_config(config)
    return hb is not None and hb.Ranking == "Trend"


def pauses_at_new_best(config: HyperParameterTuningJobConfigShape) -> bool:
    """PauseAtNewBest, on unless "Disabled" (or Pausing "WhenBehind", where a job runs on past its
    rungs): a training job that beats every ended one between rungs pauses there, so its value
    counts as a result at once (promotion.PromotionHyperband.pause_at_new_best). The default since
    2026-12-06: on the bench, without a start, it reached the 5 % target 1.05-1.79x sooner than
    pausing at the rungs only, and with a start its gate kept it within 6 % (docs/strategies.md)."""
    hb = hyperband_config(config)
    if hb is not None and hb.PauseAtNewBest is not None:
        return hb.PauseAtNewBest == "Enabled"
    return not continuing(config)


def _check_definitions_agree(inputs: StrategyInputs) -> list[FieldError]:
    """Several definitions: resources and checkpoints are read from the first, so they must agree."""
    errors: list[FieldError] = []
    hb = hyperband_config(inputs.config)
    if not (hb and hb.MaxResource) and len({static_epochs(d) for d in inputs.definitions}) > 1:
        errors.append(
            FieldError(
                f"{CONFIG_PATH}.MaxResource",
                "required",
                "the definitions' static epochs differ, so Hyperband needs MaxResource for all of them",
            )
        )
    if len({d.CheckpointConfig is None for d in inputs.definitions}) > 1:
        errors.append(
            FieldError(
                "TrainingJobDefinitions",
                "checkpoints-all-or-none",
                "Hyperband pauses and resumes from checkpoints when the programs checkpoint: give "
                "CheckpointConfig to every definition or to none",
            )
        )
    return errors


def _validate(inputs: StrategyInputs) -> list[FieldError]:
    errors: list[FieldError] = []
    if inputs.config.TrainingJobEarlyStoppingType != "Off":
        errors.append(
            FieldError(
                "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
                "hyperband-off",
                "must be Off with Strategy Hyperband, which does its own early stopping",
            )
        )
    hb = hyperband_config(inputs.config)
    promotion_only = {
        "FirstRung": "first-rung-needs-promotion",
        "Proposals": "proposals-need-promotion",
        "Pausing": "pausing-needs-promotion",
        "Ranking": "ranking-needs-promotion",
        "PauseAtNewBest": "pause-at-new-best-needs-promotion",
    }
    for member, rule in promotion_only.items():
        if (
            hb is not None
            and getattr(hb, member) is not None
            and not promotion_enabled(inputs.config, inputs.definition)
        ):
            errors.append(
                FieldError(
                    f"{CONFIG_PATH}.{member}",
                    rule,
                    "applies to promotion Hyperband only (Promotion Enabled, or CheckpointConfig given)",
                )
            )
    if hb is not None and hb.PauseAtNewBest == "Enabled" and hb.Pausing == "WhenBehind":
        errors.append(
            FieldError(
                f"{CONFIG_PATH}.PauseAtNewBest",
                "pause-at-new-best-needs-every-rung",
                'applies with Pausing "EveryRung" only: with "WhenBehind" a training job runs on past its rungs',
            )
        )
    if inputs.definition is None:
        return errors
    errors.extend(_check_definitions_agree(inputs))
    if promotion_enabled(inputs.config, inputs.definition) and inputs.definition.CheckpointConfig is None:
        errors.append(
            FieldError(
                "TrainingJobDefinition.CheckpointConfig",
                "promotion-needs-checkpoints",
                f"is required with {CONFIG_PATH}.Promotion Enabled: a paused training job resumes from its checkpoint",
            )
        )
    min_resource, max_resource = hyperband_resources(inputs.config, inputs.definition)
    if max_resource is None:
        errors.append(
            FieldError(
                f"{CONFIG_PATH}.MaxResource",
                "required",
                "MaxResource is required unless StaticHyperParameters has an integer "
                + " / ".join(EPOCH_HYPERPARAMETERS),
            )
        )
    elif min_resource > max_resource:
        errors.append(
            FieldError(
                f"{CONFIG_PATH}.MinResource",
                "min<=max",
                f"MinResource {min_resource} exceeds MaxResource {max_resource}",
            )
        )
    return errors


def _rung_model(inputs: StrategyInputs) -> RungModel | None:
    """Proposals "Model" (the default under promotion since 2026-12-06): one cost-aware GP over
    configuration and resource (promotion.RungModel); "Random" draws instead. Its bench figures
    against random proposals are in docs/strategies.md."""
    hb = hyperband_config(inputs.config)
    if hb is not None and hb.Proposals == "Random":
        return None
    search = BayesianSearch(inputs.space, inputs.seed, inputs.max_jobs, inputs.maximize)
    return RungModel(search, initial_design_size(len(inputs.space.params), inputs.max_jobs))


def _build(inputs: StrategyInputs) -> StrategyParts:
    assert inputs.definition is not None
    min_resource, max_resource = hyperband_resources(inputs.config, inputs.definition)
    assert max_resource is not None
    if promotion_enabled(inputs.config, inputs.definition):
        model = _rung_model(inputs)
        goes_on, at_new_best = continuing(inputs.config), pauses_at_new_best(inputs.config)
        proposer = PromotionHyperband(
            inputs.space,
            inputs.seed,
            inputs.max_jobs,
            min_resource,
            max_resource,
            inputs.maximize,
            start_share=START_SHARE if first_rung_measured(inputs.config) else None,
            max_rungs=MAX_RUNGS if first_rung_measured(inputs.config) else None,
            model=model,
            continuing=goes_on,
            trend=ranked_by_trend(inputs.config),
            at_new_best=at_new_best,
        )
        limits = RungLimitStopper(max_resource, static_epochs(inputs.definition))
        return StrategyParts(
            proposer,
            PromotionStopper(proposer, limits) if goes_on or at_new_best else limits,
            # A fit sits between a freed slot and its next job otherwise (up to 0.4 s on the bench).
            proposes_ahead=model is not None,
        )
    stopper = AshaStopper(
        min_resource,
        max_resource,
        inputs.maximize,
        inputs.seed,
        planned_steps=static_epochs(inputs.definition),
        epoch_names=EPOCH_HYPERPARAMETERS,
    )
    return StrategyParts(RandomSearch(inputs.space, inputs.seed, inputs.max_jobs), stopper)


STRATEGY = StrategyDefinition(
    name="Hyperband",
    build=_build,
    validate=_validate,
    strategy_config="HyperbandStrategyConfig",
    timing_details=("model_fit_s", "model_suggest_s"),
    summary=(
        "random configurations stopped early at ASHA's rungs between MinResource and MaxResource; "
        "with CheckpointConfig, paused at the rungs and resumed when promoted"
    ),
)
