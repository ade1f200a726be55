"""Keep Python's cyclic garbage collector off the tape while it is recorded and swept.

A reverse-mode tape is acyclic by design (nodes point to their parents and hold only a weak
reference to their tape), so reference counting frees it as soon as its owner lets go. The
cyclic collector cannot know that: every ~700 allocations it walks the young objects, and
every few of those walks also the older ones, so on a long tape of small operations it
revisits the same nodes again and again (on a 10,000-op scalar chain about half the time).
:class:`paused` turns the collector off for the duration of a differentiation and puts it
back as it was, on every exit path (a return, an exception raised inside the traced
function) and under nesting (a gradient of a gradient: the inner pause finds the collector
already off and leaves it off).
"""

from __future__ import annotations

import gc


class paused:
    """Context manager: the collector disabled inside, restored to its previous state after.

    Cheaper than a ``contextlib.contextmanager`` (no generator); reusable but not reentrant
    (use a new instance per ``with``)."""

    __slots__ = ("was_enabled",)

    def __enter__(self) -> paused:
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()
        return self

    def __exit__(self, *exc) -> bool:
        if self.was_enabled:
            gc.enable()
        return False
