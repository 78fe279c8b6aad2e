"""Command line: `python -m metods_sim PROTOCOL ...` runs a protocol; `python -m metods_sim resume DIR` continues
a stopped run from its checkpoint; `python -m metods_sim evaluate RESULTS.nc` re-evaluates a trained agent;
`python -m metods_sim plot RESULTS.nc` renders its standard figures;
`python -m metods_sim fields` lists every protocol field."""
from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from pathlib import Path

from .errors import UserError
from .protocol import ProtocolError
from .protocol.schema import KINDED, SECTIONS, TOP

USAGE = """\
python -m metods_sim PROTOCOL [--set KEY.PATH=VALUE ...] [--out DIR] [--force] [--seed N] [--quiet]
       python -m metods_sim resume DIR [--quiet]
       python -m metods_sim evaluate RESULTS.nc [--episodes N] [--record N] [--set task.KEY=VALUE ...] [--seed N]
                                    [--out FILE]
       python -m metods_sim impair RESULTS.nc [--episodes N] [--seed N] [--out FILE]
       python -m metods_sim plot RESULTS.nc [--out DIR]
       python -m metods_sim compare COMPARISON.yaml [--set KEY.PATH=VALUE ...] [--out DIR] [--quiet]
       python -m metods_sim fields"""

DESCRIPTION = """\
Meta-train a MetODS agent (a layer of neurons whose weights are rewritten at every step by a learned Hebbian
read/write rule) as described by a YAML protocol file, evaluate it on held-out episodes, and write everything
about the run to one netCDF dataset, DIR/results.nc (default DIR: runs/<protocol name>/<timestamp>/).
Open it with metods_sim.load(DIR) or xarray.open_dataset.

Long runs: DIR/checkpoint.pkl holds the whole training state, written every trainer.checkpoint_every generations
(ES) or updates (gradient) and when training stops (Ctrl-C or SIGTERM stop it at the end of the current one; the
dataset is still written). `python -m metods_sim resume DIR` continues a stopped or killed run; the dataset it
writes is the one the run would have written had it never stopped. An existing run in DIR is never replaced
without --force.

A protocol has the sections task, agent, trainer, evaluation, recording and output, plus name and seed. Every
field has a default; `python -m metods_sim fields` lists them all (also in docs/protocol.md).
agent.kind chooses the network: metods (the default), or the baselines rl2 (a GRU), maml (an MLP adapted by
gradient steps within the episode), feedforward (no memory) and random (nothing to train: the run evaluates it);
to switch kinds from the command line replace the whole section, --set 'agent={kind: rl2}'.
Shipped protocols: protocols/harlow.yaml (the default run), protocols/harlow_simple.yaml (a five-minute smoke
test), protocols/harlow_gradient.yaml and protocols/harlow_simple_gradient.yaml (the same, trained by gradient:
trainer.kind gradient), protocols/harlow_rl2.yaml (the RL² baseline on Harlow),
protocols/harlow_distance2.yaml (the objects two steps away), protocols/maze.yaml
(exploration of Prim's mazes with a hidden target), protocols/maze_rl2.yaml (its RL² baseline),
protocols/maze_maml.yaml (its MAML baseline; maze_maml_gradient.yaml: by gradient),
protocols/maze_feedforward.yaml (a memoryless control), protocols/maze_ablation.yaml (a sweep: α, S and the write
vector), protocols/ant_dir_walk.yaml, ant_dir_shown.yaml, ant_dir_hidden.yaml then
ant_dir.yaml (Ant-dir as a curriculum: walk forward; both ways, the direction shown; the direction hidden, read
from the reward; the same on Gymnasium's reward; with RL² and MAML: ant_dir_rl2_*.yaml, ant_dir_maml_*.yaml),
protocols/cheetah_dir.yaml and protocols/cheetah_vel.yaml (motor control on Gymnasium's MuJoCo bodies; `impair
RESULTS.nc` then freezes each actuator in turn; cheetah_dir_rl2.yaml, cheetah_dir_feedforward.yaml: RL² and a
non-plastic agent on the same steps), protocols/ml1_reach.yaml, protocols/ml1_push.yaml and
protocols/ml10.yaml (Meta-World at the paper's 1e7 steps, 17-21 min each on a core; *_gradient.yaml: by
gradient) with their baselines ml1_push_rl2.yaml, ml1_push_maml.yaml, ml1_push_pearl.yaml and ml10_rl2.yaml,
ml10_maml.yaml, ml10_pearl.yaml (PEARL is trained off-policy by trainer.kind pearl, its only trainer).
The families side by side (`compare`): compare_maze_families.yaml, compare_ant_dir.yaml, compare_cheetah_dir.yaml,
compare_ml1_push.yaml, compare_ml10.yaml; ES against gradient: compare_harlow.yaml, compare_maze.yaml. A
protocol with a `sweep` section runs each variant × seed in DIR/NN-variant/seed-N/ and gathers them into
DIR/results.nc over (variant, seed)."""

EPILOG = """\
examples:
  python -m metods_sim protocols/harlow.yaml
  python -m metods_sim protocols/harlow.yaml --set trainer.popsize=128 --set agent.steps=2 --seed 3
  python -m metods_sim resume runs/harlow/20261125-120000
  python -m metods_sim evaluate runs/harlow/20261125-120000/results.nc --episodes 2000
  python -m metods_sim evaluate runs/harlow/20261125-120000/results.nc --set task.presentations=10
  python -m metods_sim evaluate runs/maze/20261125-120000/results.nc --set task.size=10   (unseen 10x10 mazes)
  python -m metods_sim plot runs/harlow/20261125-120000/results.nc      (python -m metods_sim plot --help)
  python -m metods_sim evaluate runs/ant_dir/20261125-120000/results.nc --set 'task.impair.frozen=[2]'
  python -m metods_sim impair runs/ant_dir/20261125-120000/results.nc     (each actuator frozen in turn)

exit status: 0 done, 1 training diverged (ES: the whole population; gradient: a non-finite loss or gradient;
the dataset holds the run until then) or the results could not be written after training, or a Ray node was
lost (the checkpoint holds it: resume; docs/cluster.md), 2 bad input (one line on stderr names the file, the key and what was expected), 130 interrupted by
Ctrl-C or SIGTERM (the dataset holds what ran; resume continues it)."""


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return COMMANDS[argv[0]](argv[1:])
        return _run(argv)
    except (UserError, ProtocolError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before training started or after the dataset was written: nothing to save
        print("interrupted", file=sys.stderr)
        return 130


def _run_parser():
    p = argparse.ArgumentParser(prog="python -m metods_sim", usage=USAGE, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocol", help="YAML protocol file, e.g. protocols/harlow.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one protocol field (repeatable); VALUE is read as YAML")
    p.add_argument("--out", metavar="DIR", help="run directory (default: output.dir, else runs/<name>/<time>)")
    p.add_argument("--force", action="store_true",
                   help="replace the run DIR holds already (its results.nc and checkpoint are deleted first)")
    p.add_argument("--seed", type=int, metavar="N", help="override the protocol's seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _parser(command: str, description: str, **options) -> argparse.ArgumentParser:
    """The parser of `python -m metods_sim COMMAND`; its prog opens the command line a dataset records."""
    return argparse.ArgumentParser(prog=f"python -m metods_sim {command}", description=description, **options)


def _quiet_evotorch() -> None:
    import logging

    logging.getLogger("evotorch").setLevel(logging.WARNING)  # its INFO lines would drown the progress bar


def _run(argv) -> int:
    from .protocol import load

    args = _run_parser().parse_args(argv)
    if args.seed is not None and args.seed < 0:
        raise ProtocolError(f"--seed: expected an integer >= 0, got {args.seed}")
    spec = load(args.protocol, args.overrides, seed=args.seed)
    from .experiments import check_machine, run

    check_machine(spec, args.protocol)
    _quiet_evotorch()

    command = "python -m metods_sim " + shlex.join(argv)
    return _finish(lambda: run(spec, out_dir=args.out, progress=not args.quiet, command=command, force=args.force))


RESUME_DESCRIPTION = """\
Continue a run that was stopped (Ctrl-C, SIGTERM) or killed from DIR/checkpoint.pkl, with the protocol stored
there, and write DIR/results.nc: the same dataset, value for value, as the run left alone would have written
(wall-clock attributes and coordinates aside). A time-limited run gets what was left of trainer.time_limit at the
checkpoint."""


def _resume(argv) -> int:
    p = _parser("resume", RESUME_DESCRIPTION)
    p.add_argument("run_dir", metavar="DIR", help="the run directory, e.g. runs/harlow/20261125-120000")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    from .experiments import resume

    _quiet_evotorch()
    command = f"{p.prog} {shlex.join(argv)}"
    return _finish(lambda: resume(args.run_dir, progress=not args.quiet, command=command))


def _finish(start) -> int:
    """Run start(), a run or a resumption; print the summary of the dataset it wrote, and return the exit
    status the run ended with."""
    from . import load as load_dataset
    from .analysis import summary_text
    from .experiments import OutputError

    try:
        path = start()
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    ds = load_dataset(path)
    print(summary_text(ds))
    print(f"wrote {path}")
    if ds.attrs.get("status") == "diverged":
        import yaml

        from .trainers import TRAINERS

        kind = yaml.safe_load(ds.attrs["protocol"])["trainer"]["kind"]
        print("error: " + TRAINERS[kind].DIVERGED.format(ds.sizes["generation"] - 1), file=sys.stderr)
        return 1
    return 130 if ds.attrs.get("status") == "interrupted" else 0


def _stored_agent_arguments(p) -> None:
    """The arguments of every command that runs a run's stored agent on fresh episodes (evaluate, impair)."""
    p.add_argument("results", help="a run's results.nc (or its directory)")
    p.add_argument("--episodes", type=int, metavar="N", help="episodes (default: the protocol's evaluation.episodes)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fresh episodes (default 0)")
    p.add_argument("--agent", choices=("best", "center"), help="which stored genome (default: evaluation.agent)")


def _parse_counts(p, argv, **least):
    """p's arguments, refusing --episodes below 1 and each option named in `least` (record=0: --record) below its
    least value."""
    args = p.parse_args(argv)
    for name, smallest in {"episodes": 1, **least}.items():
        value = getattr(args, name)
        if value is not None and value < smallest:
            raise ProtocolError(f"--{name}: expected an integer >= {smallest}, got {value}")
    return args


def _show(ds, text: str, out) -> int:
    """Print a stored agent's results and, with --out, write them."""
    from .results import write

    print(text)
    if out:
        print(f"wrote {write(ds, out)}")
    return 0


def _evaluate(argv) -> int:
    p = _parser("evaluate", "Re-evaluate the trained agent of a run on fresh held-out episodes, optionally on a "
                            "changed task (--set task.KEY=VALUE).")
    _stored_agent_arguments(p)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a protocol field for this evaluation, e.g. task.presentations=10")
    p.add_argument("--record", type=int, default=0, metavar="N",
                   help="also store the behaviour (W, activations, actions, rewards, values, observations at every "
                        "step) of the first N episodes, as a run stores recording.episodes (default 0)")
    p.add_argument("--out", metavar="FILE", help="also write the evaluation as a netCDF dataset")
    args = _parse_counts(p, argv, record=0)
    from .experiments.evaluate import evaluate
    from .analysis import summary_text

    ds = evaluate(args.results, episodes=args.episodes, overrides=args.overrides, seed=args.seed, agent=args.agent,
                  record=args.record, command=f"{p.prog} {shlex.join(argv)}")
    return _show(ds, summary_text(ds), args.out)


IMPAIR_DESCRIPTION = """\
Evaluate a trained agent of a MuJoCo task with each actuator frozen in turn (zero torque, --set
task.impair.frozen=[k]) and without, on the same fresh episodes; print the return retained per actuator (impaired /
unimpaired mean return) and its mean, and the share of the gain over a motionless body (zero action) retained,
(impaired - motionless) / (unimpaired - motionless), which still reads right where standing still earns a survival
bonus or returns are negative."""


def _impair(argv) -> int:
    p = _parser("impair", IMPAIR_DESCRIPTION)
    _stored_agent_arguments(p)
    p.add_argument("--out", metavar="FILE", help="also write the table as a netCDF dataset")
    args = _parse_counts(p, argv)
    from .experiments.impairment import impairment, impairment_text

    ds = impairment(args.results, episodes=args.episodes, seed=args.seed, agent=args.agent,
                    command=f"{p.prog} {shlex.join(argv)}")
    return _show(ds, impairment_text(ds), args.out)


def _compare(argv) -> int:
    p = _parser("compare", "Run several protocols on several seeds into one dataset DIR/compare.nc. The protocols "
                           "share the task and the evaluation; if they also share the agent, the rows are trainers "
                           "(dims trainer, seed; e.g. protocols/compare_harlow.yaml), otherwise agents, the meta-RL "
                           "families (dims agent, seed; e.g. protocols/compare_ml1_push.yaml).")
    p.add_argument("comparison", help="a comparison file: name, protocols, seeds, set")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a field of every run (repeatable)")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<name>/<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    from .analysis import comparison_table
    from .experiments import check_machine
    from .experiments.compare import ComparisonStopped, compare, read_comparison

    for spec in read_comparison(args.comparison, args.overrides)["specs"].values():
        check_machine(spec, args.comparison)
    _quiet_evotorch()
    try:
        path = compare(args.comparison, out_dir=args.out, overrides=args.overrides, progress=not args.quiet,
                       command=f"{p.prog} {shlex.join(argv)}")
    except ComparisonStopped as stopped:
        print(f"error: {stopped}", file=sys.stderr)
        return 130
    import xarray

    with xarray.open_dataset(path) as ds:
        table = comparison_table(ds)
        print(table.drop_dims("coef", errors="ignore").to_dataframe().to_string())     # kappa, beta: in the dataset
    print(f"wrote {path}")
    return 0


PLOT_DESCRIPTION = """\
Render the standard figures of a run or evaluation dataset, each as PNG and PDF, without a notebook:

  learning_curve           return per episode over environment steps: search centre (validation episodes),
                           population mean, task optimum; needs the training curve (a run's results.nc)
  ablation                 held-out return per variant of a sweep (a sweep's results.nc)
  correct_by_presentation  rewarded object chosen per presentation, 95% intervals, chance; needs eval_correct
  find_intervals           maze: steps to the first target reward, then between rewards; needs eval_find_step
  reward_curve             motor control: reward per time step within the test episodes, mean ± s.e.m., one
                           curve per direction rewarded where the episodes are labelled (goal_x); needs eval_reward
  impairment               share of the return kept with each actuator frozen (`impair --out` dataset)
  comparison               trainers or agents side by side: validation return over steps and over wall time,
                           one-shot score per presentation or success per rollout (a `compare` dataset)
  weight_pca               W on its first two principal components, steps around the first choice, episodes
                           coloured by that choice's outcome (the paper's two modes)
  first_outcome_in_W       leave-one-out decoding of the first outcome from W at every presentation's choice
  energy                   Hopfield energy -v'Wv around the first choice, by its outcome
  weight_change            sum |dW| per step against the reward the agent receives at that step

The last four read the recorded behaviour (W, activation, reward): a run stores recording.episodes of them,
`python -m metods_sim evaluate RESULTS.nc --record N --out FILE` stores N; the PCA, decoding and energy
figures need at least two recorded episodes of each first-choice outcome (Harlow). A figure whose data the
dataset lacks is skipped and named."""

PLOT_EPILOG = """\
examples:
  python -m metods_sim plot runs/harlow/20261125-120000        (writes runs/harlow/20261125-120000/results-figures/)
  python -m metods_sim plot data/harlow_recording.nc --out figs

exit status: 0 done, 2 bad input (a missing or unreadable file, or a dataset with nothing to plot)."""


def _plot(argv) -> int:
    p = _parser("plot", PLOT_DESCRIPTION, epilog=PLOT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", help="a run's results.nc (or its directory), or a dataset written by evaluate --out")
    p.add_argument("--out", metavar="DIR", help="folder for the figures (default: beside the dataset, named after "
                                                "it: .../results.nc -> .../results-figures/)")
    args = p.parse_args(argv)
    from .results import open_results

    ds = open_results(args.results)
    path = Path(args.results) / "results.nc" if Path(args.results).is_dir() else Path(args.results)
    import matplotlib

    matplotlib.use("Agg")   # files only: no display needed, none opened
    from .analysis.figures import FIGURES, save, standard_figures

    figures = standard_figures(ds)
    if not figures:
        raise ProtocolError(f"{args.results}: nothing to plot: expected a training curve (fitness_mean, "
                            f"center_return), eval_correct, or a recording (W, activation, reward, sample_length)")
    out = Path(args.out) if args.out else path.with_name(f"{path.stem}-figures")
    if out.exists() and not out.is_dir():
        raise ProtocolError(f"--out {out}: expected a folder for the figures, got an existing file")
    for name, figure in figures.items():
        print("wrote " + ", ".join(map(str, save(figure, out / name))))
    skipped = [name for name in FIGURES if name not in figures]
    if skipped:
        print(f"skipped (this dataset lacks what they need, see --help): {', '.join(skipped)}")
    return 0


def _fields(argv) -> int:
    print(fields_text())
    return 0


def fields_text() -> str:
    """Every protocol field with its default and meaning, section by section."""
    lines = []

    def block(prefix, fields):
        for key, field in fields.items():
            lines.append(f"  {prefix}{key}: {field.default!r}  ({field.expected()})")
            lines.extend("      " + line for line in textwrap.wrap(field.doc, 100))

    lines.append("top level")
    block("", TOP)
    for section, fields in SECTIONS.items():
        if section in KINDED:
            default_kind, what = KINDED[section]
            for kind, kind_fields in fields.items():
                mark = " (default)" if kind == default_kind else ""
                lines.append(f"{section} (kind: {kind}{mark})")
                block(f"{section}.", kind_fields)
        else:
            lines.append(section)
            block(f"{section}.", fields)
    return "\n".join(lines)


# python -m metods_sim COMMAND ARGS...: COMMANDS[COMMAND](ARGS); anything else is a protocol to run (`_run`)
COMMANDS = {"evaluate": _evaluate, "resume": _resume, "impair": _impair, "plot": _plot, "compare": _compare,
            "fields": _fields}
