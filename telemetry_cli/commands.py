"""The ``telemetry`` commands, one function each; :mod:`telemetry_cli.app` groups them.

Each parses, asks ``consent`` (what decides, what the user writes) or ``tracking`` (the id,
the log, the spool, the collector), and hands the result to a view (:mod:`~telemetry_cli.render`,
:mod:`~telemetry_cli.events_view`, :mod:`~telemetry_cli.delivery_view`) to print.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, TypeVar

import click

from consent import Decision, ReadContext, RefusedByPolicy
from consent.advice import plan_change
from consent.layers import Scope, writable_in
from consent.values import printable
from tracking import StateError, TrackedProfile, TrackingError

from ._base import (
    EXIT_EXPECTATION,
    EXIT_REFUSED,
    Binding,
    app_option,
    binding_of,
    emit_json,
    one_line_errors,
    profile_of,
    require_cwd,
)

__all__ = [
    "COMMANDS",
    "collector",
    "completion",
    "disable",
    "enable",
    "events",
    "log",
    "reset",
    "status",
    "upload",
]

_F = TypeVar("_F", bound=Callable[..., Any])


# -- status ---------------------------------------------------------------------------------------
@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option(
    "--expect",
    type=click.Choice(["on", "off"]),
    default=None,
    help="Exit 1 when the decision is not this (for CI guards).",
)
@click.option(
    "--project-dir",
    "project_dir",
    type=click.Path(exists=True, file_okay=True, dir_okay=True),
    default=None,
    metavar="PATH",
    help="The project's directory, as the tool's own --project-dir names it: its project file "
    "is read exactly, with no upward search.",
)
@click.pass_context
@one_line_errors
def status(
    ctx: click.Context,
    app: str | None,
    as_json: bool,
    expect: str | None,
    project_dir: str | None,
) -> None:
    """Whether tracking is on, which setting decides, and how to change it."""
    from consent.shell_startup import shell_status
    from tracking.endpoint import endpoint_for
    from tracking.state import read_anonymous_id

    from .delivery_view import spool_warning, waiting_lines, waiting_summary

    profile = profile_of(ctx, app)
    require_cwd()
    decision = binding_of(ctx).decide(profile, project_dir)
    collector, problem = endpoint_for(profile, os.environ)
    unsafe = spool_warning(profile) if collector is not None else None
    if unsafe is not None:
        decision = replace(decision, warnings=(*decision.warnings, unsafe))
    anonymous_id = (decision.enabled and _ci_anonymous_id(collector)) or read_anonymous_id(profile)
    waiting = waiting_summary(profile)
    shell = shell_status(profile, os.environ)
    if as_json:
        doc = decision.to_json(anonymous_id=anonymous_id, collector=collector)
        doc["waiting"] = waiting
        doc["shell_startup"] = shell.to_json()
        emit_json(doc)
    else:
        from .render import UNWRAPPED, is_plain, make_console, status_view

        console = make_console()
        console.print(
            status_view(
                decision,
                profile,
                anonymous_id=anonymous_id,
                collector=collector,
                collector_problem=problem,
                width=console.width if console.is_terminal else UNWRAPPED,
                plain=is_plain(console),
                shell=shell,
            )
        )
        for line in waiting_lines(waiting):
            console.print(line, highlight=False, markup=False)
    if expect is not None and (expect == "on") != decision.enabled:
        click.echo(
            f"telemetry: expected {expect}, but it is {'on' if decision.enabled else 'off'}",
            err=True,
        )
        ctx.exit(EXIT_EXPECTATION)


# -- enable / disable -----------------------------------------------------------------------------
def _ci_anonymous_id(collector: str | None) -> str | None:
    """In CI, the id this run's events carry when they are sent to ``collector``: the CI
    vendor's constant (docs/delivery.md, "Events sent from CI"), never a per-container id."""
    if collector is None:
        return None
    from consent.ci import detect_ci
    from tracking.ids import ci_anonymous_id

    ci = detect_ci(os.environ)
    return None if ci is None else ci_anonymous_id(ci.vendor)


def _scope_options(func: _F) -> _F:
    func = click.option(
        "--shell",
        "shell",
        is_flag=True,
        help="Write the tool's variable in your shell startup files, for every new shell "
        "(the way for a tool that reads no user config of ours, such as dbt).",
    )(func)
    func = click.option(
        "--project",
        "project",
        is_flag=True,
        help="Write to the nearest project file, for everyone in the project.",
    )(func)
    decorated: _F = click.option(
        "--global",
        "global_",
        is_flag=True,
        help="Write to your user config, for you everywhere (default where the tool reads it).",
    )(func)
    return decorated


def _scope(project: bool, global_: bool, shell: bool) -> Scope | None:
    """The scope asked for on the command line; None when none was."""
    chosen = [
        name
        for name, on in (("--project", project), ("--global", global_), ("--shell", shell))
        if on
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be used together; pick one")
    if project:
        return "project"
    if shell:
        return "shell"
    return "global" if global_ else None


@click.command()
@app_option
@_scope_options
@click.pass_context
@one_line_errors
def disable(ctx: click.Context, app: str | None, project: bool, global_: bool, shell: bool) -> None:
    """Opt out of anonymous usage statistics."""
    _change(ctx, app, False, _scope(project, global_, shell))


@click.command()
@app_option
@_scope_options
@click.pass_context
@one_line_errors
def enable(ctx: click.Context, app: str | None, project: bool, global_: bool, shell: bool) -> None:
    """Opt back in to anonymous usage statistics."""
    _change(ctx, app, True, _scope(project, global_, shell))


def _change(ctx: click.Context, app: str | None, enabled: bool, scope: Scope | None) -> None:
    from consent.layers.project_file import project_file_for
    from consent.readings import reading_of

    from .render import one_line

    binding = binding_of(ctx)
    profile = profile_of(ctx, app)
    require_cwd()
    decision = binding.decide(profile)
    if scope is None:
        reads_user = reading_of(profile).reads("user_config")
        scope = "global" if reads_user else _ask_scope(ctx, decision, enabled, profile)
    if scope == "project":
        project_file_for(profile)  # fails early and clearly outside a project
    outcome = plan_change(decision, enabled, scope, profile)
    if outcome.refused:
        raise RefusedByPolicy(outcome.reason or "refused by policy")
    if scope == "shell":
        _change_shell(ctx, binding, profile, enabled)
        return
    path, notes = writable_in(scope).write(ReadContext.now(profile), enabled)
    after = binding.decide(profile)
    verb = "enabled" if enabled else "disabled"
    where = "for everyone in this project" if scope == "project" else "for you, everywhere"
    click.echo(f"Telemetry {verb} {where} ({printable(path)}).")
    for note in notes:
        click.echo(printable(note))
    click.echo(one_line(after, profile))
    if not after.enabled:
        _drop_waiting(profile)
    if after.enabled != enabled:
        reason = _why_not_applied(after, enabled, scope, profile)
        if reason is None:
            # Our write reads back as written and nothing above blocks it: another process
            # changed a setting between our write and this read. Say that, not "refused".
            click.echo(
                "telemetry: note: another process changed the telemetry settings at the "
                "same moment; run the status command to see what applies now",
                err=True,
            )
            return
        click.echo(f"telemetry: warning: {printable(reason)}", err=True)
        ctx.exit(EXIT_REFUSED)


def _ask_scope(
    ctx: click.Context, decision: Decision, enabled: bool, profile: TrackedProfile
) -> Scope:
    """No scope given, for a tool that reads no user config of ours (dbt): on a terminal, ask
    once which file to write (cancel by default); elsewhere refuse, naming both commands. A
    file the user did not choose is never written."""
    import sys

    from consent import NoProjectFile
    from consent.layers.project_file import project_file_for
    from tracking.prompt import why_not_ask

    from .render import short_path

    refusal = plan_change(decision, enabled, "global", profile).reason or "refused"
    if why_not_ask(os.environ, sys.stderr) is not None or not sys.stdout.isatty():
        raise RefusedByPolicy(refusal)
    cmd, verb = profile.telemetry_command, "enable" if enabled else "disable"
    try:
        project: str | None = project_file_for(profile)
    except NoProjectFile:
        project = None
    where = "off" if not enabled else "back on"
    choices: list[tuple[str, Scope | None]] = []
    if project is not None:
        choices.append(
            (
                f"this project, for everyone in it ({short_path(project)}; "
                f"`{cmd} {verb} --project`)",
                "project",
            )
        )
    choices.append((f"all my shells: every new shell of yours (`{cmd} {verb} --shell`)", "shell"))
    choices.append(("cancel: change nothing", None))
    lines = [f"{profile.label} reads no user config of ours. Turn telemetry {where} for:"]
    lines += [f"  {i}. {text}" for i, (text, _) in enumerate(choices, 1)]
    click.echo("\n".join(lines), err=True)
    keys = [str(i) for i in range(1, len(choices) + 1)]
    try:
        picked = click.prompt(
            "Choose",
            type=click.Choice(keys),
            default=keys[-1],
            show_choices=True,
            err=True,
        )
    except click.Abort:
        picked = keys[-1]
        click.echo("", err=True)
    scope = choices[int(picked) - 1][1]
    if scope is None:
        click.echo("Cancelled; nothing was written.", err=True)
        ctx.exit(EXIT_REFUSED)
    return scope


def _change_shell(
    ctx: click.Context, binding: Binding, profile: TrackedProfile, enabled: bool
) -> None:
    """``--shell``: the block in the startup files, then what a new shell decides."""
    from consent.advice import explain_winner, steps_to
    from consent.shell_startup import apply_edits, plan_shell_change, source_hint
    from consent.values import env_bool

    from .render import one_line, short_path

    var = profile.env_var
    edits, unchanged = plan_shell_change(profile, enabled, os.environ)
    apply_edits(edits)
    changed = ", ".join(printable(e.path) or "" for e in edits)
    kept = ", ".join(printable(p) or "" for p in unchanged)
    if enabled:
        if edits:
            click.echo(f"Telemetry opt-out removed from your shell startup files: {changed}.")
        else:
            click.echo(
                f"No shell startup file holds the opt-out of `{profile.telemetry_command} "
                "disable --shell`; nothing was changed."
            )
    elif edits:
        also = f" (already in {kept})" if kept else ""
        click.echo(
            f"Telemetry disabled for {profile.label} in every new shell: {var}=false written "
            f"to {changed}{also}."
        )
    else:
        click.echo(
            f"Telemetry was already disabled for {profile.label} in new shells ({kept}); "
            "nothing was changed."
        )
    new_env = {k: v for k, v in os.environ.items() if k != var}
    if not enabled:
        new_env[var] = "false"
    here = os.environ.get(var)
    hint = short_path(source_hint(profile, os.environ))
    if not enabled and (here is None or env_bool(here) is not False):
        click.echo(
            f"This shell is not changed: open a new one, or run `source {hint}` "
            f"(or `export {var}=false`)."
        )
    elif enabled and here is not None:
        click.echo(
            f"This shell still has {var}={printable(here)}: open a new one, or `unset {var}`."
        )
    if not enabled:
        click.echo(
            "Startup files do not reach cron jobs, services, or editors and IDEs started "
            "outside a shell; in CI, set DO_NOT_TRACK=1 in the job."
        )
    after = binding.decide(profile, env=new_env)
    click.echo(f"In a new shell: {one_line(after, profile)}")
    if not after.enabled:
        _drop_waiting(profile)
    if after.enabled != enabled:
        steps = ", then ".join(steps_to(after, enabled, profile)) or "see the status command"
        click.echo(
            f"telemetry: warning: {'removed' if enabled else 'written'}, but it does not "
            f"decide in a new shell: {printable(explain_winner(after))}; {printable(steps)}",
            err=True,
        )
        ctx.exit(EXIT_REFUSED)


def _why_not_applied(
    after: Decision, enabled: bool, scope: Scope, profile: TrackedProfile
) -> str | None:
    """Why a choice just written does not decide, or None when only a concurrent change can
    explain it."""
    layer = after.layer(writable_in(scope).name)
    if layer.opinion == ("on" if enabled else "off") and not layer.is_error:
        return plan_change(after, enabled, scope, profile).reason
    if layer.warnings:
        # The file holds the choice, but the reading does not take it (dbt drops every flag
        # when one of them has the wrong type): the layer's own warning says why.
        return f"your choice was written but does not apply: {layer.warnings[0]}"
    return None


def _drop_waiting(profile: TrackedProfile) -> None:
    """``disable`` (when it turns telemetry off) and ``reset``: nothing recorded before may go."""
    from .delivery_view import clear_waiting

    try:
        dropped = clear_waiting(profile)
    except OSError as exc:
        click.echo(
            f"telemetry: warning: events waiting to be sent could not all be deleted "
            f"({exc.strerror or exc}); they are checked again before they are sent",
            err=True,
        )
        return
    if dropped:
        click.echo(f"Deleted {dropped:,} events that were waiting to be sent.")


# -- reset ----------------------------------------------------------------------------------------
@click.command()
@app_option
@click.pass_context
@one_line_errors
def reset(ctx: click.Context, app: str | None) -> None:
    """Forget the anonymous id; a new one is made at the next tracked run."""
    from tracking.state import forget_anonymous_id, paths, read_anonymous_id

    profile = profile_of(ctx, app)
    old = read_anonymous_id(profile)
    forget_anonymous_id(profile)
    # The local log holds the events sent under the old id: it goes too, or `telemetry log`
    # would keep showing the id the user just asked to forget.
    log_path = paths(profile).log
    try:
        os.unlink(log_path)
        cleared = " and the local log of the events sent with it"
    except FileNotFoundError:
        cleared = ""
    except OSError as exc:
        raise StateError(
            f"{log_path}: could not be removed ({exc.strerror or exc}), so the events sent "
            f"with the old anonymous id are still listed. Fix: make "
            f"{os.path.dirname(log_path)} writable, or delete the file yourself"
        ) from exc
    _drop_waiting(profile)
    if old:
        click.echo(
            f"Forgot the anonymous id {old}{cleared}. A new one is made the next time an "
            "event is sent."
        )
    else:
        also = " (the local log of sent events was cleared)" if cleared else ""
        click.echo(
            f"There was no anonymous id to forget{also}. One is made only when an event is sent."
        )


# -- events ---------------------------------------------------------------------------------------
@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.pass_context
@one_line_errors
def events(ctx: click.Context, app: str | None, as_json: bool) -> None:
    """Every event and context that may be sent: fields, types, examples."""
    from .events_view import catalog_document, render_catalog

    doc = catalog_document(profile_of(ctx, app))
    if as_json:
        emit_json(doc)
        return
    from .render import make_console

    render_catalog(make_console(), doc)


# -- log ------------------------------------------------------------------------------------------
@click.command()
@app_option
@click.option(
    "-n",
    "--last",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="How many of the newest events to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_context
@one_line_errors
def log(ctx: click.Context, app: str | None, last: int, as_json: bool) -> None:
    """The last events actually sent from this machine."""
    from tracking.state import paths, read_log

    from .delivery_view import waiting_records

    profile = profile_of(ctx, app)
    sent = read_log(profile, last)
    waiting = waiting_records(profile, last)
    records = (sent + waiting)[-last:]
    if as_json:
        emit_json(records)
        return
    waiting = [r for r in records if "waiting_since" in r]
    records = [r for r in records if "waiting_since" not in r]
    log_path = paths(profile).log
    if waiting:
        _show_waiting(profile, waiting, records)
        return
    if not records and _has_content(log_path):
        # Something is there, and none of it is an event: say so, rather than "none sent".
        click.echo(
            f"{ctx.find_root().info_name or 'telemetry'}: {printable(log_path)} "
            "holds no readable events (it is damaged). Fix: delete it; it is written "
            "again when events are sent",
            err=True,
        )
        return
    if not records:
        click.echo(
            f"No events have been sent from this machine for {profile.label}.\n"
            f"Events are logged in {log_path} when they are actually sent; nothing is "
            "sent while telemetry is off, and nothing before the first-run notice was shown."
        )
        return
    from .render import make_console

    console = make_console()
    console.print(f"The last {len(records)} events sent for {profile.label} (oldest first):")
    for record in records:
        console.print_json(data=record)


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _show_waiting(
    profile: TrackedProfile, waiting: list[dict[str, Any]], sent: list[dict[str, Any]]
) -> None:
    from .render import make_console

    console = make_console()
    if sent:
        console.print(f"The last {len(sent)} events sent for {profile.label} (oldest first):")
        for record in sent:
            console.print_json(data=record)
    console.print(
        f"{len(waiting)} events waiting to be sent for {profile.label} (oldest first; "
        "each also gets the platform and invocation contexts when it is sent):"
    )
    for record in waiting:
        console.print_json(data=record)


# -- upload ---------------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    """A refused value, quoted and short enough that the usage error stays one line."""
    text = str(value)
    return repr(text if len(text) <= 10 else text[:9] + "…")


class _Seconds(click.FloatRange):
    """A bounded number of seconds. click's FloatRange lets ``nan`` through (every comparison
    with it is false): here it, ``inf`` and anything out of range are one short usage error."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and self.min <= number <= self.max):  # type: ignore[operator]
            self.fail(f"{_shown(value)} is not from {self.min} to {self.max} seconds.")
        return number


class _Count(click.IntRange):
    """A bounded count: a huge one is one short usage error, not an internal one further on."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not self.min <= number <= self.max:  # type: ignore[operator]
            self.fail(f"{_shown(value)} is not from {self.min} to {self.max}.")
        return number


@click.command()
@app_option
@click.option(
    "--wait",
    type=_Seconds(0, 600),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait at most this long for the collector.",
)
@click.pass_context
@one_line_errors
def upload(ctx: click.Context, app: str | None, wait: float) -> None:
    """Send the events waiting on this machine now (e.g. as the last step of a CI job)."""
    from .delivery_view import upload_now

    lines, _left = upload_now(profile_of(ctx, app), wait)
    for line in lines:
        click.echo(printable(line))


# -- collector ------------------------------------------------------------------------------------
@click.command()
@click.option(
    "--host",
    default=None,
    metavar="ADDRESS",
    help="Address to bind (default 127.0.0.1; anything else only when given).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9090,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--max-events",
    type=_Count(1, 10_000_000),
    default=100_000,
    show_default=True,
    help="Good and bad events kept, each; older ones are evicted and counted.",
)
@click.option(
    "--max-bytes",
    type=_Count(1024 * 1024, 1 << 40),
    default=256 * 1024 * 1024,
    show_default=True,
    help="Bytes the kept events may take in all; older ones are evicted and counted.",
)
@click.option("--verbose", is_flag=True, help="One line per request on stderr.")
@one_line_errors
def collector(host: str | None, port: int, max_events: int, max_bytes: int, verbose: bool) -> None:
    """Run a local Snowplow collector that validates events (for development and tests)."""
    from telemetry_collector import bind_problem, serve_forever

    def banner(url: str) -> None:
        click.echo(
            f"Snowplow collector listening on {url} (Ctrl-C to stop). "
            f"Events: {url}/micro/ui (page), {url}/micro/all, /micro/good, /micro/bad",
            err=True,
        )

    address = host or "127.0.0.1"
    try:
        # Loopback unless the user names another address: a collector must not be reachable
        # from the network by accident.
        serve_forever(
            address,
            port,
            max_events=max_events,
            max_bytes=max_bytes,
            verbose=verbose,
            allow_non_loopback=host is not None,
            on_ready=banner,
        )
    except OSError as exc:
        raise TrackingError(
            f"the collector cannot start: {bind_problem(address, port, exc)}"
        ) from exc


# -- completion -----------------------------------------------------------------------------------
@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: Literal["bash", "zsh", "fish"]) -> None:
    """Print the shell completion script (eval it in your shell's rc file)."""
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    prog = root.info_name or "telemetry"
    cls = get_completion_class(shell)
    assert cls is not None
    var = f"_{prog.replace('-', '_').upper()}_COMPLETE"
    click.echo(cls(root.command, {}, prog, var).source())


#: Every command, in the order ``--help`` lists them.
COMMANDS: tuple[click.Command, ...] = (
    status,
    disable,
    enable,
    reset,
    events,
    log,
    upload,
    collector,
    completion,
)
