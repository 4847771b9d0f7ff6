"""The progress bar of long runs, and Ctrl-C that saves before it stops."""

import contextlib
import signal
import time


def eta_seconds(first: tuple[float, int] | None, now: tuple[float, int],
                total: int) -> float | None:
    """Time left, from the rate between the end of the first chunk and now ((seconds, env steps)
    pairs): the first chunk's time holds the compilation, so it is left out. None until a second
    chunk has run."""
    if now[1] >= total:
        return 0.0
    if first is None or now[1] <= first[1]:
        return None
    rate = (now[0] - first[0]) / (now[1] - first[1])
    return rate * (total - now[1])


class Progress:
    """A tqdm bar over env steps whose remaining-time estimate is `eta_seconds`'s (tqdm's own
    would count compilation as run time: minutes left at 2% of a 10 s run)."""

    def __init__(self, total: int, desc: str, disable: bool = False):
        from tqdm import tqdm

        self.total, self._first = total, None
        self._bar = tqdm(total=total, unit="step", disable=disable, desc=desc,
                         bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")

    def update(self, done: int, **postfix) -> None:
        now = (time.perf_counter(), done)
        eta = eta_seconds(self._first, now, self.total)
        self._first = self._first or now
        left = "after 2 chunks" if eta is None else _clock(eta)
        self._bar.update(done - self._bar.n)
        self._bar.set_postfix(left=left, **postfix)

    def close(self) -> None:
        self._bar.close()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@contextlib.contextmanager
def deferred_interrupt():
    """Within the block, a first Ctrl-C only sets a flag (the run saves a checkpoint at the end of
    its chunk and stops); a second one aborts at once. Yields `interrupted() -> bool`."""
    seen: list[bool] = []
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):
        if seen:  # a second Ctrl-C: stop now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        seen.append(True)
        print("\ninterrupt: saving at the end of this chunk (Ctrl-C again to abort)", flush=True)

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)
