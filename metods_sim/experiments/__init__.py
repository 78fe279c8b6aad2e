"""The experiments layer: what a command line or a notebook starts. Siblings over two shared helpers:

    workspace   run directories: where, room, writability, what they hold; the machine check
    provenance  how a dataset was made: git revision (read when the work begins), versions, machine
    run         one run of a protocol: train, evaluate, write; resume one run from its checkpoint
    sweep       every variant × seed of a protocol's sweep section, gathered (calls run); and `run_protocol`,
                `resume_directory`, which send a protocol or directory with a sweep to the sweep, any other to run
    compare     several trainers × seeds into one dataset (calls sweep.run_protocol)
    evaluate    a trained agent re-evaluated on fresh episodes
    impairment  a motor agent with each actuator frozen in turn (calls evaluate)

Each imports only the modules listed above it (and the layers below): no module imports its caller.
`experiments.run(spec)` and `experiments.resume(dir)` are `run_protocol` and `resume_directory` (so the name
`experiments.run` is that function; the module is `metods_sim.experiments.run` in sys.modules, and
`from metods_sim.experiments.run import ...` reads it).
"""
from __future__ import annotations

from .provenance import git_revision
from .sweep import resume_directory as resume
from .sweep import run_protocol as run
from .sweep import run_sweep
from .workspace import OutputError, check_machine

__all__ = ["run", "resume", "run_sweep", "check_machine", "OutputError", "git_revision"]
