import re
from pathlib import Path

from setuptools import find_packages, setup

version = {"__version__": re.search(r'__version__ = "([^"]+)"',
                                    (Path(__file__).parent / "metods_sim" / "version.py").read_text()).group(1)}

setup(
    name="metods-sim",
    version=version["__version__"],
    description="Meta-reinforcement learning with self-modifying synapses (MetODS): Numba kernels, EvoTorch "
                "meta-training, YAML protocols, xarray results",
    long_description=(Path(__file__).parent / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["metods_sim", "metods_sim.*"]),
    install_requires=[
        "numpy>=1.26",
        "numba>=0.60",
        "scipy>=1.11",
        # torch comes with evotorch; on CPU-only machines install torch==2.13.0 first (see README)
        "torch>=2.1",
        "evotorch>=0.6",
        "ray>=2.9",
        "xarray>=2024.1",
        "netCDF4>=1.6",
        "pyyaml>=6",
        "gymnasium[mujoco]>=1.0",
        # the motor-control tasks' physics; Meta-World pins exactly this version
        "mujoco==3.3.0",
        "metaworld==3.1.1",
        "tqdm>=4.60",
        "matplotlib>=3.8",
    ],
    # the notebooks in analysis/ are executed by the tests with a real kernel
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3.5", "nbformat>=5.9", "nbclient>=0.10", "ipykernel>=6.29"]},
    entry_points={"console_scripts": ["metods-sim=metods_sim.cli:main"]},
)
