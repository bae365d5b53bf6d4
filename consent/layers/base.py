"""What every layer answers: its name, how it reads, what it watches, how it is described and
changed. One subclass per layer (or per pair that reads one file), each in its own module.

The order of the layers is not here: it is the one tuple ``consent.layers.LAYERS``. The resolver
reads the class attributes below (which layers share one level, which are managed), ``advice``
asks :meth:`LayerSource.step`, ``status`` asks :meth:`LayerSource.describe`; nothing switches on
a layer's name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple

from .._model import Layer, Opinion

if TYPE_CHECKING:
    from ..context import ReadContext
    from ..profile import AppProfile

__all__ = ["EnvironmentLayer", "LayerSource", "Scope", "Step", "Want", "Written", "command"]

#: Where ``telemetry enable/disable`` writes: ``--global`` (the user config), ``--project``, or
#: ``--shell`` (the startup files of the user's shells, :mod:`consent.shell_startup`).
Scope = Literal["global", "project", "shell"]
Want = Literal["on", "off"]


class Step(NamedTuple):
    """One move towards another decision: what the user does, and what it changes.

    ``text`` is the command or sentence shown; after it, the layer named ``layer`` says
    ``opinion``. ``layer`` None: nothing the user can do goes further (only an administrator,
    or another edition), and the walk of :func:`consent.advice.steps_to` ends there.
    """

    text: str
    layer: str | None = None
    opinion: Opinion = None


class Written(NamedTuple):
    """What ``telemetry enable/disable`` wrote: the file, and anything else it had to change."""

    #: The file as the user names it; a symlink edited where it points: ``link → file``.
    path: str
    notes: tuple[str, ...] = ()


class LayerSource:
    """One layer of the decision (see docs/decision.md).

    Subclasses set ``name`` (the contract name in ``status --json``) and ``title`` (the words
    ``status`` shows), implement :meth:`read`, and override what differs below.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    #: Set by the tool's vendor or the machine's administrator: no user setting changes it, a
    #: write against it is refused, and it decides even for a host that refuses to run.
    managed: ClassVar[bool] = False
    #: Layers that declare the same level stand together, one after the other in the order:
    #: an opt-out in any of them wins over an opt-in in another (the opt-out sticks).
    level: ClassVar[str | None] = None
    #: At or below the user's own level: ``telemetry disable`` (the user config) turns it off.
    below_user: ClassVar[bool] = False
    #: Read from a file that a later command can change for good (the uploader reads it again
    #: before sending what an earlier run recorded); the others belong to the run that read them.
    lasting: ClassVar[bool] = False
    #: ``--global`` / ``--project`` / ``--shell``: the scope in which ``telemetry enable/disable``
    #: writes this layer.
    scope: ClassVar[Scope | None] = None
    #: The user's own word: "on" here is an explicit yes, so sending may start in that very run
    #: (docs/delivery.md, "When sending may start"). A project file or a default written by
    #: someone else is not.
    users_yes: ClassVar[bool] = False
    #: "off" here is somebody's choice, which the cloud edition lists as noted but overridden;
    #: a default that only reflects where the process runs (CI) is not an opt-out.
    choice: ClassVar[bool] = True

    def read(self, ctx: ReadContext) -> Layer:
        """What this layer says now, with its origin. Never raises: a problem is an ``error``
        layer (counted as off) with one warning naming the file, the key and the fix."""
        raise NotImplementedError

    def stamp(self, layer: Layer) -> Layer:
        """``layer`` with what the model cannot ask this class for (it imports no layer): the
        title ``status`` shows, and whether an "off" here is somebody's choice."""
        if layer.title == self.title and layer.choice == self.choice:
            return layer
        return replace(layer, title=self.title, choice=self.choice)

    def watched(self, ctx: ReadContext) -> tuple[str, ...]:
        """The files whose change could change what :meth:`read` says (none: it reads no file)."""
        return ()

    def write(self, ctx: ReadContext, enabled: bool) -> Written:
        """Write the user's choice in this layer (only layers with a ``scope`` can). Raises a
        :class:`~consent.errors.ConsentError` naming the file and the fix when it cannot."""
        raise NotImplementedError(f"the {self.title} is not written by telemetry enable/disable")

    # -- words -----------------------------------------------------------------------------------
    def assignment(self, layer: Layer) -> str | None:
        """``NAME=value`` for a layer read from a variable, else None."""
        return None

    def describe(self, layer: Layer) -> str:
        """The "decided by …" phrase of ``status`` and of a refusal."""
        return f"the {self.title}" + (f" ({layer.origin})" if layer.origin else "")

    def opt_out_reference(self, layer: Layer) -> str:
        """How the cloud edition's warning names this opt-out ("your opt-out … is noted")."""
        return f"{self.title} ({layer.origin})" if layer.origin else self.title

    # -- changing it -----------------------------------------------------------------------------
    def step(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        """The one move that takes this deciding layer out of the way of ``want``.

        A layer in error is repaired (:meth:`repair`); an opt-out at or below the user's level
        is ``telemetry disable`` (it sticks there, whatever the project or defaults say);
        anything else is :meth:`change`.
        """
        if layer.is_error:
            return self.repair(layer, want, profile)
        if want == "off" and self.below_user:
            return opt_out_step(profile)
        return self.change(layer, want, profile)

    def rewrite(self, layer: Layer, step: Step, want: Want, profile: AppProfile | None) -> Step:
        """``step`` (another layer's move) as this layer, saying ``layer`` now, would have it
        shown; unchanged by default. The CI default names a variable instead of a user config
        that a CI job's container would lose."""
        return step

    def repair(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        """A file or value that cannot be read counts as off: the fix is to repair it (its
        warning says how)."""
        return Step(f"fix {layer.origin or self.title} (see the warning)", self.name, want)

    def change(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        if want == "off":
            return opt_out_step(profile)
        return Step(f"{command(profile)} enable", "user_config", want)


class EnvironmentLayer(LayerSource):
    """A layer read from environment variables: named as ``NAME=value``, repaired by unsetting."""

    def assignment(self, layer: Layer) -> str | None:
        return f"{layer.origin}={layer.raw}"

    def describe(self, layer: Layer) -> str:
        return f"{self.assignment(layer)} in your environment"

    def repair(self, layer: Layer, want: Want, profile: AppProfile | None) -> Step:
        return Step(f"unset {layer.origin}", self.name, None)


def opt_out_step(profile: AppProfile | None) -> Step:
    """The user's own opt-out, for them everywhere: ``telemetry disable``; for a host that does
    not read our user config (dbt), ``telemetry disable --shell``: the variable it does read,
    exported by every new shell."""
    from ..readings import reading_of

    if profile is not None and not reading_of(profile).reads("user_config"):
        return Step(f"{command(profile)} disable --shell", "env_var", "off")
    return Step(f"{command(profile)} disable", "user_config", "off")


def command(profile: AppProfile | None) -> str:
    """How the user reaches the ``telemetry`` commands (``mytool telemetry`` when mounted)."""
    return profile.telemetry_command if profile is not None else "telemetry"
