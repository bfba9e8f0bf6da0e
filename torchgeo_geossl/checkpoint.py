"""Checkpoints that are never half-written: write a temporary file, then rename it.

Lightning's :class:`~lightning.fabric.plugins.io.TorchCheckpointIO` writes local
checkpoints through an fsspec transaction whose temporary file lives in the system's
temporary directory, not beside the checkpoint. When that directory is on another
file system (a tmpfs ``/tmp``, a scratch disk), committing is a copy into the target
path: ``last.ckpt`` is truncated first, and a full disk in the middle of the copy
leaves a partial file where the previous good checkpoint was. Nothing is flushed to
disk before the rename either, so a power cut can lose both.
:class:`AtomicCheckpointIO` writes beside the target, flushes, and replaces the
target in one rename; the tasks of this package install it (:func:`use_atomic_io`).
"""

import contextlib
import errno
import io
import os
import pickle
import re
import shutil
import socket
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch import Callback, LightningModule, Trainer

#: Bytes written per ``os.write`` call.
_CHUNK = 64 * 2**20


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous file at its path is intact.

    Keeps the ``errno`` of the underlying error (``errno.ENOSPC`` for a full disk)
    and chains it as ``__cause__``.

    .. versionadded:: 0.1
    """


def _write_all(fd: int, data: memoryview) -> None:
    """Write every byte of *data* to a file descriptor.

    Args:
        fd: An open file descriptor.
        data: The bytes.
    """
    while data:
        written = os.write(fd, data[:_CHUNK])
        data = data[written:]


def _fsync_directory(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk, where the OS supports it.

    Args:
        directory: The directory.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _human(size: int) -> str:
    """A byte count with a binary unit.

    Args:
        size: Number of bytes.

    Returns:
        For example ``'1.5 MiB'``.
    """
    value = float(size)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if value < 1024:
            return f'{value:.1f} {unit}'
        value /= 1024
    return f'{value:.1f} TiB'


class CheckpointReadError(OSError):
    """A checkpoint file is empty, truncated or not a PyTorch checkpoint.

    Raised by :func:`read_checkpoint` (and so by ``--ckpt_path``, ``weights=`` and
    ``geossl-export``) instead of torch's ``EOFError`` or unpickling and zip
    errors; the message names the file, its size and what is wrong with it.

    .. versionadded:: 0.2
    """


def read_checkpoint(
    path: str | os.PathLike[str],
    *,
    map_location: Any = 'cpu',
    weights_only: bool | None = True,
    what: str = 'checkpoint',
) -> Any:
    """Load a local checkpoint file with a clear error when it is damaged.

    Args:
        path: The file.
        map_location: Passed to :func:`torch.load`.
        weights_only: Passed to :func:`torch.load`.
        what: What the file is for, in messages (``'checkpoint'``,
            ``'weights='``, ...).

    Returns:
        What :func:`torch.load` returns.

    Raises:
        FileNotFoundError: If *path* does not exist or is a folder.
        CheckpointReadError: If it is empty, truncated or not a PyTorch file.

    .. versionadded:: 0.2
    """
    file = Path(os.fspath(path))
    if not file.is_file():
        kind = 'a folder' if file.is_dir() else 'missing'
        msg = f'{what} {file} is {kind}: expected a checkpoint file'
        raise FileNotFoundError(errno.ENOENT, msg, str(file))
    size = file.stat().st_size
    if size == 0:
        msg = (
            f'{what} {file} is empty (0 bytes): it was never written completely, '
            'for example by a run killed while saving. Use an earlier checkpoint.'
        )
        raise CheckpointReadError(errno.EIO, msg)
    try:
        return torch.load(file, map_location=map_location, weights_only=weights_only)
    except (EOFError, RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        if (
            weights_only
            and isinstance(err, pickle.UnpicklingError)
            and ('Weights only load failed' in str(err))
        ):
            raise
        msg = (
            f'{what} {file} ({_human(size)}) is truncated or not a PyTorch '
            f'checkpoint: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else "no detail"}. '
            'Use an intact checkpoint (an interrupted copy or download leaves a '
            'partial file).'
        )
        raise CheckpointReadError(errno.EIO, msg) from err


class AtomicCheckpoints(Callback):
    """Install :class:`AtomicCheckpointIO` before any checkpoint is read or written.

    Added by the tasks of this package (``configure_callbacks``); its ``setup`` runs
    before Lightning restores ``--ckpt_path``, so damaged checkpoints are reported
    by :func:`read_checkpoint` there too.

    .. versionadded:: 0.2
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Install the checkpoint IO (:func:`use_atomic_io`).

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: The stage that starts.
        """
        use_atomic_io(trainer)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write local checkpoints atomically; a failed write keeps the previous file.

    :meth:`save_checkpoint` serialises the checkpoint in memory first (as Lightning
    does), writes it to a temporary file in the target's directory, flushes it to
    disk (``fsync``) and renames it over the target (:func:`os.replace`, atomic on
    POSIX and Windows). Readers, and a run resumed after a crash, see either the
    previous checkpoint or the new one, never a partial file. If the write fails
    (a full disk, a quota, an I/O error), the temporary file is removed, the
    previous checkpoint is left as it was and :class:`CheckpointWriteError` says
    which path failed, why, and how much space was free.

    A process killed while writing (``SIGKILL``, a power cut) leaves its temporary
    file behind, as large as a checkpoint. Temporary files are named after the
    target, the host and the process id; before each write, those of the same
    target left by processes of this host that no longer run are removed, with a
    warning naming them, and others that look abandoned are named in a warning.

    Remote paths (``s3://``, ``gs://``, ...) are written by
    :class:`~lightning.fabric.plugins.io.TorchCheckpointIO`, whose object stores
    replace an object only when its upload completes.

    Loading local checkpoints goes through :func:`read_checkpoint`, which names a
    damaged file; removing them is TorchCheckpointIO's.

    .. versionadded:: 0.1
    """

    def save_checkpoint(
        self,
        checkpoint: dict[str, Any],
        path: _PATH,
        storage_options: Any | None = None,
    ) -> None:
        """Save a checkpoint to *path* atomically.

        Args:
            checkpoint: The checkpoint dictionary (anything :func:`torch.save`
                accepts).
            path: The target file.
            storage_options: Not supported (as in TorchCheckpointIO).

        Raises:
            TypeError: If *storage_options* is given.
            CheckpointWriteError: If the file cannot be written; the previous file
                at *path*, if any, is unchanged.
        """
        if storage_options is not None:
            msg = (
                f'{type(self).__name__}.save_checkpoint does not support '
                f'storage_options, got {storage_options!r}'
            )
            raise TypeError(msg)
        target = _local_path(path)
        if target is None:
            super().save_checkpoint(checkpoint, path)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(target)
        buffer = _serialise(checkpoint)
        fd, temporary = tempfile.mkstemp(
            prefix=f'.{target.name}.{socket.gethostname()}-{os.getpid()}.',
            suffix='.tmp',
            dir=target.parent,
        )
        try:
            try:
                _write_all(fd, buffer)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(temporary, _file_mode(target))
            os.replace(temporary, target)
        except OSError as err:
            _remove_quietly(temporary)
            raise _write_error(err, target, len(buffer)) from err
        except BaseException:
            _remove_quietly(temporary)
            raise
        _fsync_directory(target.parent)

    def load_checkpoint(
        self,
        path: _PATH,
        map_location: Callable[..., Any] | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load a checkpoint; a damaged local file gets a clear error.

        Args:
            path: The checkpoint.
            map_location: Passed to :func:`torch.load`.
            weights_only: Passed to :func:`torch.load`.

        Returns:
            The checkpoint.

        Raises:
            FileNotFoundError: If a local *path* does not exist.
            CheckpointReadError: If a local file is empty or truncated.
        """
        if _local_path(path) is None:
            return super().load_checkpoint(path, map_location, weights_only)
        checkpoint: dict[str, Any] = read_checkpoint(
            path, map_location=map_location, weights_only=weights_only
        )
        return checkpoint


def _clean_leftovers(target: Path) -> None:
    """Remove the temporary files of interrupted writes of *target*.

    Args:
        target: The checkpoint about to be written.
    """
    pattern = re.compile(
        rf'^\.{re.escape(target.name)}\.(?:(?P<host>.+)-(?P<pid>\d+)\.)?[^.]+\.tmp$'
    )
    host = socket.gethostname()
    removed: list[str] = []
    kept: list[str] = []
    for path in target.parent.glob(f'.{target.name}.*.tmp'):
        match = pattern.match(path.name)
        if match is None:
            continue
        size = _human(path.stat().st_size) if path.exists() else '0 B'
        pid = match['pid']
        if match['host'] == host and pid is not None and not _running(int(pid)):
            _remove_quietly(str(path))
            removed.append(f'{path} ({size})')
        elif pid is None or match['host'] != host:
            kept.append(f'{path} ({size})')
    if removed:
        warnings.warn(
            f'Removed {len(removed)} temporary file(s) left by an interrupted '
            f'checkpoint write: {", ".join(removed)}',
            UserWarning,
            stacklevel=4,
        )
    if kept:
        warnings.warn(
            f'{len(kept)} temporary checkpoint file(s) of another host or of an '
            f'older version may be left by an interrupted write: {", ".join(kept)}; '
            'delete them if no other process is writing this checkpoint',
            UserWarning,
            stacklevel=4,
        )


def _running(pid: int) -> bool:
    """Whether a process of this host runs with the id *pid*.

    Args:
        pid: A process id.

    Returns:
        True if it exists (or cannot be signalled for lack of permission).
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _local_path(path: _PATH) -> Path | None:
    """The absolute local path of a checkpoint path, or None for a remote one.

    Args:
        path: A path or URL.

    Returns:
        The path on the local file system (a ``file://`` prefix removed), or None.
    """
    protocol = get_filesystem(path).protocol
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    if 'file' not in protocols:
        return None
    return Path(os.fspath(path).removeprefix('file://')).absolute()


def _file_mode(target: Path) -> int:
    """Permissions for a checkpoint file (temporary files are created 0600).

    Args:
        target: The checkpoint path.

    Returns:
        The mode of the file being replaced, else ``0o666`` less the umask, as
        :func:`open` would create it.
    """
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _serialise(checkpoint: dict[str, Any]) -> memoryview:
    """The bytes :func:`torch.save` writes for *checkpoint*.

    Args:
        checkpoint: The checkpoint.

    Returns:
        A view of the serialised bytes.
    """
    stream = io.BytesIO()
    torch.save(checkpoint, stream)
    return stream.getbuffer()


def _remove_quietly(path: str) -> None:
    """Remove a file that may already be gone.

    Args:
        path: The file.
    """
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _write_error(err: OSError, target: Path, size: int) -> CheckpointWriteError:
    """A clear error for a failed checkpoint write.

    Args:
        err: The error of the write, flush or rename.
        target: The checkpoint path.
        size: Size of the serialised checkpoint in bytes.

    Returns:
        The error to raise, with *err*'s errno.
    """
    try:
        free = f'{_human(shutil.disk_usage(target.parent).free)} free'
    except OSError:
        free = 'free space unknown'
    kept = (
        f'the previous checkpoint at {target} is unchanged'
        if target.exists()
        else f'no file was created at {target}'
    )
    hint = (
        ' Free space or point the checkpoint callback (dirpath) at a larger disk.'
        if err.errno in (errno.ENOSPC, errno.EDQUOT)
        else ''
    )
    msg = (
        f'could not write the checkpoint {target} ({_human(size)}; {free} on its '
        f'disk): {err.strerror or err}; {kept}.{hint}'
    )
    return CheckpointWriteError(err.errno or errno.EIO, msg)


def use_atomic_io(trainer: Trainer) -> bool:
    """Make a trainer write checkpoints with :class:`AtomicCheckpointIO`.

    Only Lightning's default plugin is replaced: a checkpoint IO chosen by the user
    (``Trainer(plugins=...)``, an asynchronous or a strategy-specific one) is kept.

    Args:
        trainer: The trainer.

    Returns:
        True if the trainer now writes with AtomicCheckpointIO.

    .. versionadded:: 0.1
    """
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = AtomicCheckpointIO()
    return isinstance(strategy.checkpoint_io, AtomicCheckpointIO)
