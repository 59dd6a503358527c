"""Cached builds of the local services' binaries and jars: complete or absent, never half.

Kafka's jars (fetched by Maven), the Java Connect runtime's jars (``bench/``) and the control
plane's binaries (built by Go) are each one output directory under ``$KCONNECT_CACHE`` with a
marker file beside it. :func:`produce` keeps for all of them:

- **Only a complete output is ever used.** The output is written into a temporary sibling
  (``<name>.partial-*``) that is renamed into place once whole; only then is the marker written,
  holding the digest of the inputs (a pom, the Go modules and the build recipe) as they were when
  the build read them. An edited input has another digest, so it builds again. A failed or
  interrupted build leaves no marker and no output in place, so the next call starts over.
- **Concurrent builds of one output are serialized** by an ``flock`` on ``<home>.lock`` beside
  the output's parent directory ``<home>``; whoever waited finds the work done and returns.

The layout is part of the contract: ``$KCONNECT_CACHE/kafka-<v>/{libs,fetched}``,
``$KCONNECT_CACHE/controlplane-<tag>/{bin,built,build.log}`` and their ``.lock`` files are found
again as they are.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from kconnect_devenv import processes


def is_complete(output: Path, marker: Path, digest: str, required: Iterable[str] = ()) -> bool:
    """Whether ``marker`` holds ``digest`` and ``output`` is a directory holding ``required``."""
    with contextlib.suppress(OSError):
        return (
            marker.read_text("ascii").strip() == digest
            and output.is_dir()
            and all((output / name).is_file() for name in required)
        )
    return False


def produce(
    output: Path,
    marker: Path,
    digest: Callable[[], str],
    done: Callable[[], bool],
    write: Callable[[Path], None],
) -> Path:
    """``output``, written by ``write(partial_dir)`` unless ``done()`` already holds.

    ``digest()`` is taken before ``write`` runs, so it describes the inputs ``write`` reads even if
    they are edited meanwhile. Errors of ``write`` propagate and leave the cache as it was.
    """
    if done():
        return output
    home = output.parent
    home.mkdir(parents=True, exist_ok=True)
    with processes.locked(home.parent / f"{home.name}.lock"):
        if done():  # another process may have finished while this one waited for the lock
            return output
        inputs = digest()
        partial = Path(tempfile.mkdtemp(prefix=f"{output.name}.partial-", dir=home))
        try:
            write(partial)
            marker.unlink(missing_ok=True)
            if output.exists():
                shutil.rmtree(output)
            partial.rename(output)
            processes.write_atomically(marker, inputs + "\n")
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return output
