"""Prepare one video for several platforms: plan each, render each distinct target once, check.

Encoding runs in a process pool (``spawn``: no inherited threads or event loop), never in the
caller's thread, so an ``async`` caller stays responsive (a stream copy, I/O-bound, runs in the
calling thread: async callers go through ``asyncio.to_thread``); ``progress(platform, fraction)`` is called
from a helper thread of the caller while the workers encode. Every output is probed again and
planned against its platform's rules: ``valid`` means the new plan has nothing left to do.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multipublish.errors import InputError, MediaError, UnknownPlatformError
from multipublish.media.prepare import renditions
from multipublish.media.prepare.plan import FITS, Plan, Target, plan_for
from multipublish.media.probe import probe
from multipublish.media.rules import RuleSet

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float], None]


@dataclass(slots=True)
class _Job:
    target: Target
    final: Path
    platforms: list[str] = field(default_factory=list)
    error: str | None = None


def prepare_video_for_platforms(
    video_path: str | Path,
    platforms: Iterable[str],
    rules: RuleSet,
    out_dir: str | Path,
    *,
    trim: bool = False,
    fit: str = "pad",
    progress: ProgressCallback | None = None,
    prune_limits: renditions.PruneLimits | None = None,
    max_workers: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Per platform (as given) ``{"path", "actions", "valid"}``, plus ``"error"`` when not valid.

    ``path`` is the original file when nothing needed fixing, else the rendition; a platform whose
    file cannot be fixed has ``valid: False`` and the reason in ``error`` (naming the file). Only
    an empty platform list or a bad ``fit`` raise (``InputError``). With ``prune_limits``, old
    renditions in ``out_dir`` are removed afterwards (the default cache folder).
    """
    if fit not in FITS:
        raise InputError("fit", f"must be one of {', '.join(FITS)}, got {fit!r}")
    names = list(dict.fromkeys([platforms] if isinstance(platforms, str) else platforms))
    if not names:
        raise InputError("platforms", "no platform given")
    source = Path(video_path)
    result: dict[str, dict[str, Any]] = {}
    try:
        info = probe(source)
    except MediaError as exc:
        return {name: _failed([], f"{exc.path}: {exc.reason}") for name in names}

    plans: dict[str, Plan] = {}
    for name in names:
        try:
            rule = rules.for_platform(name)
        except (UnknownPlatformError, KeyError) as exc:
            result[name] = _failed([], getattr(exc, "reason", None) or f"no rules for {name}")
            continue
        plan = plan_for(info, rule, trim=trim, fit=fit)
        plans[name] = plan
        if plan.error is not None:
            result[name] = _failed([], f"{source}: {plan.error}")
        elif plan.target is None:
            result[name] = {"path": str(source), "actions": [], "valid": True}

    wanted = {name: plan for name, plan in plans.items() if plan.target is not None}
    if wanted:
        jobs = _render_all(source, wanted, Path(out_dir), progress, max_workers)
        for name, plan in wanted.items():
            assert plan.target is not None
            job = jobs[plan.target.key]
            actions = list(plan.actions)
            if job.error is not None:
                result[name] = _failed(actions, job.error)
            else:
                result[name] = _check(job.final, rules, name, actions)
        if prune_limits is not None:
            keep = {job.final for job in jobs.values() if job.error is None}
            for path in renditions.prune(Path(out_dir), prune_limits, keep):
                log.info("pruned rendition %s", path.name)
    return {name: result[name] for name in names}


def plan_errors(
    video_path: str | Path, platforms: Iterable[str], rules: RuleSet, *, trim: bool = False, fit: str = "pad"
) -> dict[str, str | None]:
    """Per platform the reason its file could not be fixed, or None (fixable or already valid).

    Cheap (a probe and the plans, no encoding): lets a request with ``auto_fix`` be refused at
    once when preparation could not help, before anything is queued.
    """
    names = list(dict.fromkeys([platforms] if isinstance(platforms, str) else platforms))
    try:
        info = probe(video_path)
    except MediaError as exc:
        return {name: f"{exc.path}: {exc.reason}" for name in names}
    out: dict[str, str | None] = {}
    for name in names:
        try:
            rule = rules.for_platform(name)
        except (UnknownPlatformError, KeyError) as exc:
            out[name] = getattr(exc, "reason", None) or f"no rules for {name}"
            continue
        plan = plan_for(info, rule, trim=trim, fit=fit)
        out[name] = f"{video_path}: {plan.error}" if plan.error else None
    return out


def _failed(actions: list[str], reason: str) -> dict[str, Any]:
    return {"path": None, "actions": actions, "valid": False, "error": reason}


def _check(path: Path, rules: RuleSet, name: str, actions: list[str]) -> dict[str, Any]:
    """Probe the rendition and plan it again: valid when nothing is left to do."""
    try:
        plan = plan_for(probe(path), rules.for_platform(name))
    except MediaError as exc:
        return _failed(actions, f"{path}: the rendition does not read back ({exc.reason})")
    entry: dict[str, Any] = {"path": str(path), "actions": actions, "valid": plan.nothing_to_do}
    if not plan.nothing_to_do:
        left = plan.error or ", ".join(plan.actions)
        entry["error"] = f"{path}: still not valid after preparation ({left})"
    return entry


def _render_all(
    source: Path,
    plans: dict[str, Plan],
    out_dir: Path,
    progress: ProgressCallback | None,
    max_workers: int | None,
) -> dict[str, _Job]:
    """One job per distinct target; existing renditions are reused, the others rendered."""
    jobs: dict[str, _Job] = {}
    folder_error = _prepare_folder(out_dir)
    for name, plan in plans.items():
        target = plan.target
        assert target is not None
        job = jobs.setdefault(target.key, _Job(target=target, final=out_dir, error=folder_error))
        job.platforms.append(name)
    if folder_error is not None:
        return jobs
    ident = renditions.identity(source)
    keys = {(ident, key) for key in jobs}
    with _claims_lock:  # one writer per rendition in this process (two platforms, two threads)
        while keys & _claims:
            _claims_lock.wait(timeout=1.0)
        _claims.update(keys)
    try:
        _render_claimed(source, ident, jobs, out_dir, progress, max_workers)
    finally:
        with _claims_lock:
            _claims.difference_update(keys)
            _claims_lock.notify_all()
    return jobs


#: Renditions being written by this process, by (source identity, target key), so a second
#: caller waits and then reuses them.
_claims: set[tuple[renditions.Identity, str]] = set()
_claims_lock = threading.Condition()


def _render_claimed(
    source: Path,
    ident: renditions.Identity,
    jobs: dict[str, _Job],
    out_dir: Path,
    progress: ProgressCallback | None,
    max_workers: int | None,
) -> None:
    """Name each job by the source's digest, reuse what exists, render the rest.

    A digest not known yet is computed in a thread while the stream copies run (a copy costs
    about what hashing costs, so a remux-only fix no longer pays for both in turn): they are
    written under a temporary name, renamed to their rendition once the digest is known, or
    dropped when a rendition of this content exists already or the file changed meanwhile.
    Encodes, minutes long and possibly cached, wait for the digest.
    """
    digest = renditions.known_digest(ident)
    early: dict[str, Path] = {}
    early_errors: dict[str, str] = {}
    if digest is None:
        hashing: Future[str] = Future()
        thread = threading.Thread(target=_hash_into, args=(source, hashing), name="prepare-hash", daemon=True)
        thread.start()
        try:
            for key, job in jobs.items():
                if job.target.remux_only:
                    name = renditions.early_name(source, key, job.target.container)
                    temp = renditions.temp_path(out_dir / name)
                    error = _write_temp(str(source), job.target, temp, _reporter(job, progress))
                    if error is None:
                        early[key] = temp
                    else:
                        early_errors[key] = error
        finally:
            digest = hashing.result()  # the thread ends on its own; a hashing error is raised here
        if renditions.identity(source) != ident:  # rewritten meanwhile: what was copied may be either
            for temp in early.values():
                _remove(temp)
            early.clear()
            early_errors.clear()
            digest = renditions.content_hash(source)
    todo: list[_Job] = []
    for key, job in jobs.items():
        job.final = out_dir / renditions.rendition_name(source, digest, key, job.target.container)
        copied = early.pop(key, None)
        if job.final.exists():
            if copied is not None:
                _remove(copied)
            renditions.touch(job.final)
            if progress is not None:
                for name in job.platforms:
                    progress(name, 1.0)
        elif copied is not None:
            job.error = _commit(str(source), copied, job.final)
        elif key in early_errors:
            job.error = early_errors[key]
        else:
            todo.append(job)
    for job in [job for job in todo if job.target.remux_only]:  # I/O: in the caller's thread
        job.error = _render_job(str(source), job.target, str(job.final), _reporter(job, progress))
    encodes = [job for job in todo if not job.target.remux_only]
    if encodes:
        _run_pool(source, encodes, progress, max_workers)


def _hash_into(source: Path, future: Future[str]) -> None:
    try:
        future.set_result(renditions.content_hash(source))
    except BaseException as exc:  # handed to the waiting caller
        future.set_exception(exc)


def _reporter(job: _Job, progress: ProgressCallback | None) -> Callable[[float], None] | None:
    if progress is None:
        return None
    callback = progress

    def report(fraction: float) -> None:
        for name in job.platforms:
            callback(name, fraction)

    return report


def _prepare_folder(out_dir: Path) -> str | None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"output folder {out_dir}: cannot create it ({exc.strerror or exc})"
    if not out_dir.is_dir():
        return f"output folder {out_dir}: not a folder"
    if not os.access(out_dir, os.W_OK | os.X_OK):
        return f"output folder {out_dir}: not writable"
    return None


def _run_pool(
    source: Path, todo: list[_Job], progress: ProgressCallback | None, max_workers: int | None
) -> None:
    ctx = multiprocessing.get_context("spawn")
    updates: Any = ctx.Queue()
    workers = max(1, min(len(todo), max_workers or os.cpu_count() or 1))
    stop = threading.Event()
    by_key = {job.target.key: job for job in todo}

    def relay() -> None:
        while not stop.is_set():
            try:
                key, fraction = updates.get(timeout=0.1)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if progress is not None and key in by_key:
                for name in by_key[key].platforms:
                    try:
                        progress(name, fraction)
                    except Exception:  # a caller's progress hook must not stop the encode
                        log.exception("progress callback failed")

    thread = threading.Thread(target=relay, name="prepare-progress", daemon=True)
    thread.start()
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(updates,)
        ) as pool:
            futures: list[tuple[_Job, Future[str | None]]] = [
                (job, pool.submit(_render_job, str(source), job.target, str(job.final))) for job in todo
            ]
            for job, future in futures:
                try:
                    job.error = future.result()
                except Exception as exc:  # a worker died (killed, out of memory): its temporary
                    # file, hidden and never taken for a rendition, goes with the next prune
                    job.error = f"{source}: preparation failed ({type(exc).__name__}: {exc})"
    finally:
        stop.set()
        thread.join(timeout=2)
        updates.close()


# -- in the worker process -----------------------------------------------------------------------

_updates: Any = None


def _init_worker(updates: Any) -> None:
    global _updates
    _updates = updates
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit is an error to report, not a kill
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="prepare-orphan", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this encoder when the process that asked for it is gone (killed: a queue worker's
    SIGKILL does not reach its pool), instead of encoding on for nobody. Its temporary file stays
    hidden, never taken for a rendition, and goes with the next prune."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _render_job(
    source: str, target: Target, final: str, progress: Callable[[float], None] | None = None
) -> str | None:
    """Render to a temporary file and rename it; the error message (naming the file) or None.

    In a pool worker progress goes through the queue set up by ``_init_worker``.
    """
    final_path = Path(final)
    temp = renditions.temp_path(final_path)

    def report(fraction: float) -> None:
        if progress is not None:
            progress(fraction)
        elif _updates is not None:
            _updates.put((target.key, fraction))

    return _write_temp(source, target, temp, report) or _commit(source, temp, final_path)


def _write_temp(
    source: str, target: Target, temp: Path, progress: Callable[[float], None] | None
) -> str | None:
    """Write ``target`` of ``source`` to ``temp``; the error message (``temp`` removed) or None."""
    import av

    from multipublish.media.prepare.encode import RenditionTooLarge, render

    try:
        render(source, target, str(temp), progress)
    except RenditionTooLarge as exc:
        _remove(temp)
        return f"{source}: cannot bring it under the size limit ({exc})"
    except OSError as exc:
        _remove(temp)
        return f"{source}: cannot write in {temp.parent}: {_os_reason(exc)}"
    except av.FFmpegError as exc:
        _remove(temp)
        if _is_space_error(exc):
            return f"{source}: cannot write in {temp.parent}: {_os_reason(exc)}"
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"{source}: cannot be prepared (FFmpeg: {reason})"
    return None


def _commit(source: str, temp: Path, final: Path) -> str | None:
    """Flush and rename ``temp`` to ``final``; the error message (``temp`` removed) or None."""
    try:
        renditions.commit(temp, final)
    except OSError as exc:
        _remove(temp)
        return f"{source}: cannot write {final.name} in {final.parent}: {_os_reason(exc)}"
    return None


def _os_reason(exc: OSError | Exception) -> str:
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device"
    if code == errno.EFBIG:
        return "the file would be over the largest file size allowed (file system or process limit)"
    return getattr(exc, "strerror", None) or str(exc)


def _is_space_error(exc: Exception) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
