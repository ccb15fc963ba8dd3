"""Programme facts as data files, and the loader behind `python -m app seed [FILE]`."""

from pathlib import Path

DEFAULT_SEED = Path(__file__).parent / "zl7.toml"
