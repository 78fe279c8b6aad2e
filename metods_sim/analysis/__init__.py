"""Reading run datasets: summaries and the paper's analyses. Works on datasets alone, never on the simulator.

summary          headline numbers of a run or evaluation
curves           learning curves with spread over seeds; ablation tables over a sweep's variants
maze             intervals between the maze's target rewards (exploration, then exploitation)
motor            the reward per step within test episodes by goal (online adaptation in motor control)
synapses         the recorded W: first Harlow outcome, PCA of W, Hopfield energy, Σ|ΔW| against reward
figures          the standard figures of a dataset (matplotlib), as `python -m metods_sim plot` renders them
"""
from .curves import ablation_effects, ablation_table, comparison_rows, comparison_table, learning_curve
from .maze import find_intervals
from .motor import reward_curve
from .summary import correct_by_trial, later_correct, summary, summary_text
from .synapses import (align, choice_rewards, choices, decoding, episode_energy, first_outcome, hopfield_energy, live,
                       outcome_decoding, reward_input, separation, weight_change, weight_change_by_reward, weight_pca)

__all__ = ["ablation_effects", "ablation_table", "align", "choice_rewards", "choices", "comparison_rows", "comparison_table", "correct_by_trial", "decoding",
           "episode_energy", "find_intervals", "first_outcome", "hopfield_energy", "later_correct", "learning_curve",
           "live", "outcome_decoding", "reward_curve", "reward_input", "separation", "summary", "summary_text",
           "weight_change", "weight_change_by_reward", "weight_pca"]
