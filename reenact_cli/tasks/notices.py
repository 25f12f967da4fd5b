"""Notes printed after a run about inputs the method handles poorly.

A reenactment warps what the source photo shows; it cannot show what the
source never showed. Past a large head turn that gap becomes visible (the
README's "How well it works" and ``docs/large_turns.jpg`` show it), so
``reenact drive`` says when a result is in that regime instead of leaving
the user to wonder.
"""
from __future__ import annotations

from collections.abc import Sequence

#: Head turn (degrees between the source's pose and the reenacted one) past
#: which the known limits of a warp show: the face looks inset, with a smooth
#: strip beside it where the source never showed the side of the head.
LARGE_TURN_DEG = 30.0

_WHY = ("a warp can show only what the source photo showed, so the face may look inset with a smooth "
        "strip beside it (README: How well it works)")


def large_turn_note(turn_deg: float, source: str | None = None) -> str | None:
    """The line to print for one reenacted photo, or None if the turn is small."""
    if not turn_deg > LARGE_TURN_DEG:
        return None
    who = f"{source}: " if source else ""
    return (f"note: {who}the head turns {turn_deg:.0f}° from the source's pose; past about "
            f"{LARGE_TURN_DEG:.0f}° {_WHY}; a driver posed nearer the source looks more natural")


def large_turn_video_note(turns_deg: Sequence[float], relative: bool = False) -> str | None:
    """The line to print after a video run, given each frame's largest turn
    (over its sources), or None if no frame turned far. In absolute motion
    mode it suggests ``--motion relative``, which starts from the source's
    own pose instead of the driver's."""
    large = [t for t in turns_deg if t > LARGE_TURN_DEG]
    if not large:
        return None
    hint = "" if relative else "; --motion relative starts from the source's own pose"
    return (f"note: in {len(large)} of {len(turns_deg)} frames the head turns more than {LARGE_TURN_DEG:.0f}° "
            f"from the source's pose (up to {max(large):.0f}°); there {_WHY}{hint}")
