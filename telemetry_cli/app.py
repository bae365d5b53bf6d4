"""The ``telemetry`` command group, how a host mounts it, and the console script.

``telemetry_group(profile)`` is the click group a host mounts under its own CLI
(``cli.add_command(telemetry_group(MY_PROFILE), "telemetry")``); :func:`run` runs it with any
parser (it returns the exit code, never raises, never prints a traceback); :func:`main` is the
``telemetry`` console script. Every decision is made in ``consent``, every event handled in
``tracking``: this package parses and renders.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

import click

from consent import AppProfile, ConsentError, get_profile
from consent.values import printable
from tracking import TrackingError

from ._base import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_USAGE,
    TRACEBACK_ENV,
    Binding,
    TelemetryGroup,
    app_option,
    exit_code_of,
    one_line_errors,
    report,
)
from .commands import COMMANDS

__all__ = ["main", "run", "telemetry_group"]


def telemetry_group(
    profile: AppProfile | None = None,
    *,
    name: str = "telemetry",
    host_flag: bool | None = None,
    edition: str | None = None,
) -> click.Group:
    """The command group, bound to ``profile`` (default: the built-in one).

    A click host mounts it with ``cli.add_command(telemetry_group(MY_PROFILE))``; ``host_flag``
    and ``edition`` are what the host would pass to its own tracker, so that ``status`` shows the
    decision the host makes.
    """

    @click.group(
        name=name,
        cls=TelemetryGroup,
        binding=Binding(profile, host_flag, edition),
        context_settings={"help_option_names": ["-h", "--help"]},
        invoke_without_command=True,
        epilog=EXIT_CODES_HELP,
    )
    @click.version_option(
        package_name="telemetry-consent",
        prog_name="telemetry-consent",
        message="%(prog)s %(version)s",
    )
    @app_option
    @click.pass_context
    @one_line_errors
    def group(ctx: click.Context, app: str | None) -> None:
        """See and change whether anonymous usage statistics are sent, and why."""
        if app:
            get_profile(app)  # unknown apps fail here, once, with the list of known ones
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    for command in COMMANDS:
        group.add_command(command)
    return group


def run(
    argv: Sequence[str] | None = None,
    *,
    profile: AppProfile | None = None,
    prog_name: str = "telemetry",
    host_flag: bool | None = None,
    edition: str | None = None,
) -> int:
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
    except (ConsentError, TrackingError) as exc:
        report(prog_name, exc)
        return exit_code_of(exc)
    except click.ClickException as exc:
        click.echo(f"{prog_name}: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        click.echo(
            f"{prog_name}: internal error: {type(exc).__name__}: {printable(str(exc))}. "
            f"Please report it; set {TRACEBACK_ENV}=1 to see where.",
            err=True,
        )
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
            # a closed or odd stream keeps its errors setting
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="replace")


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
