"""Installs symdiff_tf: symbolic music diffusion over MusicVAE latents, in TensorFlow and Keras 3.

The stack is pinned to the versions measured together in ../shared/docs/environment.md. magenta is
only a reference for parity tests and benchmarks: it is installed separately with ``--no-deps`` (see the
Makefile) and never imported by the library.
"""
import pathlib

from setuptools import find_packages, setup

# The shipped default model travels in the wheel as package data of `symdiff_tf.default_model` (a folder without
# code, mapped onto saved_models/default): its README and its highest numbered version, found at run time by
# `symdiff_tf.paths.default_model_root()`.
MODEL_VERSIONS = sorted((p.name for p in pathlib.Path("saved_models/default").glob("*") if p.name.isdigit()), key=int)
MODEL_DATA = ["README.md", f"{MODEL_VERSIONS[-1]}/**/*"] if MODEL_VERSIONS else []

STACK = [
    "tensorflow==2.21.0",
    "keras==3.15.1",
    "tf-keras==2.21.0",  # tensorflow-probability needs it even for tfp.distributions
    "tensorflow-probability==0.25.0",
    "tensorflow-datasets==4.9.10",
    "note-seq==0.0.5",
    "pretty_midi==0.2.11.post0",
    "mido==1.3.3",
    "numpy==2.4.6",
    "protobuf==6.33.6",  # Apache Beam needs protobuf < 7
    "scipy==1.17.1",
    "matplotlib==3.11.2",
    "PyYAML==6.0.3",
    "tqdm==4.70.1",
    "tensorboard==2.21.0",  # to open the logs both trainers write (tensorflow 2.21 no longer installs it)
]

EXTRAS = {
    # mlcroissant: `tfds build`; dask, distributed: `tfds build lakh_midi` on a Dask cluster (tfds_lakh/README.md)
    "beam": ["apache-beam==2.77.0", "pyarrow==25.0.1", "mlcroissant==1.1.1", "dask==2026.8.0",
             "distributed==2026.8.0"],
    "test": ["pytest==9.2.0", "pytest-xdist==3.8.0", "tf-slim==1.1.0", "dill==0.4.1"],  # dill: tfds.testing
}

setup(
    name="symdiff_tf",
    version="0.1.0",
    description="Symbolic music generation with diffusion models over MusicVAE latents (TensorFlow, Keras 3)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["symdiff_tf", "symdiff_tf.*", "tfds_lakh", "tfds_lakh.*"])
    + ["symdiff_tf.default_model"],
    package_dir={"symdiff_tf.default_model": "saved_models/default"},
    package_data={"tfds_lakh": ["*.tsv", "*.bib", "*.md", "dummy_data/**/*"], "symdiff_tf.default_model": MODEL_DATA},
    include_package_data=True,
    install_requires=STACK,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["symdiff = symdiff_tf.cli:main"]},
)
