"""Command definitions of the ``telemetry`` CLI (click)."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence

import click

from ..values import printable
from ..advice import plan_change
from ..decide import decide
from ..errors import ConsentError, RefusedByPolicy, WriteError
from ..profile import DEFAULT_PROFILE, AppProfile, get_profile, known_profiles

EXIT_OK, EXIT_EXPECTATION, EXIT_USAGE, EXIT_REFUSED, EXIT_WRITE = 0, 1, 2, 3, 4
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 --expect not met; 2 usage error; 3 refused or not in effect (the "
    "cloud edition, an admin lock, a setting above yours, a file that cannot be edited safely); "
    "4 a write failed (a read-only file or directory, a full disk)."
)
#: Set to see the traceback behind a one-line error (a broken plugin profile, an internal error).
TRACEBACK_ENV = "TELEMETRY_CONSENT_TRACEBACK"


class Binding:
    """What a host binds the commands to: its profile, and its own flag and edition if it has them."""

    def __init__(self, profile: AppProfile | None = None, host_flag: bool | None = None,
                 edition: str | None = None, app: str | None = None):
        self.profile = profile
        self.host_flag = host_flag
        self.edition = edition
        #: ``--app`` given to the group itself (``telemetry --app x status``).
        self.app = app

    def resolve_profile(self, app: str | None) -> AppProfile:
        if app:
            return get_profile(app)
        return self.profile or DEFAULT_PROFILE

    def decide(self, profile: AppProfile):
        bound = profile is self.profile
        return decide(profile, host_flag=self.host_flag if bound else None,
                      edition=self.edition if bound else None)


def _no_empty_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter(
            f"needs the name of an app profile (known: {', '.join(sorted(known_profiles()))})")
    return value


def _app_option(bound: AppProfile | None):
    """``--app NAME``; its help names the default this group really has (a host's own)."""
    default = (f"{bound.name}, this tool's own" if bound is not None
               else f"{DEFAULT_PROFILE.name}, the built-in dbt-compatible one")

    def decorate(func):
        return click.option(
            "--app", "app", metavar="NAME", default=None, expose_value=True,
            callback=_no_empty_app,
            help=f"The app profile to use (default: {default}).",
        )(func)

    return decorate


def _require_cwd() -> None:
    """One clear line when the working directory was deleted under the shell."""
    try:
        os.getcwd()
    except FileNotFoundError as exc:
        raise ConsentError(
            "the working directory no longer exists (it was deleted or moved), so no project "
            "can be found. Fix: cd to an existing directory and run the command again") from exc


def _report(prog: str, exc: BaseException) -> None:
    """The one line of an error, and the traceback behind it when TELEMETRY_CONSENT_TRACEBACK is
    set (a plugin's author needs to see where their profile fails)."""
    click.echo(f"{prog}: {printable(str(exc))}", err=True)
    cause = exc.__cause__
    if cause is not None and os.environ.get(TRACEBACK_ENV):
        import traceback

        click.echo("".join(traceback.format_exception(cause)).rstrip(), err=True)


def _profile(ctx: click.Context, app: str | None) -> AppProfile:
    binding: Binding = ctx.find_object(Binding) or Binding()
    return binding.resolve_profile(app or binding.app)


def _one_line_errors(func):
    """Turn a ConsentError into its one-line message and exit code, also when mounted in a host.

    Inside a host's own click CLI, ``run()`` is not there to catch it, so each command does.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConsentError as exc:
            ctx = click.get_current_context()
            _report(ctx.find_root().info_name or "telemetry", exc)
            ctx.exit(exc.exit_code)

    return wrapper


def _collector(profile: AppProfile) -> tuple[str | None, str | None]:
    try:
        from tracking.endpoint import endpoint_for
    except Exception:  # noqa: BLE001 - tracking not importable: say nothing rather than crash
        return profile.collector_endpoint, None
    return endpoint_for(profile, os.environ)


def _emit_json(doc) -> None:
    # ASCII-only JSON: valid everywhere, whatever the terminal's encoding, and no raw control
    # characters from odd paths can reach a terminal.
    click.echo(json.dumps(doc, indent=2, ensure_ascii=True))


def _status(ctx, app, as_json, expect):
    from ..state import read_anonymous_id

    binding: Binding = ctx.find_object(Binding) or Binding()
    profile = _profile(ctx, app)
    _require_cwd()
    decision = binding.decide(profile)
    anonymous_id = read_anonymous_id(profile)
    collector, problem = _collector(profile)
    from .delivery_view import waiting_lines, waiting_summary

    waiting = waiting_summary(profile)
    if as_json:
        doc = decision.to_json(anonymous_id=anonymous_id, collector=collector)
        doc["waiting"] = waiting
        _emit_json(doc)
    else:
        from .render import UNWRAPPED, is_plain, make_console, status_view

        console = make_console()
        console.print(status_view(decision, profile, anonymous_id=anonymous_id,
                                  collector=collector, collector_problem=problem,
                                  width=console.width if console.is_terminal else UNWRAPPED,
                                  plain=is_plain(console)))
        for line in waiting_lines(waiting):
            console.print(line, highlight=False, markup=False)
    if expect is not None and (expect == "on") != decision.enabled:
        click.echo(f"telemetry: expected {expect}, but it is {'on' if decision.enabled else 'off'}",
                   err=True)
        ctx.exit(EXIT_EXPECTATION)


def _change(ctx, app, enabled: bool, scope: str):
    from ..context import ReadContext
    from ..layers import writable_in
    from ..layers.project_file import project_file_for
    from .render import one_line

    binding: Binding = ctx.find_object(Binding) or Binding()
    profile = _profile(ctx, app)
    _require_cwd()
    decision = binding.decide(profile)
    if scope == "project":
        project_file_for(profile)  # fails early and clearly outside a project
    outcome = plan_change(decision, enabled, scope, profile)  # type: ignore[arg-type]
    if outcome.refused:
        raise RefusedByPolicy(outcome.reason or "refused by policy")
    path, notes = writable_in(scope).write(ReadContext.now(profile), enabled)  # type: ignore[arg-type]
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
            click.echo("telemetry: note: another process changed the telemetry settings at the "
                       "same moment; run the status command to see what applies now", err=True)
            return
        click.echo(f"telemetry: warning: {printable(reason)}", err=True)
        ctx.exit(EXIT_REFUSED)


def _why_not_applied(after, enabled: bool, scope: str, profile: AppProfile) -> str | None:
    """Why a choice just written does not decide, or None when only a concurrent change can
    explain it."""
    from ..layers import writable_in

    layer = after.layer(writable_in(scope).name)  # type: ignore[arg-type]
    if layer.opinion == ("on" if enabled else "off") and not layer.is_error:
        return plan_change(after, enabled, scope, profile).reason  # type: ignore[arg-type]
    if layer.warnings:
        # The file holds the choice, but the reading does not take it (dbt drops every flag
        # when one of them has the wrong type): the layer's own warning says why.
        return f"your choice was written but does not apply: {layer.warnings[0]}"
    return None


def _scope_options(func):
    func = click.option("--project", "project", is_flag=True,
                        help="Write to the nearest project file, for everyone in the project.")(func)
    func = click.option("--global", "global_", is_flag=True,
                        help="Write to your user config, for you everywhere (default).")(func)
    return func


def _scope(project: bool, global_: bool) -> str:
    if project and global_:
        raise click.UsageError("--project and --global cannot be used together; pick one")
    return "project" if project else "global"


def _events(ctx, app, as_json):
    from .events_view import catalog_document, render_catalog

    profile = _profile(ctx, app)
    doc = catalog_document(profile)
    if as_json:
        _emit_json(doc)
        return
    from .render import make_console

    render_catalog(make_console(), doc)


def _log(ctx, app, last, as_json):
    from ..state import paths, read_log
    from .delivery_view import waiting_records

    profile = _profile(ctx, app)
    sent = read_log(profile, last)
    waiting = waiting_records(profile, last)
    records = (sent + waiting)[-last:]
    if as_json:
        _emit_json(records)
        return
    waiting = [r for r in records if "waiting_since" in r]
    records = [r for r in records if "waiting_since" not in r]
    if waiting:
        _show_waiting(profile, waiting, records)
        return
    if not records and _has_content(paths(profile).log):
        # Something is there, and none of it is an event: say so, rather than "none sent".
        click.echo(f"{ctx.find_root().info_name or 'telemetry'}: {printable(paths(profile).log)} "
                   "holds no readable events (it is damaged). Fix: delete it; it is written "
                   "again when events are sent", err=True)
        return
    if not records:
        click.echo(
            f"No events have been sent from this machine for {profile.label}.\n"
            f"Events are logged in {paths(profile).log} when they are actually sent; nothing is "
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


def _show_waiting(profile: AppProfile, waiting: list[dict], sent: list[dict]) -> None:
    from .render import make_console

    console = make_console()
    if sent:
        console.print(f"The last {len(sent)} events sent for {profile.label} (oldest first):")
        for record in sent:
            console.print_json(data=record)
    console.print(f"{len(waiting)} events waiting to be sent for {profile.label} (oldest first; "
                  "each also gets the platform and invocation contexts when it is sent):")
    for record in waiting:
        console.print_json(data=record)


def _drop_waiting(profile: AppProfile) -> None:
    """``disable`` (when it turns telemetry off) and ``reset``: nothing recorded before may go."""
    from .delivery_view import clear_waiting

    try:
        dropped = clear_waiting(profile)
    except OSError as exc:
        click.echo(f"telemetry: warning: events waiting to be sent could not all be deleted "
                   f"({exc.strerror or exc}); they are checked again before they are sent",
                   err=True)
        return
    if dropped:
        click.echo(f"Deleted {dropped:,} events that were waiting to be sent.")


def _upload(ctx, app, wait):
    from .delivery_view import upload

    profile = _profile(ctx, app)
    lines, _left = upload(profile, wait)
    for line in lines:
        click.echo(printable(line))


def _reset(ctx, app):
    from ..state import forget_anonymous_id, paths, read_anonymous_id

    profile = _profile(ctx, app)
    old = read_anonymous_id(profile)
    forget_anonymous_id(profile)
    # The local log holds the events sent under the old id: it goes too, or `telemetry log`
    # would keep showing the id the user just asked to forget.
    log = paths(profile).log
    try:
        os.unlink(log)
        cleared = " and the local log of the events sent with it"
    except FileNotFoundError:
        cleared = ""
    except OSError as exc:
        raise WriteError(f"{log}: could not be removed ({exc.strerror or exc}), so the events "
                         f"sent with the old anonymous id are still listed. Fix: make "
                         f"{os.path.dirname(log)} writable, or delete the file yourself") from exc
    _drop_waiting(profile)
    if old:
        click.echo(f"Forgot the anonymous id {old}{cleared}. A new one is made the next time an "
                   "event is sent.")
    else:
        also = " (the local log of sent events was cleared)" if cleared else ""
        click.echo(f"There was no anonymous id to forget{also}. One is made only when an event "
                   "is sent.")


def _collector_cmd(host: str | None, port: int, max_events: int, verbose: bool) -> None:
    from tracking.collector import Collector, StopSignals, bind_problem

    address = host or "127.0.0.1"
    # Signals are caught before binding: a Ctrl-C while starting stops as cleanly as later.
    with StopSignals() as signals:
        try:
            # Loopback unless the user names another address: a collector must not be reachable
            # from the network by accident.
            collector = Collector(address, port, max_events=max_events, verbose=verbose,
                                  allow_non_loopback=host is not None).start()
        except OSError as exc:
            raise ConsentError(f"the collector cannot start: {bind_problem(address, port, exc)}"
                               ) from exc
        try:
            url = collector.url
            click.echo(f"Snowplow collector listening on {url} (Ctrl-C to stop). "
                       f"Events: {url}/micro/ui (page), {url}/micro/all, /micro/good, /micro/bad",
                       err=True)
            signals.wait()
        finally:
            collector.stop()


def telemetry_group(profile: AppProfile | None = None, *, name: str = "telemetry",
                    host_flag: bool | None = None, edition: str | None = None) -> click.Group:
    """The command group, bound to ``profile`` (default: the built-in one).

    A click host mounts it with ``cli.add_command(telemetry_group(MY_PROFILE))``.
    """

    app_option = _app_option(profile)

    @click.group(name=name, context_settings={"help_option_names": ["-h", "--help"]},
                 invoke_without_command=True, epilog=EXIT_CODES_HELP)
    @click.version_option(package_name="telemetry-consent", prog_name="telemetry-consent",
                          message="%(prog)s %(version)s")
    @app_option
    @click.pass_context
    @_one_line_errors
    def group(ctx: click.Context, app: str | None) -> None:
        """See and change whether anonymous usage statistics are sent, and why."""
        ctx.obj = Binding(profile, host_flag, edition, app)
        if app:
            get_profile(app)  # unknown apps fail here, once, with the list of known ones
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    @group.command()
    @app_option
    @click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
    @click.option("--expect", type=click.Choice(["on", "off"]), default=None,
                  help="Exit 1 when the decision is not this (for CI guards).")
    @click.pass_context
    @_one_line_errors
    def status(ctx, app, as_json, expect):
        """Whether tracking is on, which setting decides, and how to change it."""
        _status(ctx, app, as_json, expect)

    @group.command()
    @app_option
    @_scope_options
    @click.pass_context
    @_one_line_errors
    def disable(ctx, app, project, global_):
        """Opt out of anonymous usage statistics."""
        _change(ctx, app, False, _scope(project, global_))

    @group.command()
    @app_option
    @_scope_options
    @click.pass_context
    @_one_line_errors
    def enable(ctx, app, project, global_):
        """Opt back in to anonymous usage statistics."""
        _change(ctx, app, True, _scope(project, global_))

    @group.command()
    @app_option
    @click.pass_context
    @_one_line_errors
    def reset(ctx, app):
        """Forget the anonymous id; a new one is made at the next tracked run."""
        _reset(ctx, app)

    @group.command()
    @app_option
    @click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
    @click.pass_context
    @_one_line_errors
    def events(ctx, app, as_json):
        """Every event and context that may be sent: fields, types, examples."""
        _events(ctx, app, as_json)

    @group.command()
    @app_option
    @click.option("-n", "--last", type=click.IntRange(1, 10_000), default=20, show_default=True,
                  help="How many of the newest events to show.")
    @click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
    @click.pass_context
    @_one_line_errors
    def log(ctx, app, last, as_json):
        """The last events actually sent from this machine."""
        _log(ctx, app, last, as_json)

    @group.command()
    @_app_option(profile)
    @click.option("--wait", type=click.FloatRange(0, 600), default=10.0, show_default=True,
                  metavar="SECONDS", help="Wait at most this long for the collector.")
    @click.pass_context
    @_one_line_errors
    def upload(ctx, app, wait):
        """Send the events waiting on this machine now (e.g. as the last step of a CI job)."""
        _upload(ctx, app, wait)

    @group.command()
    @click.option("--host", default=None, metavar="ADDRESS",
                  help="Address to bind (default 127.0.0.1; anything else only when given).")
    @click.option("--port", type=click.IntRange(0, 65535), default=9090, show_default=True,
                  help="Port to listen on (0 picks a free one).")
    @click.option("--max-events", type=click.IntRange(min=1), default=100_000, show_default=True,
                  help="Good and bad events kept, each; older ones are evicted and counted.")
    @click.option("--verbose", is_flag=True, help="One line per request on stderr.")
    @_one_line_errors
    def collector(host, port, max_events, verbose):
        """Run a local Snowplow collector that validates events (for development and tests)."""
        _collector_cmd(host, port, max_events, verbose)

    @group.command()
    @click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
    @click.pass_context
    def completion(ctx, shell):
        """Print the shell completion script (eval it in your shell's rc file)."""
        from click.shell_completion import get_completion_class

        root = ctx.find_root()
        prog = root.info_name or name
        cls = get_completion_class(shell)
        var = f"_{prog.replace('-', '_').upper()}_COMPLETE"
        click.echo(cls(root.command, {}, prog, var).source())

    return group


def run(argv: Sequence[str] | None = None, *, profile: AppProfile | None = None,
        prog_name: str = "telemetry", host_flag: bool | None = None,
        edition: str | None = None) -> int:
    """Run the CLI and return its exit code; never raises, never prints a traceback."""
    group = telemetry_group(profile, name=prog_name, host_flag=host_flag, edition=edition)
    args = list(sys.argv[1:] if argv is None else argv)
    _degrade_on_legacy_terminals()
    try:
        result = group.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.UsageError as exc:
        if type(exc).__name__.startswith("NoArgsIsHelp") and exc.ctx is not None:
            click.echo(exc.ctx.get_help())  # bare `telemetry`: help, like any CLI
            return EXIT_OK
        hint = f"{exc.ctx.command_path} --help" if exc.ctx else f"{prog_name} --help"
        message = " ".join(exc.format_message().split())  # click's choice lists span lines
        click.echo(f"{prog_name}: error: {message}", err=True)
        click.echo(f"  see: {hint}", err=True)
        return EXIT_USAGE
    except click.Abort:
        click.echo(f"{prog_name}: aborted", err=True)
        return 130
    except ConsentError as exc:
        _report(prog_name, exc)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"{prog_name}: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug must still be one line, not a traceback
        click.echo(f"{prog_name}: internal error: {type(exc).__name__}: {printable(str(exc))}. "
                   f"Please report it; set {TRACEBACK_ENV}=1 to see where.", err=True)
        if os.environ.get(TRACEBACK_ENV):
            raise
        return EXIT_USAGE
    return result if isinstance(result, int) else EXIT_OK


def _degrade_on_legacy_terminals() -> None:
    """On a terminal that cannot encode '—' or box lines (ascii, latin-1), print '?' instead of
    dying; rich already switches its tables to ASCII boxes there."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):  # pragma: no cover - a closed or odd stream
                pass


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
