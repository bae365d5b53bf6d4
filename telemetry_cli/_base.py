"""What every command shares: the host's binding, ``--app``, one-line errors, exit codes."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from consent import DEFAULT_PROFILE, AppProfile, ConsentError, Decision, decide, known_profiles
from consent.values import printable
from tracking import StateError, TrackedProfile, TrackingError, tracked

EXIT_OK, EXIT_EXPECTATION, EXIT_USAGE, EXIT_REFUSED, EXIT_WRITE = 0, 1, 2, 3, 4
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 --expect not met; 2 usage error; 3 refused or not in effect (the "
    "cloud edition, an admin lock, a setting above yours, a file that cannot be edited safely); "
    "4 a write failed (a read-only file or directory, a full disk)."
)
#: Set to see the traceback behind a one-line error (a broken plugin profile, an internal error).
TRACEBACK_ENV = "TELEMETRY_CONSENT_TRACEBACK"

_F = TypeVar("_F", bound=Callable[..., Any])


class Binding:
    """What a host binds the commands to: its profile, and its own flag and edition if it has
    them (a click host passes them to :func:`telemetry_cli.telemetry_group`)."""

    def __init__(
        self,
        profile: AppProfile | None = None,
        host_flag: bool | None = None,
        edition: str | None = None,
    ) -> None:
        self.profile: TrackedProfile | None = tracked(profile) if profile is not None else None
        self.host_flag = host_flag
        self.edition = edition

    def decide(
        self,
        profile: TrackedProfile,
        project_dir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Decision:
        """The decision for ``profile``, with the host's flag and edition when it is the
        host's own; ``project_dir``: the project directory named on the command line; ``env``:
        another environment than this process's (a new shell's, after ``--shell``)."""
        bound = profile is self.profile
        return decide(
            profile,
            host_flag=self.host_flag if bound else None,
            edition=self.edition if bound else None,
            project_dir=project_dir,
            env=env,
        )


class TelemetryGroup(click.Group):
    """The ``telemetry`` group, bound to a host (its own ``--app`` default, flag and edition)."""

    def __init__(self, binding: Binding, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.binding = binding


def _group_context(ctx: click.Context) -> click.Context | None:
    here: click.Context | None = ctx
    while here is not None:
        if isinstance(here.command, TelemetryGroup):
            return here
        here = here.parent
    return None


def binding_of(ctx: click.Context) -> Binding:
    """The binding of the group this command runs in (a bare command: the built-in one)."""
    group = _group_context(ctx)
    if group is None:
        return Binding()
    command = group.command
    assert isinstance(command, TelemetryGroup)
    return command.binding


def profile_of(ctx: click.Context, app: str | None) -> TrackedProfile:
    """The profile a command works on: ``--app`` (on the command, else on the group), else the
    host's own, else the built-in dbt one."""
    from consent import get_profile

    group = _group_context(ctx)
    app = app or (group.params.get("app") if group is not None else None)
    if app:
        return tracked(get_profile(app))
    return binding_of(ctx).profile or tracked(DEFAULT_PROFILE)


def _no_empty_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter(
            f"needs the name of an app profile (known: {', '.join(sorted(known_profiles()))})"
        )
    return value


class _AppOption(click.Option):
    """``--app NAME``, whose help names the default this group really has (a host's own)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        bound = binding_of(ctx).profile
        default = (
            f"{bound.name}, this tool's own"
            if bound is not None
            else f"{DEFAULT_PROFILE.name}, the built-in dbt-compatible one"
        )
        self.help = f"The app profile to use (default: {default})."
        return super().get_help_record(ctx)


def app_option(func: _F) -> _F:
    """``--app NAME`` on a command or the group."""
    decorated: _F = click.option(
        "--app", "app", metavar="NAME", default=None, callback=_no_empty_app, cls=_AppOption
    )(func)
    return decorated


def report(prog: str, exc: BaseException) -> None:
    """The one line of an error, and the traceback behind it when TELEMETRY_CONSENT_TRACEBACK is
    set (a plugin's author needs to see where their profile fails)."""
    click.echo(f"{prog}: {printable(str(exc))}", err=True)
    cause = exc.__cause__
    if cause is not None and os.environ.get(TRACEBACK_ENV):
        import traceback

        click.echo("".join(traceback.format_exception(cause)).rstrip(), err=True)


def exit_code_of(exc: ConsentError | TrackingError) -> int:
    """The exit code of an error a command raised on purpose."""
    if isinstance(exc, ConsentError):
        return exc.exit_code
    return EXIT_WRITE if isinstance(exc, StateError) else EXIT_USAGE


def one_line_errors(func: _F) -> _F:
    """Turn an error raised on purpose into its one-line message and exit code, also when the
    commands are mounted in a host (where :func:`telemetry_cli.run` is not there to catch it)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ConsentError, TrackingError) as exc:
            ctx = click.get_current_context()
            report(ctx.find_root().info_name or "telemetry", exc)
            ctx.exit(exit_code_of(exc))

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


def require_cwd() -> None:
    """One clear line when the working directory was deleted under the shell."""
    try:
        os.getcwd()
    except FileNotFoundError as exc:
        raise ConsentError(
            "the working directory no longer exists (it was deleted or moved), so no project "
            "can be found. Fix: cd to an existing directory and run the command again"
        ) from exc


def emit_json(doc: Any) -> None:
    # ASCII-only JSON: valid everywhere, whatever the terminal's encoding, and no raw control
    # characters from odd paths can reach a terminal.
    click.echo(json.dumps(doc, indent=2, ensure_ascii=True))
